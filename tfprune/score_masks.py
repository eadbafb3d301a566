"""From scores to masks with an exact survivor count, and the collapse guard.

:func:`select_masks` turns ``{key: scores}`` into ``{key: 0/1 mask}``:

* ``allocation="global"``: one ranking over all prunable weights; exactly
  ``survivors = floor(N * (1 - sparsity) + 0.5)`` weights are kept; ties at the threshold go to
  the earlier layer, then the earlier position (row-major) -- the core's tie rule.
* any other allocation of :data:`tfprune.allocation.ALLOCATIONS` (or a function): the
  allocation decides the per-weight counts -- shape-only ones (``uses_values=False``) from the
  shapes, the others (``lamp``, custom functions) from the scores treated as magnitudes (made
  non-negative by subtracting their minimum when some are negative, an order-preserving shift)
  -- and each weight keeps its top-k scores (:func:`tfprune.masks.top_k_mask`).
* ``prune_largest`` (GraSP) ranks ``-score``.

Collapse guard (``min_per_layer``, ``min_per_unit``): before ranking, every prunable weight
reserves its ``min_per_layer`` best entries (all of them if it has fewer), and every output unit
(Dense column / conv output channel; not Embedding) reserves its ``min_per_unit`` best incoming
weights. The reserved weights count towards the exact total; the rest of the budget is ranked as
usual (global: one ranking over the unreserved weights; per-layer allocations: a weight whose
count is below its reservation is raised to it, and the surplus is taken one entry at a time
from the weight with the most unreserved survivors). If the reservations alone exceed the
budget, a ValueError says so. ``min_per_layer=1`` prevents empty layers but not every
disconnection (the one weight left may feed a dead unit): :func:`tfprune.collapse.collapse_report`
checks the actual connectivity.
"""

from __future__ import annotations

import typing
from typing import Any, Callable, Mapping

import numpy as np

from tfprune import allocation as allocations
from tfprune import masks as masks_mod
from tfprune._validate import check_int, check_sparsity
from tfprune.allocation import budget


def _reserve(priority, min_per_layer, min_per_unit, axis):
    """Boolean mask of the weights the collapse guard keeps in one layer."""
    reserved = np.zeros(priority.shape, bool)
    if min_per_layer:
        reserved |= masks_mod.top_k_mask(priority, min(min_per_layer, priority.size)) > 0
    if min_per_unit and axis is not None and priority.ndim >= 2:
        moved = np.moveaxis(priority, axis, -1)
        columns = moved.reshape(-1, moved.shape[-1])
        take = min(min_per_unit, columns.shape[0])
        order = np.argsort(-columns, axis=0, kind="stable")[:take]
        chosen = np.zeros(columns.shape, bool)
        np.put_along_axis(chosen, order, True, axis=0)
        reserved |= np.moveaxis(chosen.reshape(moved.shape), -1, axis)
    return reserved


def _global_fill(priority, reserved, keys, count):
    """{key: bool} choosing ``count`` unreserved entries over ``keys`` by one ranking."""
    flat = np.concatenate([np.where(reserved[k], -np.inf, priority[k]).reshape(-1) for k in keys])
    available = int(sum(priority[k].size - reserved[k].sum() for k in keys))
    chosen = np.zeros(flat.size, bool)
    if count > available:
        raise ValueError(f"cannot keep {count} more weights: only {available} are left unreserved")
    if count > 0:
        kth = np.partition(flat, flat.size - count)[flat.size - count]
        above = flat > kth
        chosen[above] = True
        ties = np.flatnonzero(flat == kth)[: count - int(above.sum())]
        chosen[ties] = True
    out, offset = {}, 0
    for k in keys:
        n = priority[k].size
        out[k] = chosen[offset:offset + n].reshape(priority[k].shape)
        offset += n
    return out


def _layer_fill(priority, reserved, count):
    extra = count - int(reserved.sum())
    return reserved | (masks_mod.top_k_mask(np.where(reserved, -np.inf, priority), extra) > 0)


def _magnitudes(priority):
    low = min(float(p.min()) for p in priority.values())
    return {k: p - low for k, p in priority.items()} if low < 0 else dict(priority)


class _Shape(typing.NamedTuple):
    """What a shape-only allocation is given: a weight's shape and nothing else."""

    shape: tuple


def _fixed_counts(allocation, priority, sparsity, overrides):
    """Per-layer counts: all layers for a per-layer allocation, only the overridden ones for global."""
    sizes = {k: p.size for k, p in priority.items()}
    if allocation == "global":
        if not overrides:
            return {}
        per_layer = allocations.allocate("global", _magnitudes(priority), sparsity, overrides)
        fixed = {allocations.override_key(name, list(priority)) for name in overrides}
        return {k: masks_mod.keep_counts({k: per_layer[k]}, sizes)[k] for k in priority if k in fixed}
    if allocations.entry(allocation).uses_values:
        values = _magnitudes(priority)
    else:  # shapes only: a zero score is not a weight pruned before
        values = {k: _Shape(p.shape) for k, p in priority.items()}
    per_layer = allocations.allocate(allocation, values, sparsity, overrides)
    return masks_mod.keep_counts(per_layer, sizes)


def select_masks(scores: Mapping[str, Any], sparsity: float, allocation: str | Callable = "global", *,
                 prune_largest: bool = False, overrides: Mapping[str, float] | None = None,
                 min_per_layer: int = 0, min_per_unit: int = 0,
                 output_axes: Mapping[str, int | None] | None = None) -> dict[str, np.ndarray]:
    """Masks ``{key: float32 0/1}`` keeping exactly ``survivors(N, sparsity)`` weights.

    Args:
      scores: ``{key: array}`` (any real values; ranked, never thresholded by value).
      sparsity: overall fraction removed, in [0, 1).
      allocation: "global" or any allocation of :data:`tfprune.ALLOCATIONS` (or a function).
      prune_largest: rank ``-scores`` (GraSP).
      overrides: {layer name or key: sparsity} fixed per layer.
      min_per_layer / min_per_unit: the collapse guard (see the module docstring).
      output_axes: {key: axis of output units or None}; default -1 for weights of rank >= 2.

    Example::

        masks = select_masks({"a/kernel": np.array([[3., 1.], [2., 0.]])}, 0.5)
        # {"a/kernel": [[1, 0], [1, 0]]}
    """
    sparsity = check_sparsity(sparsity)
    min_per_layer = check_int(min_per_layer, "min_per_layer", 0)
    min_per_unit = check_int(min_per_unit, "min_per_unit", 0)
    if allocation != "global":
        allocations.get(allocation)
    if not scores:
        raise ValueError("scores: empty; nothing to prune")
    sign = -1.0 if prune_largest else 1.0
    priority = {}
    for key, value in scores.items():
        array = np.asarray(value, np.float64)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"scores[{key!r}] holds non-finite values (NaN or inf); cannot rank them")
        if array.size == 0:
            raise ValueError(f"scores[{key!r}] is empty")
        priority[key] = sign * array
    keys = list(priority)
    total = sum(p.size for p in priority.values())
    keep_total = budget.survivors(total, sparsity)
    axes = {k: (output_axes or {}).get(k, -1 if priority[k].ndim >= 2 else None) for k in keys}
    reserved = {k: _reserve(priority[k], min_per_layer, min_per_unit, axes[k]) for k in keys}
    n_reserved = sum(int(r.sum()) for r in reserved.values())
    if n_reserved > keep_total:
        raise ValueError(
            f"min_per_layer={min_per_layer}, min_per_unit={min_per_unit}: the collapse guard reserves "
            f"{n_reserved} weights but sparsity={sparsity!r} keeps only {keep_total} of {total}"
        )
    fixed = _fixed_counts(allocation, priority, sparsity, overrides)
    fixed = {k: max(c, int(reserved[k].sum())) for k, c in fixed.items()}
    pool = [k for k in keys if k not in fixed]
    chosen = {}
    if pool:
        room = keep_total - sum(fixed.values()) - sum(int(reserved[k].sum()) for k in pool)
        if room < 0:
            raise ValueError(
                f"overrides={overrides!r}: with the collapse guard the fixed layers leave no room "
                f"for the other layers at sparsity={sparsity!r}"
            )
        fill = _global_fill(priority, reserved, pool, room)
        chosen.update({k: reserved[k] | fill[k] for k in pool})
    else:
        spare = np.array([fixed[k] - int(reserved[k].sum()) for k in keys], np.int64)
        counts = np.array([fixed[k] for k in keys], np.int64)
        for _ in range(int(counts.sum()) - keep_total):  # most unreserved survivors first, ties: earlier
            i = int(np.argmax(spare))
            counts[i] -= 1
            spare[i] -= 1
        fixed = dict(zip(keys, (int(c) for c in counts)))
    for k, count in fixed.items():
        chosen[k] = _layer_fill(priority[k], reserved[k], count)
    return {k: chosen[k].astype(np.float32) for k in keys}
