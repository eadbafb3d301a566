"""``select``: choose channels with a registered selector, cut the model, report what changed.

Reference: Ye et al., "Good subnetworks provably exist: pruning via greedy forward selection",
ICML 2020 (``greedy``); Li et al., ICLR 2017 (``l1``); ``random``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from tfprune._validate import check_examples, check_int, is_real
from tfprune.structured import graph
from tfprune.structured.counting import count_flops, count_params
from tfprune.structured.surgery import surgery


@dataclasses.dataclass
class SelectReport:
    """What :func:`select` did: per-group widths, parameters, FLOPs and accuracy before/after."""

    method: str
    width: float | None
    tolerance: float | None
    widths: dict
    params_before: int
    params_after: int
    flops_before: int
    flops_after: int
    accuracy_before: float | None
    accuracy_after: float | None
    accuracy_data: str
    seconds: float
    details: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    def format(self) -> str:
        """A short text table."""
        lines = [f"method {self.method}  width {self.width}  tolerance {self.tolerance}  ({self.seconds:.1f} s)",
                 f"{'group':<24}{'before':>8}{'after':>8}"]
        lines += [f"{name:<24}{w['before']:>8}{w['after']:>8}" for name, w in self.widths.items()]
        lines.append(f"params {self.params_before} -> {self.params_after}   "
                     f"FLOPs {self.flops_before} -> {self.flops_after}")
        if self.accuracy_before is not None:
            lines.append(f"accuracy ({self.accuracy_data}) {self.accuracy_before:.4f} -> {self.accuracy_after:.4f}")
        return "\n".join(lines)


def _arrays(data: Any, model: Any) -> tuple[tuple, tuple, str]:
    """(train x, y), (evaluation x, y) and the evaluation split's name from Splits or an (x, y) pair;
    a clear error unless every x fits ``model`` and every y holds its class indices."""
    if hasattr(data, "numpy") and hasattr(data, "num_classes"):
        splits = {"train": data.numpy("train"), "test": data.numpy("test")}
        found = splits["train"], splits["test"], "test"
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = np.asarray(data[0]), np.asarray(data[1])
        splits = {"selection data": (x, y)}
        found = (x, y), (x, y), "selection data"
    else:
        raise TypeError(f"data={type(data).__name__}: expected tfprune.data.Splits or an (x, y) pair of arrays")
    for name, (x, y) in splits.items():
        check_examples(model, x, y, f"select, {name}", one_hot=False)
    (x, y), (ex, ey), split = found
    return (np.asarray(x, np.float32), y), (np.asarray(ex, np.float32), ey), split


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Top-1 accuracy of a logits/probabilities model on ``(x, y)``."""
    predicted = np.argmax(model.predict(x, batch_size=batch_size, verbose=0), axis=-1)
    return float(np.mean(predicted == np.asarray(y).reshape(predicted.shape)))


def _check_fraction(value: Any, argument: str, low_open: bool) -> float | None:
    if value is None:
        return None
    ok = is_real(value) and (0 < value <= 1 if low_open else 0 <= value <= 1)
    if not ok:
        allowed = "a number in (0, 1] (the fraction of channels kept)" if low_open else "a number in [0, 1]"
        raise ValueError(f"{argument}={value!r}: must be {allowed} or None")
    return float(value)


def _keep_counts(model: Any, layers: Any, width: float | None) -> dict:
    groups = {n: g for n, g in graph.channel_groups(model).items() if g.prunable}
    if layers is None:
        names = list(groups)
    elif isinstance(layers, str) or not all(isinstance(n, str) for n in layers):
        raise TypeError(f"layers={layers!r}: expected a list of group names from {list(groups)}")
    else:
        names = list(layers)
        unknown = [n for n in names if n not in groups]
        if unknown:
            raise ValueError(f"layers={layers!r}: {unknown} are not prunable channel groups; "
                             f"choose from {list(groups)}")
    if not names:
        raise ValueError("model: no prunable channel group (every Dense/Conv output reaches an output or an "
                         "unsupported layer)")
    return {n: None if width is None else max(1, int(round(width * groups[n].width))) for n in names}


def check_arguments(method: str, width: float | None, tolerance: float | None,
                    options: dict) -> tuple[Any, float | None, float | None]:
    """The selector's entry, ``width`` and ``tolerance`` (0.02 for greedy when neither is given);
    a clear error for a bad combination. Cheap: the command line calls it before any training."""
    from tfprune.structured import SELECTORS

    entry = SELECTORS.get(method)
    width = _check_fraction(width, "width", low_open=True)
    tolerance = _check_fraction(tolerance, "tolerance", low_open=False)
    if tolerance is not None and not entry.tolerance:
        raise ValueError(f"tolerance={tolerance!r}: method={method!r} has no stopping rule; give width instead")
    if width is None and tolerance is None:
        if not entry.tolerance:
            raise ValueError(f"width=None: method={method!r} needs width (the fraction of channels kept)")
        tolerance = 0.02
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        raise TypeError(f"{unknown}: not options of method={method!r}; its options are {list(entry.options)}")
    return entry, width, tolerance


def select(model: Any, data: Any, method: str = "greedy", *, width: float | None = None,
           tolerance: float | None = None, layers: list | None = None, seed: int = 0, progress: bool = True,
           finetune_epochs: int = 0, **options: Any) -> tuple[Any, SelectReport]:
    """Select channels of ``model`` with ``method`` (a name in :data:`SELECTORS`) and cut them out.

    Args:
      model: a flat Functional or Sequential tf_keras classifier (logits or probabilities).
      data: ``tfprune.data.Splits`` (select on train, report test accuracy) or an ``(x, y)`` pair.
      method: ``"greedy"``, ``"l1"``, ``"random"`` or any registered selector.
      width: fraction of each group's channels kept, in (0, 1] (a cap for greedy).
      tolerance: greedy only: stop a layer once subsample accuracy is within this of the unpruned
        model's (default 0.02 when ``width`` is not given).
      layers: group names to prune (default: every prunable group, see ``channel_groups``).
      seed, progress: randomness; tqdm bars (``progress=False`` hides them).
      finetune_epochs: Adam epochs on the training data after the cut (0: none).
      options: selector options (greedy: ``candidates``, ``batch_size``, ``subsample``, ``loss``, ``max_steps``,
        ``repeats``, ``jit_compile``, ``finetune_steps`` and ``learning_rate`` between layers).

    Returns:
      ``(narrow model, SelectReport)``; ``model`` is not modified.

    Example::

        small, report = tfprune.structured.select(model, tfprune.data.load("digits"), "l1", width=0.5)
    """
    entry, width, tolerance = check_arguments(method, width, tolerance, options)
    check_int(seed, "seed", minimum=0)
    check_int(finetune_epochs, "finetune_epochs", minimum=0)
    keep = _keep_counts(model, layers, width)
    (x, y), (ex, ey), split = _arrays(data, model)
    before = {n: graph.channel_groups(model)[n].width for n in keep}

    start = time.perf_counter()
    found = entry.load()(model, x, y, keep, tolerance=tolerance, seed=seed, progress=progress, **options)
    chosen, details = found[:2]
    small = found[2] if len(found) > 2 else surgery(model, chosen)
    seconds = time.perf_counter() - start
    if finetune_epochs:
        _finetune(small, x, y, finetune_epochs, seed, progress)
    classify = options.get("loss", "crossentropy") == "crossentropy"
    report = SelectReport(
        method=entry.name, width=width, tolerance=tolerance,
        widths={n: {"before": before[n], "after": len(chosen[n])} for n in keep},
        params_before=count_params(model), params_after=count_params(small),
        flops_before=count_flops(model), flops_after=count_flops(small),
        accuracy_before=accuracy(model, ex, ey) if classify else None,
        accuracy_after=accuracy(small, ex, ey) if classify else None,
        accuracy_data=split, seconds=seconds, details=details)
    return small, report


def _finetune(model: Any, x: np.ndarray, y: np.ndarray, epochs: int, seed: int, progress: bool) -> None:
    from tfprune.backend import keras, tf

    tf.random.set_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=1 if progress else 0)
