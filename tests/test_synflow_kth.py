"""SynFlow's exact threshold: ``kth_smallest`` equals NumPy's selection (``np.partition``), whether
its sample brackets the answer or not."""

import numpy as np
import pytest

from tfprune.backend import tf
from tfprune.scoring import synflow
from tfprune.scoring.synflow import _bracket, _prune_official, kth_smallest

select = tf.function(kth_smallest, autograph=False)


def expected(values, k):
    return -np.inf if k < 1 else np.partition(values, k - 1)[k - 1]


def vectors():
    rng = np.random.default_rng(0)
    spread = rng.random(5000) ** 8  # scores spanning orders of magnitude
    pruned = spread.copy()
    pruned[rng.random(5000) < 0.9] = 0.0  # most already pruned (score 0), as late in the loop
    ties = np.round(rng.random(5000) * 7) / 7  # eight distinct values, each tied ~700 times
    misleading = rng.random(5000)
    misleading[:: 5000 // synflow.SAMPLE] += 10.0  # the evenly spaced sample sees only these
    return {"spread": spread, "pruned": pruned, "ties": ties, "misleading": misleading,
            "all equal, large": np.full(5000, 0.25), "all equal": np.full(300, 0.25), "one": np.array([3.0])}


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


def brackets(values, k):
    """Whether :func:`_bracket`'s entries hold the k-th smallest (else all entries are searched)."""
    upto_lo, inside = _bracket(tf.constant(values), tf.constant(k, tf.int32))
    return int(upto_lo) < k <= int(upto_lo) + int(tf.size(inside))


def test_sample_brackets_the_answer_or_all_entries_are_searched():
    """Both ways are taken, and each gives NumPy's value (the cases above check all k)."""
    found = vectors()
    assert found["spread"].size > synflow.SAMPLE
    assert brackets(found["spread"], 2500) and brackets(found["pruned"], 4700)  # the usual case
    assert not brackets(found["misleading"], 2500)  # the sample holds only the shifted entries
    assert not brackets(found["all equal, large"], 2500)  # the answer is tied with lo
    assert not brackets(found["pruned"], 2000)  # likewise, among the pruned zeros
    assert brackets(found["pruned"], 1) and brackets(found["spread"], 5000)  # open at the ends


def test_kth_smallest_of_millions_of_entries():
    """Above 2**31 / SAMPLE entries, k times the sample size passes int32: the place is int64."""
    values = np.random.default_rng(1).random(2_200_000).astype(np.float32)
    for k in (1, 1_000_000, 2_100_000, 2_200_000):
        assert brackets(values, k)  # open at the ends: k = 1 and k = size too
        assert select(tf.constant(values), tf.constant(k, tf.int32)).numpy() == expected(values, k)


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
