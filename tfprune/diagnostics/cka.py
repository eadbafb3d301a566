"""Linear centred kernel alignment (CKA) between two models' outputs.

Kornblith, Norouzi, Lee, Hinton, "Similarity of Neural Network Representations Revisited",
ICML 2019, in the feature-space form (cost O(n p q), never an n x n Gram matrix)::

    CKA(X, Y) = ||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)

with ``X_c``, ``Y_c`` the column-centred features (one row per example). The biased estimator
(the default, as in the three-regime paper's code) equals the HSIC form
``tr(K H L H) / sqrt(tr(K H K H) tr(L H L H))`` with ``K = X X^T``, ``L = Y Y^T``; the debiased one
replaces every HSIC by the unbiased estimator of Song et al. (2012). Zhou et al. (ICML 2023)
compare the logits of the two retrained sparse models on about ten batches of training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfprune import layers
from tfprune.diagnostics._batches import batches


def _features(value: Any, argument: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim < 2:
        raise ValueError(f"{argument}: shape {array.shape}; expected (examples, features...)")
    array = array.reshape(len(array), -1)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{argument}: holds NaN or infinite values")
    return array


def _debiased_dot(xty_sq: float, rows_x: np.ndarray, rows_y: np.ndarray, n: int) -> float:
    """Unbiased HSIC (times n(n-3)) from centred features: Kornblith et al.'s feature-space helper."""
    return (xty_sq - n / (n - 2.0) * rows_x.dot(rows_y)
            + rows_x.sum() * rows_y.sum() / ((n - 1.0) * (n - 2.0)))


def linear_cka(x: Any, y: Any, debiased: bool = False) -> float:
    """Linear CKA of features ``x`` (n, p) and ``y`` (n, q): 1 for identical features.

    Invariant to orthogonal transforms and isotropic scaling of either argument, not to
    other invertible linear maps. ``debiased=True`` uses the unbiased HSIC estimator (needs
    at least 4 examples). Raises ValueError for mismatched or constant features.
    """
    x, y = _features(x, "x"), _features(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}: CKA compares the same examples")
    if not isinstance(debiased, bool):
        raise TypeError(f"debiased={debiased!r}: expected True or False")
    n = len(x)
    if n < (4 if debiased else 2):
        raise ValueError(f"x, y: {n} examples; CKA needs at least {4 if debiased else 2}"
                         + (" with debiased=True" if debiased else ""))
    x = x - x.mean(axis=0, keepdims=True)
    y = y - y.mean(axis=0, keepdims=True)
    cross = np.linalg.norm(y.T @ x) ** 2
    self_x = np.linalg.norm(x.T @ x) ** 2
    self_y = np.linalg.norm(y.T @ y) ** 2
    if debiased:
        rows_x, rows_y = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
        cross = _debiased_dot(cross, rows_x, rows_y, n)
        self_x = _debiased_dot(self_x, rows_x, rows_x, n)
        self_y = _debiased_dot(self_y, rows_y, rows_y, n)
    for name, value in (("x", self_x), ("y", self_y)):
        if not value > 0:
            raise ValueError(f"{name}: features are constant over the examples; CKA is undefined")
    return float(cross / np.sqrt(self_x * self_y))


def cka(model_a: Any, model_b: Any, data: Any, max_batches: int | None = 10,
        debiased: bool = False) -> float:
    """Linear CKA between the outputs (logits) of two models on the same batches of ``data``.

    ``data``: a ``tf.data.Dataset`` of ``(x, y)`` batches, a ``tfprune.data.Splits`` (training
    split), an ``(x, y)`` pair of arrays or a list of batches; the first ``max_batches``
    batches are used (the paper: about 10 batches of training data).
    """
    layers.check_model(model_a, "model_a")
    layers.check_model(model_b, "model_b")
    fixed = batches(data, limit=max_batches)
    a = np.concatenate([np.asarray(model_a(x, training=False)) for x, _ in fixed])
    b = np.concatenate([np.asarray(model_b(x, training=False)) for x, _ in fixed])
    return linear_cka(a, b, debiased=debiased)
