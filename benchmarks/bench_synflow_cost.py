"""SynFlow's cost: 100 iterations against 100 plain forward+backward passes of the same model.

Models: the digits MLP (Flatten -> 300 -> 100 -> 10), the built-in digits CNN and a CIFAR-style
ResNet-20 (He et al. 2016: 3 stages x 3 basic blocks, 16/32/64 channels, BatchNorm, 32x32x3
input). Reference: 100 calls of a traced tf.function computing the gradient of the summed output
for a batch of one all-ones input (SynFlow's input) w.r.t. the prunable weights, float32. SynFlow:
a reused :class:`tfprune.scoring.SynFlowScorer` (already traced: "warm"), 100 iterations to 99%
sparsity, in the CPU default (plain graph, no XLA), with the default ``dtype="auto"`` (float32
unless float32 leaves its range, then float64; the precision it chose is reported) and with
``dtype="float64"`` (masks compared with the default's at 99% and 99.9%). Every repeat times each
in turn (interleaved, in carryover-balanced orders: every run in every position, and directly after
every other run, equally often over each cycle of 10 orders); the ratio is the median of the
per-repeat ratios. "cold" adds building the scorer (clone, tracing) to one call. Goal: the default
at most 1.5x on the digits CNN and on ResNet-20, judged on the 95% interval of the median
per-repeat ratio (distribution-free, from order statistics): met when the whole interval is at or
below 1.5. An A/A control (the reference traced twice, both timed in turn) checks the intervals:
its interval should contain 1.

    python benchmarks/bench_synflow_cost.py [--repeats 10] [--threads 1] [--no-write]
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

from _models import resnet20
from _timing import balanced_orders
from _report import interval_text, interval_verdict, machine, median_interval, publish

from tfprune import layers
from tfprune.backend import keras, tf
from tfprune.cli.models import default_model, mlp_model
from tfprune.scoring import _common
from tfprune.scoring.synflow import SynFlowScorer

SPARSITY = 0.99
ITERATIONS = 100
GOAL = 1.5


def digits_mlp():
    return mlp_model((8, 8, 1), 10, seed=0)


def forward_backward(model, dtype="float32"):
    """100 plain forward+backward passes on one all-ones input (a traced function); float64: on a
    float64 copy of ``model`` (SynFlow's arithmetic without its masks and selection)."""
    if dtype != "float32":
        model = _common.float_clone(model, dtype, lambda layer, name, value: value)
    weights = [w.variable for w in layers.prunable(model).values()]
    ones = tf.ones((1,) + tuple(model.input_shape[1:]), dtype)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(model(ones, training=False))
        return tape.gradient(total, weights)

    def hundred():
        for _ in range(ITERATIONS):
            step()

    return hundred


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(label, model, repeats):
    passes = forward_backward(model)
    control = forward_backward(model)  # the same passes traced again: the A/A check
    passes64 = forward_backward(model, "float64")
    cold = {"pass": timed(passes), "control": timed(control), "pass64": timed(passes64)}
    scorers = {}
    for dtype in ("auto", "float64"):
        def build_and_score(dtype=dtype):
            scorers[dtype] = SynFlowScorer(model, dtype=dtype, jit_compile=False)
            scorers[dtype](SPARSITY, ITERATIONS)

        cold[dtype] = timed(build_and_score)
    warm = {kind: [] for kind in cold}
    runs = {"pass": passes, "control": control, "pass64": passes64}
    runs.update({dtype: (lambda scorer=scorer: scorer(SPARSITY, ITERATIONS)) for dtype, scorer in scorers.items()})
    orders = balanced_orders(runs)  # no configuration always runs first, or always after the same one
    for repeat in range(repeats):
        for kind in orders[repeat % len(orders)]:
            warm[kind].append(timed(runs[kind]))
    row = {"model": label}
    chosen = []
    for sparsity in (SPARSITY, 0.999):
        results = {dtype: scorer(sparsity, ITERATIONS) for dtype, scorer in scorers.items()}
        masks = {dtype: result.masks for dtype, result in results.items()}
        chosen.append(results["auto"].dtype)
        row[f"differ_{sparsity}"] = sum(int(np.sum(masks["float64"][k] != masks["auto"][k])) for k in masks["float64"])
    row["chosen"] = " / ".join(chosen)  # the precision of the default's runs at 99% and 99.9%
    row["weights"] = sum(int(np.prod(m.shape)) for m in masks["float64"].values())
    for scorer in scorers.values():
        scorer.close()
    for kind in warm:
        row[f"{kind}_warm"] = statistics.median(warm[kind])
        row[f"{kind}_cold"] = cold[kind]
    for kind in ("control", "pass64", *scorers):
        row[f"{kind}_interval"] = median_interval([s / p for s, p in zip(warm[kind], warm["pass"])])
        row[f"{kind}_ratio"] = row[f"{kind}_interval"][1]
        row[f"{kind}_best"] = min(warm[kind]) / min(warm["pass"])
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10,
                        help="interleaved timing repeats (median; at least 6 for a 95%% interval; a multiple of 10 "
                             "completes the cycles of balanced orders of the five timed runs)")
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow intra-/inter-op threads (0: TensorFlow's default); one keeps the "
                             "timings stable on a shared machine")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    command = "python benchmarks/bench_synflow_cost.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    load = [os.getloadavg()[0]]
    rows = []
    for label, build in (("digits MLP", digits_mlp), ("digits CNN (built-in)", lambda: default_model((8, 8, 1), 10)),
                         ("ResNet-20 (32x32x3)", resnet20)):
        rows.append(measure(label, build(), args.repeats))
        print(rows[-1], flush=True)
    load.append(os.getloadavg()[0])
    def ratio(row, kind):
        return f"{row[kind + '_ratio']:.2f}x / {row[kind + '_best']:.2f}x"

    def goal_line(row):
        return f"{row['model']} {interval_verdict(row['auto_interval'], GOAL)}"

    def control(row):
        low, _, high = interval = row["control_interval"]
        return f"{row['model']} {interval_text(interval, 2)}{'' if low <= 1.0 <= high else ': excludes 1'}"

    lines = [
        "## SynFlow cost",
        "",
        f"`{command}` on {machine()}, TensorFlow {tf.__version__} CPU; TensorFlow threads: "
        f"{args.threads or 'default'}; load average {load[0]:.2f} / {load[1]:.2f} at the start / end (a shared "
        "machine).",
        "",
        f"SynFlow, {ITERATIONS} iterations to {SPARSITY:.0%} sparsity with the official selection, in the CPU "
        "default (plain graph, no XLA), against 100 plain float32 forward+backward passes of the same model "
        "(gradient of the summed output for a batch of one all-ones input w.r.t. the prunable weights, a traced "
        f"tf.function called 100 times). Warm: a reused `SynFlowScorer`; {args.repeats} interleaved repeats "
        "(carryover-balanced orders), median time; ratios: the median of the per-repeat ratios / the ratio of the "
        "fastest times (the least disturbed by other processes). Cold: one call that also builds the scorer (clone, "
        "tracing). Default: `dtype=\"auto\"` (float32, the official code's precision, rerun in float64 when a "
        "float32 run leaves float32's range), with the precision it chose; float64: the `dtype=\"float64\"` "
        "option; \"masks differ\" counts the mask entries in which the two disagree, at 99% and 99.9%. "
        "\"float64 passes\": the same 100 passes on a float64 copy of the model, i.e. SynFlow's arithmetic "
        "without its masks and threshold selection: the floor of the float64 option. \"A/A\": the same 100 "
        "float32 passes traced a second time and timed in the same repeats: the same work, so the 95% "
        "interval of its ratio to the first should contain 1.",
        "",
        "| model | weights | 100 passes warm (s) | SynFlow default warm (s) | ratio | chose (99% / 99.9%) "
        "| SynFlow float64 warm (s) | ratio | 100 float64 passes: ratio | masks differ at 99% / 99.9% "
        "| 100 passes cold (s) | SynFlow default cold (s) | SynFlow float64 cold (s) | A/A: ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['weights']:,} | {r['pass_warm']:.3f} | {r['auto_warm']:.3f} | "
            f"{ratio(r, 'auto')} | {r['chosen']} | {r['float64_warm']:.3f} | {ratio(r, 'float64')} | "
            f"{ratio(r, 'pass64')} | {r[f'differ_{SPARSITY}']} / {r['differ_0.999']} | "
            f"{r['pass_cold']:.3f} | {r['auto_cold']:.2f} | {r['float64_cold']:.2f} | {ratio(r, 'control')} |"
        )
    lines += ["", f"Goal (default SynFlow <= {GOAL}x of the passes; the median per-repeat ratio and its 95% interval, "
              f"distribution-free, from {args.repeats} repeats): "
              + "; ".join(goal_line(r) for r in rows if not r["model"].startswith("digits MLP")) + ". "
              "A/A check (median, 95% interval): " + "; ".join(control(r) for r in rows) + "."]
    publish("synflow_cost", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
