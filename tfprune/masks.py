"""Exact top-k masks and writing masks into TF-MOT wrappers.

A mask is 1 where a weight survives. Ties at the k-th magnitude are broken by position
(row-major order: the earlier entry survives), so exactly ``keep`` weights survive.
"""

import numpy as np

from tfprune import targets
from tfprune.backend import PruneLowMagnitude


def top_k_mask(scores, keep):
    """Mask keeping the ``keep`` largest ``scores`` (ties: earlier position first)."""
    scores = np.asarray(scores)
    flat = scores.reshape(-1)
    if not 0 <= keep <= flat.size:
        raise ValueError(f"keep={keep!r}: must be between 0 and {flat.size}")
    order = np.argsort(-flat, kind="stable")
    mask = np.zeros(flat.size, dtype=np.float32)
    mask[order[:keep]] = 1.0
    return mask.reshape(scores.shape)


def keep_counts(sparsities, sizes):
    """Integer survivors per layer for {key: sparsity} (the inverse of ``budget.to_sparsity``)."""
    return {k: int(round(sizes[k] * (1.0 - s))) for k, s in sparsities.items()}


def apply_masks(model, masks):
    """Write ``masks`` ({key: 0/1 array}) into a wrapped model's mask variables and zero the weights."""
    layers = targets.prunable_layers(model)
    unknown = sorted(set(masks) - set(layers))
    if unknown:
        raise ValueError(f"masks: no wrapped prunable weight named {unknown}; known: {list(layers)}")
    for key, mask in masks.items():
        layer = layers[key]
        if not isinstance(layer, PruneLowMagnitude):
            raise ValueError(f"masks[{key!r}]: layer {layer.name!r} is not wrapped for pruning")
        weight, mask_var = targets.weight_of(layer), targets.mask_of(layer)
        mask = np.asarray(mask, dtype=mask_var.dtype.as_numpy_dtype)
        if mask.shape != tuple(mask_var.shape):
            raise ValueError(f"masks[{key!r}]: shape {mask.shape} does not match the weight's {tuple(mask_var.shape)}")
        mask_var.assign(mask)
        weight.assign(weight.numpy() * mask)
