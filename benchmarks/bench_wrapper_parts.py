"""Where tfprune's per-step cost goes on the digits CNN in graph mode: the wrapper alone, unpacking the
masks, and the masking multiply and assignment; and how much one process's figures vary from the next.

The digits CNN's steady training step (no pruning event), timed as in ``bench_scale.py`` (same
model, data, schedule, 100-step turns, carryover-balanced orders), for dense, tfprune uniform, and
two tfprune uniform models with a part of the per-step masking taken out (for this measurement only:
their weights are no longer pruned): *no unpacking* multiplies each weight by 1 instead of by its
unpacked mask (the assignment kept); *no masking* drops the assignment too, leaving the wrapper (its
step counter and call). Their differences split tfprune's steady overhead over dense into the
wrapper, the mask unpacking (a bitcast, a cast, a table gather and a reshape per weight) and the
multiply and assignment.

The whole measurement runs in ``--processes`` fresh processes, one after the other; process ``i``
builds and warms up the configurations in order ``i`` of the balanced orders (four processes make a
whole cycle), so that no configuration is built first or last in every process. Each gives every
ratio against dense with a 95% interval (bootstrap over its paired rounds, as ``bench_scale.py``
does); the report gives the median over processes and each process's value: when those spread
wider than one process's intervals, the intervals miss a variation between processes (each
configuration is one model in one process, whatever makes that model fast or slow stays for all its
rounds).

The processes' results are stored in ``benchmarks/results/wrapper_parts.json``; ``--render`` rewrites
the section from them.

    python benchmarks/bench_wrapper_parts.py [--processes 4] [--repeats 16] [--no-write] [--render]
"""

import argparse
import json
import os
import statistics
import sys

import bench_scale
from _timing import cycle_order
from _report import interval_text, json_from_child, machine, publish, ratio_interval

import tfprune
from tfprune.backend import tf
from tfprune.io import write_text

NAME = "digits CNN"
TFPRUNE = "tfprune uniform"
#: configuration -> how it changes each wrapper's pruning object (``tfprune.wrapper._Pruning``)
PARTS = {
    "tfprune uniform, no unpacking": lambda pruning: setattr(pruning, "_masked", lambda weight, mask: weight * 1.0),
    "tfprune uniform, no masking": lambda pruning: setattr(pruning, "_weight_assign_objs", lambda: []),
}
KINDS = ["dense", TFPRUNE, *PARTS]
RESULT = os.path.join(bench_scale.RESULTS, "wrapper_parts.json")
#: how often one of two independent estimates of equal precision lies outside the other's 95% interval:
#: P(|Z| > 1.96 / sqrt(2)), with no variation between processes beyond that between rounds
CHANCE_OUTSIDE = 0.166


def build(name, kind, total_steps, frequency):
    """:func:`bench_scale.build`, with ``kind`` one of :data:`PARTS` built as tfprune uniform and changed
    before its first step is traced."""
    if kind not in PARTS:
        return bench_scale.build(name, kind, total_steps, frequency)
    model, make_callbacks = bench_scale.build(name, TFPRUNE, total_steps, frequency)
    for wrapper in tfprune.layers.prunable_layers(model).values():
        PARTS[kind](wrapper.pruning_obj)
    return model, make_callbacks


def measure_here(repeats, index=0):
    """{kind: {"ms": median steady step, "interval": (low, ratio, high) against dense}} in this process,
    the configurations built in :func:`_timing.cycle_order` ``index``."""
    times, _ = bench_scale.step_times(NAME, False, bench_scale.MODELS[NAME][1], repeats, cycle_order(KINDS, index),
                                      build)
    return {kind: {"ms": bench_scale.summarize(times[kind])[0] * 1e3,
                   "interval": ratio_interval(times[kind][0], times["dense"][0])} for kind in KINDS}


def measure_in_process(repeats, index):
    """:func:`measure_here` in a fresh Python process."""
    return json_from_child(__file__, "--repeats", repeats, "--child", index)


def report(stored):
    """The section's lines for the ``stored`` result: its command, device and per-process results
    ("runs", :func:`measure_here`'s, one per process)."""
    runs = stored["runs"]
    ratio = {kind: statistics.median(run[kind]["interval"][1] for run in runs) for kind in KINDS}
    lines = [
        "## Where the wrapper's step time goes (digits CNN, graph mode)",
        "",
        f"`{stored['command']}` on {stored['device']}: {len(runs)} fresh processes, one after the other"
        + (", each building the configurations in another of the balanced orders" if "build_orders" in stored
           else ", all building the configurations in one order")
        + ". The steady training step (no pruning event) of the digits CNN, timed as in the scale benchmark "
        "(100-step turns, carryover-balanced orders), with parts of tfprune's per-step masking taken out: *no "
        "unpacking* multiplies each weight by 1 instead of its unpacked mask; *no masking* also drops the "
        "assignment `weight <- weight * mask`, leaving the wrapper's step counter and call. Ratios against dense "
        "in the same rounds: the median over processes, then each process's with its 95% interval (bootstrap "
        "over that process's rounds).",
        "",
        "| configuration | steady step (ms), median | vs dense, median | each process (95% interval) |",
        "|---|---|---|---|",
    ]
    for kind in KINDS:
        each = "; ".join(interval_text(run[kind]["interval"]) for run in runs)
        lines.append(f"| {kind} | {statistics.median(run[kind]['ms'] for run in runs):.3f} | {ratio[kind]:.3f}x "
                     f"| {each} |")
    full, unpacked, wrapper = (ratio[kind] - 1 for kind in (TFPRUNE, *PARTS))
    mine = [run[TFPRUNE]["interval"] for run in runs]
    pairs = len(mine) * (len(mine) - 1)
    outside = sum(not (low <= value <= high) for i, (low, _, high) in enumerate(mine)
                  for j, (_, value, _) in enumerate(mine) if i != j)
    lines += [
        "",
        f"Of tfprune's steady overhead ({full:.1%} of the dense step, medians over processes): the wrapper "
        f"{wrapper:.1%}, the mask unpacking {full - unpacked:.1%}, the multiply and assignment "
        f"{unpacked - wrapper:.1%}. Between processes, tfprune uniform's ratio ranged "
        f"{min(r[1] for r in mine):.3f}-{max(r[1] for r in mine):.3f}x: in {outside} of the {pairs} ordered pairs "
        f"of processes the one's value lies outside the other's interval, where about {CHANCE_OUTSIDE:.0%} "
        f"({CHANCE_OUTSIDE * pairs:.0f}) would if processes varied no more than their rounds allow"
        + (": each configuration being one model in one process, the within-process intervals (those the scale "
           "benchmark's goals are judged on) likely miss part of the variation from one process to the next."
           if outside > 2 * CHANCE_OUTSIDE * pairs else "."),
    ]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4, help="fresh processes, each measuring everything")
    parser.add_argument("--repeats", type=int, default=16,
                        help="timed epochs of 200 steps per configuration and process, two rounds each (an even "
                             "count completes the cycles of balanced orders of the four configurations)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--render", action="store_true", help="rewrite the section from the stored results")
    parser.add_argument("--child", type=int, metavar="INDEX", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure_here(args.repeats, args.child)))
        return
    if args.render:
        with open(RESULT, encoding="utf-8") as f:
            publish("wrapper_parts", report(json.load(f)))
        return
    command = "python benchmarks/bench_wrapper_parts.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    runs = []
    for index in range(args.processes):
        runs.append(measure_in_process(args.repeats, index))
        print(f"process {index + 1}: " + ", ".join(f"{k} {v['interval'][1]:.3f}x" for k, v in runs[-1].items()),
              flush=True)
    stored = {"command": command, "device": f"{machine()}, TensorFlow {tf.__version__}", "runs": runs,
              "build_orders": [cycle_order(KINDS, index) for index in range(args.processes)]}
    if not args.no_write:
        write_text(RESULT, json.dumps(stored, indent=1) + "\n")
    publish("wrapper_parts", report(stored), write=not args.no_write)


if __name__ == "__main__":
    main()
