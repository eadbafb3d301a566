"""Write one benchmark's results into its own section of docs/benchmarks.md."""

import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

from _checkout import ROOT  # noqa: E402  (this checkout first on the path)

from tfprune.io import write_text  # noqa: E402

DOC = os.path.join(ROOT, "docs", "benchmarks.md")
HEADER = (
    "# Benchmarks\n\n"
    "Every figure here is written by a script in `benchmarks/`; each section names the command that\n"
    "made it. Speed and size are reported as ratios against a peer measured in the same run.\n"
)


def machine():
    import os as _os

    return f"{platform.processor() or platform.machine()}, {_os.cpu_count()} cores, Python {platform.python_version()}"


def json_from_child(script, *args):
    """The JSON object a fresh Python process running ``script`` with ``args`` prints on its last line of
    standard output (a benchmark measured away from what the calling process has already built)."""
    command = [sys.executable, os.path.abspath(script), *map(str, args)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def cpu_snapshot():
    """(wall seconds, CPU seconds the whole machine has been busy or None where /proc/stat is not
    there, CPU seconds of this process and its waited-for children): two of them give
    :func:`other_cpu_share`."""
    times = os.times()
    own = times.user + times.system + times.children_user + times.children_system
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return time.perf_counter(), None, own
    busy = sum(fields[:3]) + sum(fields[5:8])  # user, nice, system; irq, softirq, steal (idle, iowait left out)
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), own


def other_cpu_share(start, end, cores=None):
    """The share of the machine's CPU capacity that other processes used between two
    :func:`cpu_snapshot` s: (busy CPU seconds - this process's) / (wall seconds x cores), at least 0;
    None where the machine's busy time is unknown. The benchmark's own threads do not count, unlike
    in a load average."""
    (wall0, busy0, own0), (wall1, busy1, own1) = start, end
    if busy0 is None or busy1 is None or wall1 <= wall0:
        return None
    other = (busy1 - busy0) - (own1 - own0)
    return max(0.0, other / ((wall1 - wall0) * (cores or os.cpu_count() or 1)))


def update_section(name, body):
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``body``."""
    text = open(DOC, encoding="utf-8").read() if os.path.exists(DOC) else HEADER
    block = f"<!-- begin {name} -->\n{body.rstrip()}\n<!-- end {name} -->"
    pattern = re.compile(rf"<!-- begin {re.escape(name)} -->.*?<!-- end {re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    write_text(DOC, text)


def publish(name, lines, write=True):
    """Print the section ``name`` made of ``lines`` and, with ``write``, put it in docs/benchmarks.md."""
    body = "\n".join(lines)
    print(body)
    if write:
        update_section(name, body)


def median_interval(values, confidence=0.95):
    """(low, median, high): the median of ``values`` and a distribution-free interval for it, the
    order statistics ``x_(k)`` and ``x_(n+1-k)`` with the largest ``k`` whose coverage
    ``1 - 2 P(Binomial(n, 1/2) <= k - 1)`` is at least ``confidence`` (independent values assumed).
    With too few values for any such ``k`` (``n < 6`` at 95%) the interval is ``(-inf, inf)``."""
    from scipy.stats import binom

    ordered = sorted(values)
    n = len(ordered)
    k = 0
    while k < n // 2 and binom.cdf(k, n, 0.5) <= (1 - confidence) / 2:
        k += 1
    median = statistics.median(ordered)
    return (ordered[k - 1], median, ordered[n - k]) if k else (-math.inf, median, math.inf)


def ratio_interval(rounds, peer_rounds, offset=0.0, peer_offset=0.0, confidence=0.95, resamples=2000):
    """(low, ratio, high): ``(median(times) + offset) / (median(peer times) + peer_offset)`` over all
    the times of every round, and its percentile bootstrap interval (``scipy.stats.bootstrap``,
    seeded), resampling whole rounds with their pairs: ``rounds[i]`` and ``peer_rounds[i]`` are the
    times the two took in the same round, so the machine's slow drifts stay paired. Rounds where
    either has no time are not resampled; with fewer than two such rounds the interval is
    ``(-inf, inf)``."""
    import numpy as np
    from scipy.stats import bootstrap

    def median_plus(groups, plus):  # the median of every time in the rounds ``groups``, plus ``plus``
        return np.median(np.concatenate([np.asarray(g, float) for g in groups] + [[]])) + plus

    def ratio(mine, theirs):
        return median_plus(mine, offset) / median_plus(theirs, peer_offset)

    pairs = [(a, b) for a, b in zip(rounds, peer_rounds) if len(a) and len(b)]
    value = float(ratio(rounds, peer_rounds))
    if len(pairs) < 2:  # nothing to resample
        return -math.inf, value, math.inf

    def resampled(indices):
        chosen = [pairs[i] for i in indices]
        return ratio([mine for mine, _ in chosen], [theirs for _, theirs in chosen])

    result = bootstrap((np.arange(len(pairs)),), resampled, vectorized=False, confidence_level=confidence,
                       n_resamples=resamples, method="percentile", rng=0)
    return float(result.confidence_interval.low), value, float(result.confidence_interval.high)


def replicate_interval(ratios, confidence=0.95):
    """(low, ratio, high): the geometric mean of ``ratios``, one from each of several independent
    replicates (fresh processes), and its Student t interval on the log scale,
    ``exp(mean(log r) +- t(n-1) * sd(log r) / sqrt(n))``. Each replicate's ratio carries its own
    rounds' noise and whatever made its process fast or slow, so the interval covers both. With fewer
    than two ratios the interval is ``(-inf, inf)``."""
    import numpy as np
    from scipy.stats import t

    logs = np.log(np.asarray(ratios, float))
    value = float(np.exp(logs.mean())) if len(logs) else math.nan
    if len(logs) < 2:
        return -math.inf, value, math.inf
    half = t.ppf((1 + confidence) / 2, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
    return float(np.exp(logs.mean() - half)), value, float(np.exp(logs.mean() + half))


def interval_text(interval, digits=3):
    """``1.020x (1.010-1.050)`` for the interval ``(low, value, high)``."""
    low, value, high = interval
    return f"{value:.{digits}f}x ({low:.{digits}f}-{high:.{digits}f})"


def interval_verdict(interval, goal, digits=3):
    """"met" when the whole interval ``(low, value, high)`` of a ratio is at most ``goal``, "**not
    met**" when it is all above it, otherwise "not conclusive" (the interval contains the goal)."""
    low, value, high = interval
    shown = f"{value:.{digits}f}x, 95% interval {low:.{digits}f}-{high:.{digits}f}"
    if high <= goal:
        return f"met ({shown})"
    if low > goal:
        return f"**not met** ({shown})"
    return f"not conclusive ({shown}: it contains {goal:.{digits - 1}f})"
