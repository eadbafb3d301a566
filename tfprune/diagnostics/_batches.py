"""Turn the data arguments of the diagnostics into a list of ``(x, y)`` NumPy batches.

Accepted: a ``tf.data.Dataset`` of ``(x, y)`` (or ``(x, y, sample_weight)``) batches, a
:class:`tfprune.data.Splits` (its training split), an ``(x, y)`` pair of arrays (cut into
batches of ``batch_size``), or a list of ``(x, y)`` batches. The batches are materialised once,
so every model and every point of a path sees the same examples in the same order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfprune._validate import check_int
from tfprune.backend import tf

ALLOWED = ("a tf.data.Dataset of (x, y) batches, a tfprune.data.Splits, an (x, y) pair of arrays "
           "or a list of (x, y) batches")


def batches(data: Any, argument: str = "data", batch_size: int = 256,
            limit: int | None = None) -> list:
    """``[(x, y), ...]`` from ``data`` (at most ``limit`` batches); a clear error for anything else."""
    check_int(batch_size, "batch_size", minimum=1)
    check_int(limit, "limit", minimum=1, allow_none=True)
    if hasattr(data, "train") and hasattr(data, "num_classes"):  # tfprune.data.Splits
        data = data.train
    if isinstance(data, tf.data.Dataset):
        out = []
        for item in data.take(-1 if limit is None else limit).as_numpy_iterator():
            out.append(_pair(item, argument))
    elif isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        x, y = (np.asarray(a) for a in data)
        if len(x) != len(y):
            raise ValueError(f"{argument}: x has {len(x)} examples but y has {len(y)}")
        out = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        out = out if limit is None else out[:limit]
    elif isinstance(data, list):
        out = [_pair(item, argument) for item in (data if limit is None else data[:limit])]
    else:
        raise TypeError(f"{argument}={type(data).__name__}: expected {ALLOWED}")
    if not out or sum(len(x) for x, _ in out) == 0:
        raise ValueError(f"{argument}: holds no examples")
    return out


def _pair(item: Any, argument: str) -> tuple:
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        raise ValueError(f"{argument}: every batch must be (x, y) or (x, y, sample_weight), got "
                         f"{type(item).__name__}")
    x, y = np.asarray(item[0]), np.asarray(item[1])
    if len(x) != len(y):
        raise ValueError(f"{argument}: a batch has {len(x)} inputs but {len(y)} labels")
    return x, y


def labels(y: np.ndarray) -> np.ndarray:
    """Class indices from integer labels or one-hot rows."""
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        return np.argmax(y, axis=-1)
    return y.reshape(len(y)).astype(np.int64)
