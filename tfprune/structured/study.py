"""How much pre-training is enough for greedy selection to find a good subnetwork?

Wolfe, Liao, et al., "How much pre-training is enough to discover a good subnetwork?"
(arXiv 2108.00259): for a two-layer network pre-trained with SGD for ``t`` iterations on ``m``
examples, greedy forward selection (Ye et al. 2020) finds a subnetwork of good *training* loss
once ``t`` is large enough, and the ``t`` needed grows like ``log m``.

:func:`pretraining_study` reproduces the curve: for every dataset size ``m`` it pre-trains one
two-layer network (same initialisation for all ``m``) and, at every checkpoint ``t``, selects
``keep`` hidden neurons greedily on the same ``m`` examples and records the subnetwork's training
loss. ``t*(m)`` is the first checkpoint where that loss is at most ``threshold``; a least-squares
line ``t* = a + b log m`` is fitted.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Sequence

import numpy as np

from tfprune import io
from tfprune._validate import check_int, is_real
from tfprune.structured.greedy import greedy, per_example_loss, train_steps

COLUMNS = ("m", "t", "dense_loss", "subnetwork_loss", "subnetwork_accuracy")


@dataclasses.dataclass
class StudyResult:
    """The table (one row per ``(m, t)``, :data:`COLUMNS`), ``t*`` per ``m``, the fitted
    ``(a, b)`` of ``t* = a + b log m`` (None with fewer than two finite ``t*``), the threshold and
    the files written."""

    rows: list
    threshold: float
    t_star: dict
    fit: tuple | None
    files: dict = dataclasses.field(default_factory=dict)

    def table(self) -> str:
        """The rows as CSV text."""
        lines = [",".join(COLUMNS)]
        lines += [",".join(f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c]) for c in COLUMNS) for r in self.rows]
        return "\n".join(lines) + "\n"


def two_layer(input_shape: tuple, classes: int, hidden: int, seed: int) -> Any:
    """Flatten -> Dense(hidden, relu) -> Dense(classes) logits, Glorot-initialised with ``seed``."""
    from tfprune.backend import keras

    init = keras.initializers.GlorotUniform(seed=seed)
    x = keras.Input(tuple(input_shape))
    h = keras.layers.Dense(hidden, activation="relu", kernel_initializer=init, name="hidden")(keras.layers.Flatten()(x))
    return keras.Model(x, keras.layers.Dense(classes, kernel_initializer=init, name="out")(h), name="two_layer")


def _loss_and_accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    out = model(x, training=False)
    loss = float(np.mean(per_example_loss("crossentropy")(y, out).numpy()))
    return loss, float(np.mean(np.argmax(out.numpy(), -1) == y))


def fit_log(t_star: dict) -> tuple | None:
    """Least-squares ``(a, b)`` of ``t = a + b log m`` over the finite ``t*`` (None if fewer than 2)."""
    points = [(math.log(m), t) for m, t in t_star.items() if t is not None]
    if len({p[0] for p in points}) < 2:
        return None
    b, a = np.polyfit([p[0] for p in points], [p[1] for p in points], 1)
    return float(a), float(b)


def pretraining_study(x: np.ndarray, y: np.ndarray, sizes: Sequence[int] = (250, 500, 1000, 2000),
                      checkpoints: Sequence[int] = (0, 25, 50, 100, 200, 400, 800), *, hidden: int = 256,
                      keep: int = 32, threshold: float | None = None, learning_rate: float = 0.05,
                      batch_size: int = 32, candidates: int = 50, seed: int = 0, output: str | None = None,
                      progress: bool = True, jit_compile: bool = True) -> StudyResult:
    """Subnetwork training loss vs pre-training iterations ``t`` for dataset sizes ``m`` (see module).

    Args:
      x, y: classification data (``y`` class indices); the first ``m`` rows of a seeded
        permutation form the size-``m`` training set.
      sizes, checkpoints: the ``m`` and the ``t`` (SGD iterations) studied.
      hidden, keep: hidden width of the two-layer network and neurons greedily selected.
      threshold: training loss defining ``t*``; default: the largest over ``m`` of the lowest
        subnetwork loss reached, so every ``m`` reaches it.
      learning_rate, batch_size: plain SGD for pre-training.
      candidates, seed, progress, jit_compile: as :func:`tfprune.structured.select`.
      output: folder for ``study.csv``, ``loss_vs_t.png`` and ``t_star_vs_m.png`` (None: none).
    """
    from tfprune.backend import keras

    x, y = np.asarray(x, np.float32), np.asarray(y)
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"x, y: need (N, ...) inputs and N labels, got shapes {x.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise ValueError(f"y: must hold class indices (integers >= 0), got dtype {y.dtype}"
                         + (f", smallest {y.min()}" if y.size and np.issubdtype(y.dtype, np.number) else ""))
    sizes = sorted({check_int(m, "sizes", minimum=2, maximum=len(x)) for m in sizes})
    checkpoints = sorted({check_int(t, "checkpoints", minimum=0) for t in checkpoints})
    for argument, values in (("sizes", sizes), ("checkpoints", checkpoints)):
        if not values:
            raise ValueError(f"{argument}=[]: give at least one value")
    check_int(hidden, "hidden", minimum=2)
    check_int(keep, "keep", minimum=1, maximum=hidden)
    check_int(batch_size, "batch_size", minimum=1)
    check_int(candidates, "candidates", minimum=1)
    check_int(seed, "seed", minimum=0)
    if threshold is not None and not (is_real(threshold) and 0 < threshold < math.inf):
        raise ValueError(f"threshold={threshold!r}: must be a positive finite number or None")
    if not (is_real(learning_rate) and 0 < learning_rate < math.inf):
        raise ValueError(f"learning_rate={learning_rate!r}: must be a positive finite number")
    if output is not None:
        io.check_folder(output, "output")
    order = np.random.default_rng(seed).permutation(len(x))
    classes = int(y.max()) + 1
    rows = []
    for m in sizes:
        xm, ym = x[order[:m]], y[order[:m]]
        model, rng, done = two_layer(x.shape[1:], classes, hidden, seed), np.random.default_rng(seed), 0
        opt = keras.optimizers.SGD(learning_rate)
        for t in checkpoints:
            train_steps(model, opt, xm, ym, t - done, batch_size, rng)
            done = t
            _, _, narrow = greedy(model, xm, ym, {"hidden": keep}, tolerance=None, candidates=candidates,
                               batch_size=min(128, m), subsample=m, seed=seed, progress=progress,
                               jit_compile=jit_compile)
            sub_loss, sub_acc = _loss_and_accuracy(narrow, xm, ym)
            rows.append({"m": m, "t": t, "dense_loss": _loss_and_accuracy(model, xm, ym)[0],
                         "subnetwork_loss": sub_loss, "subnetwork_accuracy": sub_acc})
    if threshold is None:
        threshold = max(min(r["subnetwork_loss"] for r in rows if r["m"] == m) for m in sizes)
    t_star = {m: next((r["t"] for r in rows if r["m"] == m and r["subnetwork_loss"] <= threshold), None)
              for m in sizes}
    result = StudyResult(rows, float(threshold), t_star, fit_log(t_star))
    if output is not None:
        result.files = write_study(result, output)
    return result


def write_study(result: StudyResult, output: str) -> dict:
    """``study.csv``, ``loss_vs_t.png`` and ``t_star_vs_m.png`` in folder ``output``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(output, exist_ok=True)
    files = {name: os.path.join(output, name) for name in ("study.csv", "loss_vs_t.png", "t_star_vs_m.png")}
    io.write_text(files["study.csv"], result.table())
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for m in sorted({r["m"] for r in result.rows}):
        mine = [r for r in result.rows if r["m"] == m]
        ax.plot([r["t"] for r in mine], [r["subnetwork_loss"] for r in mine], marker="o", label=f"m = {m}")
    ax.axhline(result.threshold, color="gray", linestyle="--", label="threshold")
    ax.set_xscale("symlog", linthresh=10)
    ax.set(xlim=(0, None), xlabel="pre-training SGD iterations t", ylabel="subnetwork training loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with io.atomic_path(files["loss_vs_t.png"]) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    found = {m: t for m, t in result.t_star.items() if t is not None}
    ax.plot(list(found), list(found.values()), "o", label="t* (first checkpoint under the threshold)")
    if result.fit is not None:
        grid = np.geomspace(min(found), max(found), 50)
        a, b = result.fit
        ax.plot(grid, a + b * np.log(grid), label=f"t* = {a:.0f} + {b:.0f} log m")
    ax.set(xscale="log", xlabel="dataset size m", ylabel="t*")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with io.atomic_path(files["t_star_vs_m.png"]) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return files
