"""How a pruning wrapper stores its masks, and the one way to read and write them.

TF-MOT keeps a float32 copy of every prunable weight as its mask: 4 bytes per weight.
tfprune's wrapper keeps one bit per weight instead, packed 64 to an ``int64`` word (bit ``j``
of word ``i`` is element ``64 * i + j`` of the flattened weight; on a little-endian machine the
words' bytes are ``np.packbits(..., bitorder="little")``): 0.125 bytes per weight. ``int64``,
not ``uint8``: TensorFlow's collectives (``MultiWorkerMirroredStrategy`` broadcasts every
variable's initial value) take no 8-bit integers, and GPUs keep ``int32`` tensors in host
memory. Packing is elementwise arithmetic; unpacking reads the words as bytes (``tf.bitcast``,
no copy) and looks each byte up in a 256 x 8 table of its bits (one gather): about half the time
of elementwise bit tests on a CPU in graph mode. Both compile under XLA.

:func:`read` and :func:`write` work on either kind of wrapper (packed bits, or TF-MOT's
float masks in models saved before tfprune packed them); every tfprune module reads masks
through :attr:`tfprune.layers.PrunableWeight.mask`, which calls :func:`read`, or
:meth:`~tfprune.layers.PrunableWeight.value` (the masked weight), which calls :func:`read_numpy`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from tfprune.backend import tf

#: dtype of a packed mask variable, and the mask bits per element of it.
PACKED_DTYPE = tf.int64
WORD_BITS = 64
_BIT_VALUES = np.left_shift(np.int64(1), np.arange(WORD_BITS, dtype=np.int64))  # bit 63: INT64_MIN
#: row ``b``: the 8 bits of the byte value ``b``, lowest first
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little")
_LITTLE_ENDIAN = sys.byteorder == "little"  # the bytes of a word, lowest first: bits 0-7, 8-15, ...


def packed_size(count: int) -> int:
    """Words (``int64``) holding the mask of ``count`` weights."""
    return (int(count) + WORD_BITS - 1) // WORD_BITS


def pack(mask: Any) -> Any:
    """A 0/1 (or bool) tensor as a flat ``int64`` tensor of :func:`packed_size` words."""
    flat = tf.reshape(tf.cast(mask, tf.bool), [-1])
    count = int(flat.shape[0])
    flat = tf.pad(flat, [[0, packed_size(count) * WORD_BITS - count]])
    bits = tf.reshape(tf.cast(flat, PACKED_DTYPE), [-1, WORD_BITS]) * tf.constant(_BIT_VALUES)
    return tf.reduce_sum(bits, axis=1)  # distinct bits: the sum is their OR (two's complement)


def unpack(bits: Any, shape: Any, dtype: Any = tf.bool) -> Any:
    """The mask of ``shape`` held in the packed ``bits``, as ``dtype`` (bool, or 0/1 numbers)."""
    count = int(np.prod(shape))
    dtype = tf.as_dtype(dtype)
    if _LITTLE_ENDIAN:  # words [n] -> bytes [n, 8] -> bits [n, 8, 8]
        byte_values = tf.cast(tf.bitcast(bits, tf.uint8), tf.int32)
        present = tf.gather(tf.constant(_BYTE_BITS.astype(dtype.as_numpy_dtype)), byte_values)
    else:
        present = tf.bitwise.bitwise_and(tf.expand_dims(bits, -1), tf.constant(_BIT_VALUES)) != 0
        present = present if dtype == tf.bool else tf.cast(present, dtype)
    if count % WORD_BITS == 0:
        return tf.reshape(present, shape)
    return tf.reshape(tf.reshape(present, [-1])[:count], shape)


def pack_numpy(mask: np.ndarray) -> np.ndarray:
    """:func:`pack` in NumPy."""
    flat = np.asarray(mask).reshape(-1) != 0
    padded = np.zeros(packed_size(flat.size) * WORD_BITS, bool)
    padded[: flat.size] = flat
    return np.packbits(padded, bitorder="little").view("<i8").astype(np.int64)


def unpack_numpy(bits: np.ndarray, shape: Any, dtype: Any = bool) -> np.ndarray:
    """:func:`unpack` in NumPy (one ``np.unpackbits`` of the words' little-endian bytes)."""
    count = int(np.prod(shape))
    flat = np.unpackbits(np.asarray(bits, "<i8").view(np.uint8), count=count, bitorder="little")
    return flat.reshape(shape).astype(dtype)


def is_packed(mask_variable: Any) -> bool:
    """True for a packed (``int64``) mask variable, False for TF-MOT's float mask."""
    return mask_variable.dtype == PACKED_DTYPE


def read(layer: Any, index: int) -> Any:
    """The mask of a built wrapper's prunable weight ``index``: a 0/1 tensor shaped and typed as
    the weight (a tensor in a graph, ``.numpy()`` eagerly)."""
    weight, mask, _ = layer.pruning_vars[index]
    if not is_packed(mask):
        return tf.convert_to_tensor(mask)
    return unpack(mask, weight.shape, weight.dtype)


def read_numpy(layer: Any, index: int) -> np.ndarray:
    """:func:`read` as a NumPy array, unpacked in NumPy (eager TensorFlow ops cost more per call
    than the unpacking itself on all but the largest weights)."""
    weight, mask, _ = layer.pruning_vars[index]
    if not is_packed(mask):
        return mask.numpy()
    return unpack_numpy(mask.numpy(), weight.shape, weight.dtype.as_numpy_dtype)


def write(layer: Any, index: int, mask: np.ndarray) -> None:
    """Set the mask of a built wrapper's prunable weight ``index`` to the 0/1 array ``mask``
    (shaped as the weight; checked by the caller)."""
    _, variable, _ = layer.pruning_vars[index]
    variable.assign(pack_numpy(mask) if is_packed(variable) else np.asarray(mask, variable.dtype.as_numpy_dtype))
