"""Shared arithmetic of allocations: validation, exact survivor counts, integer apportionment.

Every allocation ends in integer keep counts per layer, so the overall sparsity hits the
target exactly: ``survivors = floor(N * (1 - sparsity) + 0.5)`` weights are kept in total.
"""

import math

import numpy as np

from tfprune._validate import check_sparsity  # noqa: F401  (re-exported: allocations check with it)


def check_weights(weights, need_values=True):
    """Validate a {key: array} mapping; return {key: np.ndarray} (or shapes only)."""
    if not weights:
        raise ValueError("weights: the model has no prunable weights (Dense, Conv, SeparableConv, Embedding)")
    out = {}
    for key, value in weights.items():
        array = np.asarray(value) if need_values else value
        if need_values and not np.all(np.isfinite(array)):
            raise ValueError(f"weights[{key!r}] holds non-finite values (NaN or inf); cannot rank them")
        if int(np.prod(array.shape)) == 0:
            raise ValueError(f"weights[{key!r}] is empty (shape {tuple(array.shape)})")
        out[key] = array
    return out


def sizes_of(weights):
    """{key: number of entries} of {key: array, tf.Variable or anything with a ``shape``}."""
    return {k: int(np.prod(tuple(w.shape))) for k, w in weights.items()}


def alive_of(weights, keep_total):
    """{key: entries still alive} -- the non-zeros of arrays that were pruned before, so that an
    allocation called again during pruning spreads the next cut over the surviving weights (as
    the LAMP paper's code does at every round); every entry for unpruned or shape-only weights,
    and when the survivors are fewer than ``keep_total`` (masks are never grown back)."""
    sizes = sizes_of(weights)
    if not all(isinstance(w, np.ndarray) for w in weights.values()):
        return sizes
    alive = {k: int(np.count_nonzero(w)) for k, w in weights.items()}
    return alive if sum(alive.values()) >= keep_total else sizes


def survivors(total, sparsity):
    """Number of weights kept out of ``total`` at ``sparsity`` (round half up)."""
    return int(math.floor(total * (1.0 - sparsity) + 0.5))


def apportion(targets, total, lower=None, upper=None):
    """Integer counts close to the float ``targets`` that add up to ``total`` exactly.

    Largest-remainder rounding: every count is floor or ceil of its target, clipped to
    [lower, upper] per layer. Ties go to the earlier layer.
    """
    keys = list(targets)
    t = np.array([targets[k] for k in keys], dtype=np.float64)
    lo = np.array([(lower or {}).get(k, 0) for k in keys], dtype=np.int64)
    hi = np.array([upper[k] for k in keys], dtype=np.int64)
    counts = np.clip(np.floor(t + 1e-9).astype(np.int64), lo, hi)
    remainder = t - counts
    short = total - int(counts.sum())
    order = sorted(range(len(keys)), key=lambda i: (-remainder[i], i))
    step = 1 if short > 0 else -1
    while short != 0:
        moved = False
        for i in order if step > 0 else order[::-1]:
            if short == 0:
                break
            if lo[i] <= counts[i] + step <= hi[i]:
                counts[i] += step
                short -= step
                moved = True
        if not moved:
            raise ValueError(f"cannot keep exactly {total} weights within the per-layer limits")
    return dict(zip(keys, (int(c) for c in counts)))


def to_sparsity(keep, sizes):
    """{key: sparsity} from integer keep counts."""
    return {k: 1.0 - keep[k] / sizes[k] for k in keep}
