"""Training step time, one run, same model and data: dense vs plain TF-MOT vs tfprune.

Peers: dense (no pruning), TF-MOT ``prune_low_magnitude`` with ``PolynomialDecay``, and tfprune
LAMP on a gradual schedule with reallocation at every pruning step (same frequency). Each
configuration trains the same number of steps; the time of every epoch is taken inside ``fit``
(an epoch-level callback, so per-batch behaviour is unchanged; ``fit`` set-up and teardown are
excluded), configurations are interleaved over several repeats, and the median epoch time per
step is reported, without and with ``jit_compile=True``.

    python benchmarks/bench_training_step.py [--steps 1500] [--repeats 5]
"""

import argparse
import statistics

import numpy as np

from _timing import EpochTimes
from _report import machine, update_section

import tfprune
from tfprune import data
from tfprune.backend import keras, tfmot
from tfprune.cli.models import compile_for_classification, default_model
from tfprune.schedules import Gradual

SPARSITY = 0.9
FREQUENCY = 100


def build(kind, splits, steps):
    model = default_model(splits.input_shape, splits.num_classes)
    if kind == "dense":
        return model, []
    if kind == "tf-mot":
        schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, SPARSITY, begin_step=1, end_step=steps, frequency=FREQUENCY)
        pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
        return pruned, [tfmot.sparsity.keras.UpdatePruningStep()]
    allocation = kind.split(" ")[1]
    pruned = tfprune.prune(model, allocation=allocation, schedule=Gradual(SPARSITY, end_step=steps, frequency=FREQUENCY))
    return pruned, None


def time_per_step(kind, splits, steps, jit):
    """Median over epochs of (epoch time / steps per epoch), after a warm-up epoch."""
    model, callbacks = build(kind, splits, steps)
    compile_for_classification(model, jit_compile=jit)
    if callbacks is None:
        callbacks = tfprune.callbacks(model)
    x, y = splits.numpy("train")
    batch = 64
    epochs = max(1, steps * batch // len(x))
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, callbacks=callbacks)  # trace + warm up
    if kind.startswith("tfprune"):
        callbacks = tfprune.callbacks(model)
    timer = EpochTimes()
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=callbacks + [timer])
    return statistics.median(timer.times) / int(np.ceil(len(x) / batch))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    splits = data.load("digits")
    kinds = ["dense", "tf-mot", "tfprune uniform", "tfprune lamp"]
    rows = []
    for jit in (False, True):
        times = {k: [] for k in kinds}
        for _ in range(args.repeats):
            for kind in kinds:
                times[kind].append(time_per_step(kind, splits, args.steps, jit))
        median = {k: statistics.median(v) for k, v in times.items()}
        for kind in kinds:
            rows.append((jit, kind, median[kind], median[kind] / median["tf-mot"], median[kind] / median["dense"]))
        print({k: f"{v * 1e3:.3f} ms" for k, v in median.items()}, "jit" if jit else "")
    lines = [
        "## Training step time: dense vs TF-MOT vs tfprune",
        "",
        f"`python benchmarks/bench_training_step.py --steps {args.steps} --repeats {args.repeats}` on {machine()}.",
        f"Built-in digits CNN (71,568 prunable weights), batch 64, {SPARSITY:.0%} target, pruning every {FREQUENCY} "
        "steps; median over interleaved repeats. `tfprune lamp` recomputes the LAMP allocation from the current "
        "weights before every pruning step. Goal: tfprune within 1.05x of plain TF-MOT.",
        "",
        "| jit_compile | configuration | ms / step | vs TF-MOT | vs dense |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {jit} | {kind} | {t * 1e3:.3f} | {r:.3f}x | {d:.3f}x |" for jit, kind, t, r, d in rows]
    update_section("training_step", "\n".join(lines))


if __name__ == "__main__":
    main()
