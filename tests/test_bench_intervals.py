"""The 95% intervals behind the timing benchmarks' verdicts (benchmarks/_report.py)."""

import math
from fractions import Fraction

import numpy as np
import pytest

from benchmark_scripts import benchmark_module


@pytest.fixture(scope="module")
def report():
    return benchmark_module("_report")


def coverage(n, k):
    """Exact coverage of [x_(k), x_(n+1-k)] for the median: 1 - 2 P(Binomial(n, 1/2) <= k - 1)."""
    return 1 - 2 * Fraction(sum(math.comb(n, i) for i in range(k)), 2 ** n)


@pytest.mark.parametrize("n", range(1, 61))
def test_the_interval_is_the_narrowest_order_statistic_pair_with_95_percent_coverage(report, n):
    values = [float(v) for v in reversed(range(n))]  # unsorted on purpose; x_(i) = i - 1
    low, median, high = report.median_interval(values)
    assert median == (n - 1) / 2
    best = max((k for k in range(1, n // 2 + 1) if coverage(n, k) >= Fraction(95, 100)), default=0)
    if best == 0:
        assert (low, high) == (-math.inf, math.inf)
    else:
        assert (low, high) == (best - 1, n - best)  # x_(k), x_(n+1-k)


def test_ten_values_give_the_second_smallest_and_second_largest(report):
    # P(B <= 1) = 11/1024: coverage 0.9785; P(B <= 2) = 56/1024: 0.8906 would fall short.
    assert report.median_interval([3, 1, 4, 1, 5, 9, 2, 6, 5, 3]) == (1, 3.5, 6)
    assert report.median_interval([1.0] * 5) == (-math.inf, 1.0, math.inf)  # too few values for 95%


def test_the_verdict_reads_the_whole_interval(report):
    assert report.interval_verdict((1.01, 1.02, 1.05), 1.05).startswith("met (1.020x, 95% interval 1.010-1.050")
    assert report.interval_verdict((1.051, 1.06, 1.07), 1.05).startswith("**not met**")
    assert report.interval_verdict((1.04, 1.06, 1.07), 1.05).startswith("not conclusive")
    assert report.interval_verdict((-math.inf, 1.0, math.inf), 1.5).startswith("not conclusive")


def test_the_ratio_interval_resamples_rounds_in_pairs(report):
    # The machine runs at 1x, 2x, 3x ... speed from round to round; in every round the configuration
    # takes 1.1 times the peer's time. Paired resampling keeps the ratio at 1.1 in every resample.
    rng = np.random.default_rng(0)
    peer = [list(speed * (1 + 0.01 * rng.random(3))) for speed in range(1, 21)]
    mine = [[1.1 * t for t in times] for times in peer]
    low, ratio, high = report.ratio_interval(mine, peer)
    assert low == pytest.approx(1.1, rel=1e-12) and ratio == pytest.approx(1.1, rel=1e-12)
    assert high == pytest.approx(1.1, rel=1e-12)


def test_the_ratio_takes_every_time_and_its_offset_while_resampling_complete_pairs_only(report):
    # The point value is the ratio of the medians of all times (plus offsets), as the benchmark's
    # table gives it; the round whose pair has no time is not resampled.
    rounds = [[2.0, 4.0, 3.0], [], [3.0]]
    peer = [[1.0, 1.0, 1.0], [9.0, 9.0, 9.0, 9.0], [1.0]]
    low, ratio, high = report.ratio_interval(rounds, peer, 1.0, 1.0)
    assert ratio == pytest.approx((3.0 + 1.0) / (5.0 + 1.0))  # medians of [2, 4, 3, 3] and [1, 1, 1, 9, 9, 9, 9, 1]
    assert low == high == pytest.approx((3.0 + 1.0) / (1.0 + 1.0))  # every resample: the peer's median is 1
    assert report.ratio_interval(peer, peer) == (1.0, 1.0, 1.0)


def test_one_round_gives_no_interval(report):
    assert report.ratio_interval([[2.0]], [[1.0]]) == (-math.inf, 2.0, math.inf)


def test_wrapper_parts_splits_the_overhead_and_counts_processes_outside_each_others_intervals():
    """benchmarks/bench_wrapper_parts.py: the split of the medians over processes, and the count of
    ordered pairs of processes where the one's ratio lies outside the other's interval, against the
    count expected by chance, P(|Z| > 1.96 / sqrt(2)) of the pairs."""
    from scipy.stats import norm

    parts = benchmark_module("bench_wrapper_parts")
    assert parts.CHANCE_OUTSIDE == pytest.approx(2 * norm.sf(norm.ppf(0.975) / math.sqrt(2)), abs=5e-4)
    values = {"dense": 1.0, "tfprune uniform": 1.06, "tfprune uniform, no unpacking": 1.02,
              "tfprune uniform, no masking": 1.01}
    shifts = [-0.02, 0.0, 0.5]  # the third process far off: outside both others' intervals, and they outside its
    runs = [{kind: {"ms": 1.0, "interval": [value + shift - 0.01, value + shift, value + shift + 0.01]}
             for kind, value in values.items()} for shift in shifts]
    last = parts.report({"command": "c", "device": "d", "runs": runs})[-1]
    assert "the wrapper 1.0%, the mask unpacking 4.0%, the multiply and assignment 1.0%" in last
    assert "ranged 1.040-1.560x: in 6 of the 6 ordered pairs" in last  # 1.04 and 1.06 are 0.02 apart
    assert "likely miss part of the variation" in last
    runs[2] = runs[1]
    assert "in 4 of the 6 ordered pairs" in parts.report({"command": "c", "device": "d", "runs": runs})[-1]
