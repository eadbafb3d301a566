"""The model zoo: the models tfprune is checked on, and the steps run on each.

Shared by ``tests/test_zoo.py`` (which asserts exact results) and ``benchmarks/zoo_table.py``
(which writes the support table in docs/models.md). Every model is built with ``weights=None``,
small inputs and 10 classes, so the whole zoo runs on a laptop CPU.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable

import numpy as np

import tfprune
from tfprune.backend import keras, tfmot
from tfprune.schedules import OneShot

SPARSITY = 0.9
ALLOCATIONS = ("lamp", "erk", "uniform")
CLASSES = 10
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@dataclasses.dataclass(frozen=True)
class Case:
    """One model of the zoo and which of the costlier steps it runs.

    ``fit``: train a few steps, with each ``jit_compile`` value listed; ``export``: convert to
    TFLite and verify; ``at_init``: prune at initialisation with SynFlow and SNIP; ``skip_export``: why the model
    is not exported (None when it is, or when export is left out only for time); ``wrap_each``:
    wrap the model once per allocation (False for the large models: only LAMP wraps it, ERK and
    uniform go through the calls of ``prune``'s one-shot path on the same weights, see
    :func:`one_shot_totals`).
    """

    name: str
    build: Callable[[], Any]
    source: str
    fit: tuple = ()
    export: bool = False
    at_init: bool = False
    skip_export: str | None = None
    wrap_each: bool = True

    def model(self):
        """The case's model, with seeded weights."""
        keras.utils.set_random_seed(0)
        return self.build()


def _application(name, size, **options):
    def build():
        return getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3), classes=CLASSES,
                                                 classifier_activation=None, **options)

    build.__name__ = name
    return build


def application(name, size=32, **options):
    """A tf_keras.applications case (``options``: the Case's flags and the model's options)."""
    flags = {k: options.pop(k) for k in ("fit", "export") if k in options}
    return Case(name, _application(name, size, **options), f"tf_keras.applications, {size}x{size}",
                skip_export=None if flags.get("export") else SLOW, wrap_each=False, **flags)


def transformer_block():
    """A Transformer encoder block: self-attention and a feed-forward network, each with a
    residual connection and LayerNormalization."""
    i = keras.Input((8, 16))
    a = keras.layers.MultiHeadAttention(2, 8, name="mha")(i, i)
    x = keras.layers.LayerNormalization(name="ln1")(keras.layers.Add()([i, a]))
    f = keras.layers.Dense(32, activation="relu", name="ffn1")(x)
    f = keras.layers.Dense(16, name="ffn2")(f)
    x = keras.layers.LayerNormalization(name="ln2")(keras.layers.Add()([x, f]))
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(i, keras.layers.Dense(CLASSES, name="logits")(x))


def recurrent(layer, unroll=False):
    """``layer`` ("LSTM" or "GRU") of 8 units over 6 steps, then the head; ``unroll=True`` makes
    it convertible to TFLite builtin ops."""

    def build():
        i = keras.Input((6, 5))
        x = getattr(keras.layers, layer)(8, unroll=unroll, name=layer.lower())(i)
        return keras.Model(i, keras.layers.Dense(CLASSES, name="logits")(x))

    build.__name__ = layer.lower()
    return build


def conv1d():
    i = keras.Input((16, 4))
    x = keras.layers.Conv1D(8, 3, activation="relu", name="conv")(i)
    x = keras.layers.GlobalMaxPooling1D()(x)
    return keras.Model(i, keras.layers.Dense(CLASSES, name="logits")(x))


def conv2d_transpose():
    i = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down")(i)
    x = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", name="up")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(i, keras.layers.Dense(CLASSES, name="logits")(x))


def separable_depthwise():
    i = keras.Input((12, 12, 3))
    x = keras.layers.SeparableConv2D(8, 3, activation="relu", name="sep")(i)
    x = keras.layers.DepthwiseConv2D(3, name="dw")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, keras.layers.Dense(CLASSES, name="logits")(x))


def nested_sequential():
    """A Sequential block called inside a Functional model."""
    block = keras.Sequential([keras.layers.Dense(16, activation="relu", name="inner1"),
                              keras.layers.Dense(16, activation="relu", name="inner2")], name="block")
    i = keras.Input((12,))
    x = keras.layers.Dense(16, activation="relu", name="first")(i)
    return keras.Model(i, keras.layers.Dense(CLASSES, name="logits")(block(x)))


def shared_layer():
    """One Dense layer applied twice: its kernel is one weight, used twice per step."""
    shared = keras.layers.Dense(16, activation="relu", name="shared")
    i = keras.Input((12,))
    x = keras.layers.Dense(16, activation="relu", name="first")(i)
    return keras.Model(i, keras.layers.Dense(CLASSES, name="logits")(shared(shared(x))))


RNN_EXPORT = ("a recurrent layer without unroll=True needs Select TF ops, which tfprune does not use; "
              "test_recurrent_* export the model with and without unroll")
BOTH = (False, True)
SLOW = "left out for time (large model): its layer types are exported in the cheaper cases"

CASES = [
    application("ResNet50"),
    application("MobileNetV2"),
    application("MobileNetV3Small", include_preprocessing=True, fit=(False,), export=True),
    application("EfficientNetB0"),
    application("DenseNet121"),
    application("Xception", 71),
    application("NASNetMobile"),
    application("ConvNeXtTiny", include_preprocessing=True),
    Case("transformer", transformer_block, "MultiHeadAttention + LayerNorm + FFN", fit=BOTH, export=True,
         at_init=True),
    Case("lstm", recurrent("LSTM"), "LSTM(8) + Dense", fit=BOTH, at_init=True, skip_export=RNN_EXPORT),
    Case("gru", recurrent("GRU"), "GRU(8) + Dense", fit=BOTH, skip_export=RNN_EXPORT),
    Case("conv1d", conv1d, "Conv1D + Dense", fit=BOTH, export=True, at_init=True),
    Case("conv2d_transpose", conv2d_transpose, "Conv2D + Conv2DTranspose + Dense", fit=BOTH, export=True),
    Case("separable_depthwise", separable_depthwise, "SeparableConv2D + DepthwiseConv2D + BN", fit=BOTH,
         export=True, at_init=True),
    Case("nested_sequential", nested_sequential, "Sequential inside Functional", fit=BOTH, export=True,
         at_init=True),
    Case("shared_layer", shared_layer, "one Dense called twice", fit=BOTH, export=True),
]
BY_NAME = {case.name: case for case in CASES}


def inputs(model, n=2, seed=0):
    """``n`` inputs for ``model`` (N(0, 1) floats) and integer labels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *model.input_shape[1:])).astype("float32")
    return x, np.arange(n) % CLASSES


def totals(model):
    """``(prunable params, non-zeros)`` over all prunable weights, as used (masked when wrapped)."""
    total = tfprune.sparsity_summary(model)["total"]
    return total["params"], total["nonzeros"]


def dense_types(model):
    """The layer types left dense (no weight pruned)."""
    return sorted({d["type"] for d in tfprune.layers.dense_layers(model)})


def fit(pruned, jit_compile, batches=2, batch_size=2):
    """Train ``pruned`` on ``batches`` random batches; returns the model."""
    x, y = inputs(pruned, batches * batch_size)
    pruned.compile(keras.optimizers.SGD(0.1), LOSS, jit_compile=jit_compile)
    pruned.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False, callbacks=tfprune.callbacks(pruned))
    return pruned


def fresh_pruned(model, allocation="lamp"):
    """``model`` pruned one-shot to :data:`SPARSITY` (a new model; ``model`` is not modified)."""
    return tfprune.prune(model, schedule=OneShot(SPARSITY), allocation=allocation)


def one_shot_totals(model, allocation):
    """``(params, non-zeros)`` of the one-shot masks ``tfprune.prune`` would set with ``allocation``
    on ``model`` (unwrapped): its calls ``tfprune.allocate`` then ``masks.magnitude_masks`` on the
    same weights, without cloning and wrapping the model."""
    weights = tfprune.layers.prunable_weights(model)
    masks = tfprune.masks.magnitude_masks(weights, tfprune.allocate(allocation, weights, SPARSITY))
    return sum(m.size for m in masks.values()), int(sum(m.sum() for m in masks.values()))


def strip_error(pruned, x):
    """max |stripped - wrapped| on ``x`` (inference mode)."""
    stripped = tfprune.strip(pruned)
    return float(np.max(np.abs(stripped(x, training=False).numpy() - pruned(x, training=False).numpy())))


def export(pruned, folder):
    """Export ``pruned`` with verification into ``folder``; the :class:`ExportResult`."""
    from tfprune.export import to_tflite

    x, _ = inputs(pruned, 4, seed=1)
    return to_tflite(pruned, os.path.join(folder, "model.tflite"), verify_data=x, dense_reference=False)


#: SynFlow's options in the zoo: 5 iterations, no XLA (time).
SYNFLOW_OPTIONS = {"iterations": 5, "jit_compile": False}


def at_init(model, score):
    """``prune_at_init`` to :data:`SPARSITY` with ``score`` ("synflow": 5 iterations, no XLA)."""
    options = SYNFLOW_OPTIONS if score == "synflow" else None
    data = inputs(model, CLASSES) if score == "snip" else None
    pruned, _ = tfprune.prune_at_init(model, SPARSITY, score=score, data=data, score_options=options, warn=False)
    return pruned


def tfmot_result(model):
    """Plain TF-MOT on the whole model: "accepts", or "refuses <layer type>" (the first it rejects)."""
    try:
        tfmot.sparsity.keras.prune_low_magnitude(
            model, pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(SPARSITY, 0))
    except ValueError as e:
        found = re.search(r"You passed: <class '[\w.]*?(\w+)'>", str(e))
        return "refuses " + (found.group(1) if found else str(e).splitlines()[0][:80])
    return "accepts"
