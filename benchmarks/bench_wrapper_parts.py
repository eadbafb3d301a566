"""Where tfprune's per-step cost goes on the digits CNN in graph mode: the wrapper alone, unpacking the
masks, and the masking multiply and assignment.

The digits CNN's steady training step (no pruning event), timed as in ``bench_scale.py`` (same
model, data, schedule, 100-step turns, carryover-balanced orders), for dense, tfprune uniform, and
two tfprune uniform models with a part of the per-step masking taken out (for this measurement only:
their weights are no longer pruned): *no unpacking* multiplies each weight by 1 instead of by its
unpacked mask (the assignment kept); *no masking* drops the assignment too, leaving the wrapper (its
step counter and call). Their differences split tfprune's steady overhead over dense into the
wrapper, the mask unpacking (a bitcast, a cast, a table gather and a reshape per weight) and the
multiply and assignment. Ratios against dense with 95% intervals (bootstrap over paired rounds,
``_report.ratio_interval``).

    python benchmarks/bench_wrapper_parts.py [--repeats 32] [--no-write]
"""

import argparse
import statistics
import sys

import bench_scale
from _report import interval_text, machine, publish, ratio_interval

from tfprune.backend import tf

NAME = "digits CNN"
TFPRUNE = "tfprune uniform"
#: configuration -> how it changes each wrapper's pruning object (``tfprune.wrapper._Pruning``)
PARTS = {
    "tfprune uniform, no unpacking": lambda pruning: setattr(pruning, "_masked", lambda weight, mask: weight * 1.0),
    "tfprune uniform, no masking": lambda pruning: setattr(pruning, "_weight_assign_objs", lambda: []),
}
KINDS = ["dense", TFPRUNE, *PARTS]


def build(name, kind, total_steps, frequency):
    """:func:`bench_scale.build`, with ``kind`` one of :data:`PARTS` built as tfprune uniform and changed
    before its first step is traced."""
    if kind not in PARTS:
        return bench_scale.build(name, kind, total_steps, frequency)
    model, make_callbacks = bench_scale.build(name, TFPRUNE, total_steps, frequency)
    for layer in model.submodules:
        if hasattr(layer, "pruning_obj"):
            PARTS[kind](layer.pruning_obj)
    return model, make_callbacks


def median_ms(rounds):
    """The median of every step time in ``rounds``, in milliseconds."""
    return statistics.median(seconds for steady in rounds for seconds in steady) * 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=32,
                        help="timed epochs of 200 steps per configuration, two rounds each (an even count completes "
                             "the cycles of balanced orders of the four configurations)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_wrapper_parts.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    times, _ = bench_scale.step_times(NAME, False, bench_scale.MODELS[NAME][1], args.repeats, KINDS, build)
    steady = {kind: rounds for kind, (rounds, _) in times.items()}
    lines = [
        "## Where the wrapper's step time goes (digits CNN, graph mode)",
        "",
        f"`{command}` on {machine()}, TensorFlow {tf.__version__}. The steady training step (no pruning event) "
        "of the digits CNN, timed as in the scale benchmark (100-step turns, carryover-balanced orders), with "
        "parts of tfprune's per-step masking taken out: *no unpacking* multiplies each weight by 1 instead of "
        "its unpacked mask; *no masking* also drops the assignment `weight <- weight * mask`, leaving the "
        "wrapper's step counter and call. Ratios against dense in the same rounds (95% interval); their "
        "differences apportion tfprune's overhead.",
        "",
        "| configuration | steady step (ms) | vs dense (95% interval) |",
        "|---|---|---|",
    ]
    ratios = {}
    for kind in KINDS:
        ratios[kind] = ratio_interval(steady[kind], steady["dense"])
        lines.append(f"| {kind} | {median_ms(steady[kind]):.3f} | {interval_text(ratios[kind])} |")
    full, unpacked, wrapper = (ratios[k][1] - 1 for k in (TFPRUNE, *PARTS))
    lines += ["", f"Of tfprune's steady overhead ({full:.1%} of a {median_ms(steady['dense']):.2f} ms dense step): "
              f"the wrapper {wrapper:.1%}, the mask unpacking {full - unpacked:.1%}, the multiply and assignment "
              f"{unpacked - wrapper:.1%} (point values)."]
    publish("wrapper_parts", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
