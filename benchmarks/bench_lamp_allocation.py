"""LAMP allocation time vs parameter count, against one numpy sort of all the weights.

ResNet-50 kernel shapes (stem, bottleneck stages [3, 4, 6, 3], fc), channel widths scaled
to give 1M to 25M weights. Peer, same run: ``np.sort`` of all weights concatenated (float32).
Goal: 25M weights in at most 2x the time of that sort.

    python benchmarks/bench_lamp_allocation.py [--repeats 3]
"""

import argparse
import statistics
import time

import numpy as np

from _report import machine, update_section

from tfprune import allocation


def resnet50_shapes(width=1.0):
    def c(n):
        return max(1, int(round(n * width)))

    shapes = [(7, 7, 3, c(64))]
    cin = c(64)
    for blocks, mid in zip([3, 4, 6, 3], [64, 128, 256, 512]):
        for b in range(blocks):
            out = c(mid * 4)
            shapes += [(1, 1, cin, c(mid)), (3, 3, c(mid), c(mid)), (1, 1, c(mid), out)]
            if b == 0:
                shapes.append((1, 1, cin, out))
            cin = out
    shapes.append((cin, 1000))
    return shapes


def best_width(target):
    low, high = 0.05, 1.5
    for _ in range(40):
        mid = (low + high) / 2
        if sum(int(np.prod(s)) for s in resnet50_shapes(mid)) < target:
            low = mid
        else:
            high = mid
    return high


def timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for target in [1_000_000, 5_000_000, 10_000_000, 25_000_000]:
        shapes = resnet50_shapes(best_width(target))
        weights = {f"layer{i}/kernel": rng.standard_normal(s, dtype=np.float32) for i, s in enumerate(shapes)}
        total = sum(w.size for w in weights.values())
        flat = np.concatenate([w.reshape(-1) for w in weights.values()])
        t_sort = timed(lambda: np.sort(flat), args.repeats)
        t_lamp = timed(lambda: allocation.lamp(weights, 0.9), args.repeats)
        t_global = timed(lambda: allocation.global_magnitude(weights, 0.9), args.repeats)
        rows.append((total, len(shapes), t_sort, t_lamp, t_global))
        print(f"{total:>11,} weights: sort {t_sort:.3f}s lamp {t_lamp:.3f}s ({t_lamp / t_sort:.2f}x)")
    lines = [
        "## LAMP allocation time vs parameter count",
        "",
        f"`python benchmarks/bench_lamp_allocation.py --repeats {args.repeats}` on {machine()}.",
        "ResNet-50 kernel shapes with scaled widths, float32 weights, 90% target, median of repeats. "
        "Peer: one `np.sort` of all weights. Goal: LAMP on 25M weights <= 2x the sort.",
        "",
        "| weights | layers | np.sort (s) | LAMP (s) | LAMP / sort | global magnitude (s) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {n:,} | {l} | {s:.3f} | {t:.3f} | {t / s:.2f}x | {g:.3f} |" for n, l, s, t, g in rows]
    update_section("lamp_allocation", "\n".join(lines))


if __name__ == "__main__":
    main()
