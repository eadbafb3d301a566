"""SynFlow's exact threshold: ``kth_smallest`` equals NumPy's selection (``np.partition``)."""

import numpy as np
import pytest

from tfprune.backend import tf
from tfprune.scoring.synflow import _prune_official, kth_smallest

select = tf.function(kth_smallest, autograph=False)


def expected(values, k):
    return -np.inf if k < 1 else np.partition(values, k - 1)[k - 1]


def vectors():
    rng = np.random.default_rng(0)
    spread = rng.random(5000) ** 8  # scores spanning orders of magnitude
    pruned = spread.copy()
    pruned[rng.random(5000) < 0.9] = 0.0  # most already pruned (score 0), as late in the loop
    ties = np.round(rng.random(5000) * 7) / 7  # eight distinct values, each tied ~700 times
    return {"spread": spread, "pruned": pruned, "ties": ties, "all equal": np.full(300, 0.25), "one": np.array([3.0])}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(vectors()))
def test_kth_smallest_equals_numpy(name, dtype):
    values = vectors()[name].astype(dtype)
    n = values.size
    ks = sorted({0, 1, 2, n // 3, n // 2, n - 1, n} & set(range(n + 1)))
    for k in ks:
        got = select(tf.constant(values), tf.constant(k, tf.int32)).numpy()
        assert got == expected(values, k), f"{name}, k={k}"
        assert got.dtype == dtype


def test_official_rule_prunes_ties_together_and_nothing_below_one():
    """``scores <= kth`` is pruned: all entries tied at the k-th smallest go, none when k < 1."""
    scores = tf.constant([0.0, 2.0, 1.0, 2.0, 3.0, 2.0], tf.float64)
    valid = tf.constant([False, True, True, True, True, True])
    rule = tf.function(_prune_official, autograph=False)
    keep = lambda k: rule(scores, valid, tf.constant(k, tf.int32)).numpy().tolist()
    assert keep(0) == [False, True, True, True, True, True]  # nothing pruned, the pruned one stays so
    assert keep(1) == [False, True, True, True, True, True]  # the 1st smallest is the pruned 0
    assert keep(2) == [False, True, False, True, True, True]
    assert keep(3) == [False, False, False, False, True, False]  # 3rd smallest is 2.0: its three ties go
    assert keep(6) == [False] * 6
    assert keep(3) == rule(scores, valid, tf.constant(3, tf.int32), xla=True).numpy().tolist()
