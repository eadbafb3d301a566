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


def test_the_replicate_interval_is_a_t_interval_on_the_log_scale(report):
    # logs 0, 0.02, 0.04: mean 0.02, sample sd 0.02, n 3; t(2 degrees of freedom, 0.975) = 4.302652729...
    low, ratio, high = report.replicate_interval(np.exp([0.0, 0.02, 0.04]))
    half = 4.302652729749464 * 0.02 / math.sqrt(3)
    assert ratio == pytest.approx(math.exp(0.02), rel=1e-12)
    assert (low, high) == (pytest.approx(math.exp(0.02 - half), rel=1e-9), pytest.approx(math.exp(0.02 + half), rel=1e-9))
    # a common factor scales the ratio and both ends; equal ratios give a point
    scaled = report.replicate_interval(1.5 * np.exp([0.0, 0.02, 0.04]))
    assert scaled == pytest.approx((1.5 * low, 1.5 * ratio, 1.5 * high), rel=1e-12)
    assert report.replicate_interval([1.1, 1.1, 1.1]) == pytest.approx((1.1, 1.1, 1.1), rel=1e-12)
    assert report.replicate_interval([1.2]) == (-math.inf, pytest.approx(1.2), math.inf)


def _process(factor, aa):
    """One process's measure_mode result, its configurations' ratios against dense scaled by ``factor``."""
    rows = []
    for kind, ratio in [("dense", 1.0), ("tf-mot", 1.1), ("tfprune uniform", 1.05 * factor), ("dense (A/A)", aa)]:
        rows.append({"model": "digits CNN", "jit": False, "kind": kind, "weights": 10, "steady_ms": 2.0 * ratio,
                     "event_ms": 1.0, "ms": 2.0 * ratio + 0.01, "steady_vs_dense": ratio, "rounds": 20,
                     "vs_dense_interval": [ratio - 0.01, ratio, ratio + 0.01],
                     "vs_tfmot_interval": [ratio / 1.1 - 0.01, ratio / 1.1, ratio / 1.1 + 0.01]})
    return {"turn": 100, "orders": "balanced", "timing": rows, "steps": {}}


def test_bench_scale_takes_ratios_and_intervals_across_processes(report):
    """benchmarks/bench_scale.py --processes: a ratio is the geometric mean of the processes' ratios,
    its interval :func:`replicate_interval` over them, a time the median over them; the section names
    the cells so measured and lists every process's ratio."""
    scale = benchmark_module("bench_scale")
    runs = [_process(f, aa) for f, aa in [(1.0, 1.0), (1.02, 0.99), (0.98, 1.01)]]
    runs[2]["timing"][2]["rounds"] = 19  # tfprune uniform lost a round in the third process
    rows = {r["kind"]: r for r in scale.across_processes(runs)}
    uniform = rows["tfprune uniform"]
    assert uniform["vs_dense_interval"] == pytest.approx(report.replicate_interval([1.05, 1.05 * 1.02, 1.05 * 0.98]))
    assert uniform["vs_tfmot_interval"][1] == pytest.approx(
        report.replicate_interval([1.05 / 1.1, 1.05 * 1.02 / 1.1, 1.05 * 0.98 / 1.1])[1])
    assert uniform["steady_ms"] == pytest.approx(2.1) and uniform["processes"] == 3 and uniform["rounds"] == 19
    assert rows["dense"]["vs_dense_interval"] == pytest.approx((1.0, 1.0, 1.0))
    result = {"model": "digits CNN", "mode": "graph", "timing": list(rows.values()), "processes": runs}
    line = scale.control_line(result["timing"])
    assert "measured in several fresh processes, one after the other, digits CNN graph (3 processes of 19-20 rounds):" in line
    assert "percentile bootstrap" not in line  # no cell measured in one process
    assert "every interval contains 1" in line  # the A/A ratios 1.0, 0.99, 1.01
    listed = scale.process_lines([result])[0]
    assert "tfprune uniform 1.050, 1.071, 1.029" in listed and "dense (A/A) 1.000, 0.990, 1.010" in listed
    runs[1]["timing"].reverse()
    with pytest.raises(ValueError, match="differ in order"):
        scale.across_processes(runs)


def test_other_processes_cpu_share_leaves_out_this_process(report):
    # 2 s of wall time on 2 cores: the machine was busy 3 CPU seconds, this process 1 of them
    assert report.other_cpu_share((0.0, 10.0, 1.0), (2.0, 13.0, 2.0), cores=2) == pytest.approx(0.5)
    assert report.other_cpu_share((0.0, 10.0, 1.0), (2.0, 11.0, 2.5), cores=2) == 0.0  # clock ticks: never below 0
    assert report.other_cpu_share((0.0, None, 1.0), (2.0, 13.0, 2.0), cores=2) is None  # no /proc/stat
    wall, busy, own = report.cpu_snapshot()
    spin = sum(i * i for i in range(2_000_000))  # CPU time of this process
    later = report.cpu_snapshot()
    assert spin > 0 and later[0] > wall and later[2] > own
    assert busy is None or later[1] >= busy


def test_a_child_process_result_is_the_json_on_its_last_line_and_a_failure_raises(report, tmp_path):
    import subprocess

    script = tmp_path / "child.py"
    script.write_text("import json, sys\nprint('warming up')\nprint(json.dumps({'args': sys.argv[1:]}))\n"
                      "sys.exit(int(sys.argv[1]))\n")
    assert report.json_from_child(script, 0, "x", 2.5) == {"args": ["0", "x", "2.5"]}
    with pytest.raises(subprocess.CalledProcessError):
        report.json_from_child(script, 3)

