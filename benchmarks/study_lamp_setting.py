"""When does LAMP's advantage show? The LAMP paper's iterative protocol on models whose layers differ.

Lee, Park, Mo, Ahn, Shin, "Layer-adaptive sparsity for the magnitude-based pruning" (ICLR 2021):
at about 1.4% remaining weights LAMP >= the best of global, uniform+ and ERK. Protocol: train the
dense model, then 19 rounds that each prune 20% of the remaining weights (1.44% left) with
retraining after every round, every allocation recomputed on the surviving weights
(``tfprune.prune(..., schedule=Iterative.from_rounds(19, ...))``, ``reallocate`` default);
per-round test accuracy from :class:`tfprune.RoundLog`. Settings (``--settings``):

``mlp``         MNIST-1D, MLP 40 -> 300 -> 100 -> 10 (43,000 weights): the setting where LAMP was tied.
``deep-mlp``    MNIST-1D, MLP 40 -> 512 -> 512 -> 16 -> 512 -> 10 (304,128 weights: layers from
                5,120 to 262,144 weights, a narrow bottleneck).
``vgg1d``       MNIST-1D, VGG-like 1-D CNN: conv3 16,16 | pool | 32,32 | pool | 64,64 | pool | 128,
                BatchNorm (momentum 0.9, so that its statistics follow a round of retraining)
                after every conv, global average pool, dense 10 (kernels from 48 to 24,576 weights;
                BatchNorm leaves each conv's weight scale free, so magnitudes of different layers
                are not comparable -- the case the LAMP paper makes for VGG).

Defaults (sized for a shared 2-core CPU): batch 128, 10 dense epochs, 1 epoch of retraining per round.

    python benchmarks/study_lamp_setting.py [--settings mlp,deep-mlp,vgg1d] [--seeds 3] [--quick]
"""

import argparse
import io
import json
import os
import statistics
import time

import numpy as np

from _checkout import ROOT  # noqa: E402  (this checkout first on the path)

import tfprune  # noqa: E402
from tfprune import data  # noqa: E402
from tfprune.backend import keras, tf  # noqa: E402
from tfprune.bench.report import cell  # noqa: E402
from tfprune.cli.models import mlp_model  # noqa: E402
from tfprune.io import write_bytes, write_text  # noqa: E402
from tfprune.schedules import Iterative  # noqa: E402

DOCS = os.path.join(ROOT, "docs")
ALLOCATIONS = ("lamp", "global", "uniform", "uniform+", "erk")


def mlp(widths, seed):
    return lambda input_shape, classes: mlp_model(input_shape, classes, seed, widths)


def vgg1d(seed):
    def build(input_shape, classes):
        init = keras.initializers.HeNormal(seed=seed)
        stack = [keras.Input(input_shape)]
        plan = [16, 16, "pool", 32, 32, "pool", 64, 64, "pool", 128]
        for i, item in enumerate(plan):
            if item == "pool":
                stack.append(keras.layers.MaxPooling1D(2))
                continue
            stack += [keras.layers.Conv1D(item, 3, padding="same", use_bias=False, kernel_initializer=init,
                                          name=f"conv{i + 1}"),
                      keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU()]
        stack += [keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(classes, name="logits")]
        return keras.Sequential(stack)

    return build


SETTINGS = {
    "mlp": ("mnist1d", lambda seed: mlp((300, 100), seed)),
    "deep-mlp": ("mnist1d", lambda seed: mlp((512, 512, 16, 512), seed)),
    "vgg1d": ("mnist1d", vgg1d),
}


def compile_model(model, lr):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def run(setting, seed, args, log):
    name, factory = SETTINGS[setting]
    splits = data.load(name, batch_size=args.batch, seed=seed)
    steps_per_epoch = int(splits.train.cardinality())
    keras.utils.set_random_seed(seed)
    dense = factory(seed)(splits.input_shape, splits.num_classes)
    compile_model(dense, args.lr)
    dense.fit(splits.train, epochs=args.dense_epochs, verbose=0)
    dense_accuracy = float(dense.evaluate(splits.test, verbose=0)[1])
    records = [dict(setting=setting, allocation="dense", seed=seed, accuracy=dense_accuracy, rounds=[])]
    log(records[-1])
    for allocation in args.allocations:
        keras.utils.set_random_seed(seed)
        schedule = Iterative.from_rounds(args.rounds, steps_per_round=args.epochs_per_round * steps_per_epoch)
        pruned = tfprune.prune(dense, allocation=allocation, schedule=schedule)
        compile_model(pruned, args.lr)
        round_log = tfprune.RoundLog(eval_data=splits.test)
        start = time.perf_counter()
        pruned.fit(splits.train, epochs=args.rounds * args.epochs_per_round, verbose=0,
                   callbacks=tfprune.callbacks(pruned) + [round_log])
        last = round_log.records[-1]
        records.append(dict(
            setting=setting, allocation=allocation, seed=seed, accuracy=float(last["eval"]["accuracy"]),
            remaining=1.0 - last["sparsity"], layers={k.split("/")[0]: 1.0 - v for k, v in last["layers"].items()},
            rounds=[dict(round=r["round"], remaining=1.0 - r["sparsity"], accuracy=float(r["eval"]["accuracy"]))
                    for r in round_log.records],
            seconds=time.perf_counter() - start))
        log(records[-1])
    return records


def report(records, args):
    lines = []
    for setting in dict.fromkeys(r["setting"] for r in records):
        group = [r for r in records if r["setting"] == setting]
        dense = [r["accuracy"] for r in group if r["allocation"] == "dense"]
        pruned = [r for r in group if r["allocation"] != "dense"]
        names = list(pruned[0]["layers"])
        seeds = len(dense)
        rounds = [i for i in (13, 16) if i < len(pruned[0]["rounds"]) - 1] + [len(pruned[0]["rounds"]) - 1]
        header = [f"{100 * pruned[0]['rounds'][i]['remaining']:.2f}%" for i in rounds]
        lines += [f"**{setting}** ({SETTINGS[setting][0]}; dense {cell(dense)}%, {seeds} seeds): test accuracy (%) "
                  "after the round that leaves the fraction of weights in the header, and the remaining fraction "
                  "of each layer at the end (mean over seeds).", "",
                  "| allocation | " + " | ".join(header) + " | " + " | ".join(names) + " |",
                  "|---|" + "---|" * (len(header) + len(names))]
        for allocation in dict.fromkeys(r["allocation"] for r in pruned):
            runs = [r for r in pruned if r["allocation"] == allocation]
            accuracy = [cell([r["rounds"][i]["accuracy"] for r in runs]) for i in rounds]
            cells = [f"{100 * statistics.mean(r['layers'][n] for r in runs):.2f}%" for n in names]
            lines.append(f"| {allocation} | " + " | ".join(accuracy) + " | " + " | ".join(cells) + " |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    write_text(os.path.join(args.out, "study_lamp_setting.md"), text + "\n")
    plot(records, args)


def plot(records, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    settings = list(dict.fromkeys(r["setting"] for r in records))
    fig, axes = plt.subplots(1, len(settings), figsize=(5.2 * len(settings), 4.2), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        group = [r for r in records if r["setting"] == setting and r["allocation"] != "dense"]
        for allocation in dict.fromkeys(r["allocation"] for r in group):
            runs = [r for r in group if r["allocation"] == allocation]
            x = [100 * row["remaining"] for row in runs[0]["rounds"]]
            table = np.array([[100 * row["accuracy"] for row in r["rounds"]] for r in runs])
            mean, spread = table.mean(0), table.std(0, ddof=1) if len(runs) > 1 else np.zeros(table.shape[1])
            ax.plot(x, mean, marker=".", label=allocation)
            ax.fill_between(x, mean - spread, mean + spread, alpha=0.2)
        dense = [r["accuracy"] for r in records if r["setting"] == setting and r["allocation"] == "dense"]
        ax.axhline(100 * statistics.mean(dense), color="black", linestyle="--", label="dense")
        ax.set_xscale("log")
        ax.invert_xaxis()
        ticks = [t for t in (80, 40, 20, 10, 5, 2.5, 1.44) if t >= min(x) - 1e-9]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("remaining weights (%)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{setting}: iterative, 20% per round")
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    write_bytes(os.path.join(args.out, "study_lamp_setting.png"), buffer.getvalue())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="mlp,deep-mlp,vgg1d")
    parser.add_argument("--allocations", default=",".join(ALLOCATIONS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=19)
    parser.add_argument("--epochs-per-round", type=int, default=1)
    parser.add_argument("--dense-epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=DOCS, help="folder for the .md/.json/.png results")
    parser.add_argument("--report", action="store_true", help="only redraw from the saved JSON")
    parser.add_argument("--quick", action="store_true", help="1 seed, 3 rounds of 1 epoch, 1 dense epoch")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.rounds, args.epochs_per_round, args.dense_epochs = 1, 3, 1, 1
    args.settings = args.settings.split(",")
    args.allocations = args.allocations.split(",")
    unknown = [s for s in args.settings if s not in SETTINGS]
    if unknown:
        parser.error(f"--settings: {unknown} not in {sorted(SETTINGS)}")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "study_lamp_setting.json")
    if args.report:
        with open(path, encoding="utf-8") as handle:
            return report(json.load(handle), args)
    records = []

    def log(record):
        records.append(record)
        print(json.dumps({k: v for k, v in record.items() if k != "rounds"}), flush=True)
        write_text(path, json.dumps(records, indent=1) + "\n")

    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for setting in args.settings:
            run(setting, seed, args, log)
    report(records, args)


if __name__ == "__main__":
    main()
