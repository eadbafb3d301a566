"""Training functions for :func:`tfprune.diagnostics.sweep`, one per temperature-like parameter.

A training function is ``train(model, temperature, seed, phase)``: ``phase`` is ``"dense"`` (train
the dense model at ``temperature``) or ``"retrain"`` (retrain the pruned model; it must pass
``tfprune.callbacks(model)`` to ``fit``). :func:`make_trainer` builds one where the temperature
replaces one hyperparameter of the dense training (Zhou et al. 2023, section 3): ``"epochs"``,
``"learning_rate"``, ``"batch_size"`` or SAM's ``"rho"``. Retraining always uses the base
hyperparameters, as in the paper's official code (a fixed retraining recipe for every cell).
The seed fixes the initial weights of new layers, the order of the examples and dropout, so
the two retrainings of one mask differ only by their seed.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tfprune._validate import check_choice, check_int, is_real
from tfprune.backend import keras
from tfprune.diagnostics._batches import batches
from tfprune.diagnostics.sam import use_sam

#: Temperature kinds :func:`make_trainer` knows, with whether a larger value means a higher temperature.
KINDS = {"epochs": "more epochs", "learning_rate": "a larger learning rate",
         "batch_size": "a smaller batch (higher temperature)", "rho": "a larger SAM rho"}

PHASES = ("dense", "retrain")

Train = Callable[[Any, float, int, str], Any]


def _arrays(data: Any) -> tuple[np.ndarray, np.ndarray]:
    fixed = batches(data, "train_data")
    return np.concatenate([x for x, _ in fixed]), np.concatenate([y for _, y in fixed])


def check_temperature(kind: str, value: Any) -> float:
    """``value`` as a valid temperature of ``kind``; a ValueError naming both otherwise."""
    check_choice(kind, "kind", KINDS)
    if kind in ("epochs", "batch_size"):
        return check_int(value, f"temperature ({kind})", minimum=1)
    if not is_real(value) or not np.isfinite(value) or value < 0 or (kind == "learning_rate" and value == 0):
        allowed = "> 0" if kind == "learning_rate" else ">= 0"
        raise ValueError(f"temperature ({kind})={value!r}: must be a finite number {allowed}")
    return float(value)


def make_trainer(kind: str, train_data: Any, epochs: int = 10, learning_rate: float = 1e-3,
                 batch_size: int = 64, rho: float = 0.0, retrain_epochs: int = 10,
                 jit_compile: bool = False, verbose: int = 0) -> Train:
    """A ``train(model, temperature, seed, phase)`` for :func:`~tfprune.diagnostics.sweep`.

    Dense phase: Adam (or Adam + SAM when ``rho > 0``) on sparse categorical cross-entropy of
    logits for ``epochs`` epochs at ``learning_rate`` with ``batch_size``, the hyperparameter
    named by ``kind`` replaced by the temperature. Retrain phase: the same recipe with the base
    values for ``retrain_epochs`` epochs, with the pruning callbacks. With a constant learning
    rate, the dense model at ``epochs = T`` is the checkpoint at epoch T of one longer run (the
    official code's early-stopping temperature), since every run starts from the same weights
    and sees the examples in the same order.
    """
    check_choice(kind, "kind", KINDS)
    x, y = _arrays(train_data)
    base = {"epochs": check_int(epochs, "epochs", minimum=1),
            "learning_rate": check_temperature("learning_rate", learning_rate),
            "batch_size": check_int(batch_size, "batch_size", minimum=1),
            "rho": check_temperature("rho", rho)}
    retrain_epochs = check_int(retrain_epochs, "retrain_epochs", minimum=1)

    def train(model: Any, temperature: float, seed: int, phase: str) -> Any:
        from tfprune.pruning_callbacks import callbacks

        check_choice(phase, "phase", PHASES)
        settings = dict(base)
        if phase == "dense":
            settings[kind] = check_temperature(kind, temperature)
        else:
            settings["epochs"] = retrain_epochs
        keras.utils.set_random_seed(int(seed))
        model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=jit_compile)
        if settings["rho"] > 0:
            use_sam(model, settings["rho"])
        model.fit(x, y, epochs=int(settings["epochs"]), batch_size=int(settings["batch_size"]), shuffle=True,
                  verbose=verbose, callbacks=callbacks(model) if phase == "retrain" else None)
        return model

    train.kind = kind
    return train


def bn_model(input_shape: tuple, num_classes: int, seed: int = 0) -> Any:
    """The sweep's built-in model, with BatchNorm: a small CNN for images ``(h, w, c)`` (digits),
    an MLP for anything else (MNIST-1D); logits out. BatchNorm momentum 0.9 (PyTorch's default 0.1)."""
    init = keras.initializers.GlorotUniform(seed=seed)
    image = len(input_shape) == 3
    stack = [keras.Input(tuple(input_shape))] + ([] if image else [keras.layers.Flatten()])
    for width in ((32, 64) if image else (128, 64)):
        stack += [keras.layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer=init) if image
                  else keras.layers.Dense(width, use_bias=False, kernel_initializer=init),
                  keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU()]
        stack += [keras.layers.MaxPooling2D(2)] if image else []
    stack += ([keras.layers.Flatten()] if image else []) + [
        keras.layers.Dense(num_classes, kernel_initializer=init, name="logits")]
    return keras.Sequential(stack, name="regimes_bn_model")
