"""How a pruning wrapper stores its masks, and the one way to read and write them.

TF-MOT keeps a float32 copy of every prunable weight as its mask: 4 bytes per weight.
tfprune's wrapper keeps one bit per weight instead, packed eight to a ``uint8`` byte
(little-endian within a byte: bit ``j`` of byte ``i`` is element ``8 * i + j`` of the
flattened weight, as ``np.packbits(..., bitorder="little")``): 0.125 bytes per weight.
Packing and unpacking are elementwise ``tf.bitwise`` ops, which XLA compiles and fuses.

:func:`read` and :func:`write` work on either kind of wrapper (packed bits, or TF-MOT's
float masks in models saved before tfprune packed them); every tfprune module reads masks
through :attr:`tfprune.layers.PrunableWeight.mask`, which calls :func:`read`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfprune.backend import tf

#: dtype of a packed mask variable.
PACKED_DTYPE = tf.uint8
_BIT_VALUES = (1, 2, 4, 8, 16, 32, 64, 128)


def packed_size(count: int) -> int:
    """Bytes holding the mask of ``count`` weights."""
    return (int(count) + 7) // 8


def pack(mask: Any) -> Any:
    """A 0/1 (or bool) tensor as a flat ``uint8`` tensor of :func:`packed_size` bytes."""
    flat = tf.reshape(tf.cast(mask, tf.bool), [-1])
    count = int(flat.shape[0])
    flat = tf.pad(flat, [[0, packed_size(count) * 8 - count]])
    bits = tf.reshape(tf.cast(flat, tf.int32), [-1, 8]) * tf.constant(_BIT_VALUES, tf.int32)
    return tf.cast(tf.reduce_sum(bits, axis=1), PACKED_DTYPE)


def unpack(bits: Any, shape: Any) -> Any:
    """The bool mask of ``shape`` held in the packed ``bits``."""
    count = int(np.prod(shape))
    present = tf.bitwise.bitwise_and(tf.expand_dims(bits, -1), tf.constant(_BIT_VALUES, PACKED_DTYPE))
    flat = tf.reshape(tf.not_equal(present, 0), [-1])
    return tf.reshape(flat if count % 8 == 0 else flat[:count], shape)


def pack_numpy(mask: np.ndarray) -> np.ndarray:
    """:func:`pack` in NumPy."""
    return np.packbits(np.asarray(mask).reshape(-1) != 0, bitorder="little")


def is_packed(mask_variable: Any) -> bool:
    """True for a packed (``uint8``) mask variable, False for TF-MOT's float mask."""
    return mask_variable.dtype == PACKED_DTYPE


def read(layer: Any, index: int) -> Any:
    """The mask of a built wrapper's prunable weight ``index``: a 0/1 tensor shaped and typed as
    the weight (a tensor in a graph, ``.numpy()`` eagerly)."""
    weight, mask, _ = layer.pruning_vars[index]
    if not is_packed(mask):
        return tf.convert_to_tensor(mask)
    return tf.cast(unpack(mask, weight.shape), weight.dtype)


def write(layer: Any, index: int, mask: np.ndarray) -> None:
    """Set the mask of a built wrapper's prunable weight ``index`` to the 0/1 array ``mask``
    (shaped as the weight; checked by the caller)."""
    _, variable, _ = layer.pruning_vars[index]
    variable.assign(pack_numpy(mask) if is_packed(variable) else np.asarray(mask, variable.dtype.as_numpy_dtype))
