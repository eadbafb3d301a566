"""Masks: exact top-k masks, and the one place masks are written into a wrapped model.

A mask is 1 where a weight survives. Ties at the k-th score are broken by position
(row-major order: the earlier entry survives), so exactly ``keep`` weights survive.
:func:`apply_masks` is how every tfprune path sets masks: one-shot pruning, pruning at
initialisation, and users who choose masks themselves (``tfprune.set_masks``). Gradual and
iterative schedules then update them in the graph, through TF-MOT's magnitude rule.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from tfprune import layers, mask_storage
from tfprune.allocation import budget


def top_k_mask(scores: Any, keep: int) -> np.ndarray:
    """Mask keeping the ``keep`` largest ``scores`` (ties: earlier position first)."""
    scores = np.asarray(scores)
    flat = scores.reshape(-1)
    if not 0 <= keep <= flat.size:
        raise ValueError(f"keep={keep!r}: must be between 0 and {flat.size}")
    order = np.argsort(-flat, kind="stable")
    mask = np.zeros(flat.size, dtype=np.float32)
    mask[order[:keep]] = 1.0
    return mask.reshape(scores.shape)


def keep_counts(sparsities: Mapping[str, float], sizes: Mapping[str, int]) -> dict[str, int]:
    """Integer survivors per layer for {key: sparsity} (the inverse of ``budget.to_sparsity``)."""
    return {k: int(round(sizes[k] * (1.0 - s))) for k, s in sparsities.items()}


def magnitude_masks(weights: Mapping[str, Any], sparsities: Mapping[str, float]) -> dict[str, np.ndarray]:
    """{key: mask} keeping each weight's largest |w| at its sparsity in ``sparsities``."""
    sizes = budget.sizes_of(weights)
    keep = keep_counts(sparsities, sizes)
    return {k: top_k_mask(np.abs(np.asarray(weights[k])), keep[k]) for k in sparsities}


def apply_masks(model: Any, masks: Mapping[str, Any]) -> None:
    """Write ``masks`` ({key: 0/1 array}) into a wrapped model's mask variables and zero the weights.

    Example::

        tfprune.set_masks(pruned, {"dense/kernel": mask})  # the same function
    """
    found = layers.prunable(model)
    unknown = sorted(set(masks) - set(found))
    if unknown:
        raise ValueError(f"masks: no prunable weight named {unknown}; known: {list(found)}")
    for key, mask in masks.items():
        weight = found[key]
        if not weight.wrapped:
            raise ValueError(f"masks[{key!r}]: layer {weight.path!r} is not wrapped for pruning "
                             "(wrap it with tfprune.prune first)")
        if not weight.layer.pruning_vars:
            raise ValueError(f"masks[{key!r}]: layer {weight.path!r} is not built yet")
        variable = weight.variable
        mask = np.asarray(mask, dtype=variable.dtype.as_numpy_dtype)
        if mask.shape != tuple(variable.shape):
            raise ValueError(f"masks[{key!r}]: shape {mask.shape} does not match the weight's {tuple(variable.shape)}")
        if not np.all((mask == 0) | (mask == 1)):
            raise ValueError(f"masks[{key!r}]: must hold only 0 and 1")
        mask_storage.write(weight.layer, weight.index, mask)
        variable.assign(variable.numpy() * mask)
