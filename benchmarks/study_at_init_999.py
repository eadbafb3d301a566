"""Pruning at init at 99.9% sparsity: which layers lose their weights, and does SBP-SI help?

Hayou et al., "Robust pruning at initialization" (ICLR 2021): Edge-of-Chaos initialisation and
rescaling keep every layer of a SNIP-pruned network alive at 99.9% sparsity; Tanaka et al.,
"Pruning neural networks without any data by iteratively conserving synaptic flow" (NeurIPS
2020): SynFlow stays trainable where random and magnitude pruning collapse.

Two studies, both with ``allocation="global"`` and no collapse guard unless stated:

``diagnose``  no training. For the benchmark MLP (Flatten -> 300 -> 100 -> classes, 50,200 /
              43,000 weights) and the built-in digits CNN (71,568 weights) at 99.9%: survivors per
              layer, survivors on an input-output path, each layer's share of the total score and
              its mean score per weight relative to the whole network, connectivity; SBP-SI also
              with ``min_per_layer=1`` and with the ERK and uniform allocations.
``wide``      an MLP with 4 hidden layers of 640 units (1.28M weights on digits, 1.26M on
              MNIST-1D; 0.1% leaves 1,276 / 1,261 weights) pruned at 99.9% and trained: random,
              magnitude, SNIP (Glorot init, no rescale), SNIP + rescale, SNIP + EOC (no rescale),
              SBP-SI (EOC + SNIP + rescale), SynFlow; layers alive, weights on a path, test
              accuracy after training, mean +- std over seeds.

    python benchmarks/study_at_init_999.py diagnose [--seeds 3]
    python benchmarks/study_at_init_999.py wide [--seeds 3] [--datasets digits,mnist1d] [--quick]
"""

import argparse
import io
import json
import os
import statistics
import time
import warnings

import numpy as np

from _checkout import ROOT  # noqa: E402  (this checkout first on the path)

import tfprune  # noqa: E402
from tfprune import data, layers  # noqa: E402
from tfprune.at_init import prune_at_init  # noqa: E402
from tfprune.bench.report import cell, mean_std  # noqa: E402
from tfprune.backend import keras, tf  # noqa: E402
from tfprune.cli.models import default_model, mlp_model  # noqa: E402
from tfprune.collapse import CollapseWarning  # noqa: E402
from tfprune.io import write_bytes, write_text  # noqa: E402
from tfprune.scoring import snip as snip_module  # noqa: E402
from tfprune.scoring import sbp_si  # noqa: E402

DOCS = os.path.join(ROOT, "docs")

#: label -> (score, rescale) given to prune_at_init.
METHODS = {
    "random": ("random", False),
    "magnitude": ("magnitude", False),
    "snip": ("snip", False),
    "snip+rescale": ("snip", True),
    "snip+eoc": ("sbp-si", False),
    "sbp-si": ("sbp-si", True),
    "synflow": ("synflow", False),
}


def path_counts(masks):
    """Per Dense kernel (in, out) of a chain: surviving weights lying on an input-output path."""
    masks = [np.asarray(m) != 0 for m in masks]
    forward = [np.ones(masks[0].shape[0], bool)]
    for m in masks:
        forward.append((forward[-1][:, None] & m).any(0))
    backward = [np.ones(masks[-1].shape[1], bool)]
    for m in reversed(masks):
        backward.insert(0, (m & backward[0][None, :]).any(1))
    return [int((m & forward[i][:, None] & backward[i + 1][None, :]).sum()) for i, m in enumerate(masks)]


def prune(model, sparsity, label, splits, seed, **extra):
    score, rescale = METHODS[label]
    options = {"jit_compile": False} if score == "synflow" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        return prune_at_init(model, sparsity, score=score, data=splits, seed=seed, rescale=rescale,
                             score_options=options, **extra)


def layer_names(weights):
    return [k.split("/")[0] for k in weights]


# --------------------------------------------------------------------------- diagnose


def score_shares(model, splits, seed, eoc):
    """Each layer's share of the summed SNIP score and its mean score over the network's mean."""
    work = keras.models.clone_model(model)
    work.set_weights(model.get_weights())
    if eoc:
        sbp_si.initialise(work, seed=seed)
    scores = snip_module.snip_scores(work, splits, seed=seed)
    total = sum(float(s.sum()) for s in scores.values())
    count = sum(s.size for s in scores.values())
    return {k.split("/")[0]: (float(s.sum()) / total, float(s.mean()) / (total / count)) for k, s in scores.items()}


def diagnose(args):
    rows = []
    for name in args.datasets:
        splits = data.load(name, batch_size=64, seed=0)
        models = {"MLP 300-100": lambda seed: mlp_model(splits.input_shape, splits.num_classes, seed, (300, 100))}
        if name == "digits":
            models["built-in CNN"] = lambda seed: default_model(splits.input_shape, splits.num_classes, seed=seed)
        for model_name, build in models.items():
            for seed in range(args.seeds):
                keras.utils.set_random_seed(seed)
                model = build(seed)
                shares = {"snip": score_shares(model, splits, seed, False),
                          "snip+eoc": score_shares(model, splits, seed, True)}
                variants = [(m, {}) for m in ("random", "magnitude", "snip", "sbp-si", "synflow")]
                variants += [("sbp-si", {"min_per_layer": 1}), ("sbp-si", {"allocation": "erk"}),
                             ("sbp-si", {"allocation": "uniform"})]
                for label, extra in variants:
                    pruned, info = prune(model, args.sparsity, label, splits, seed, **extra)
                    weights = layers.prunable_weights(pruned)
                    names = layer_names(weights)
                    kept = [int(np.count_nonzero(w)) for w in weights.values()]
                    dense_chain = all(w.ndim == 2 for w in weights.values())
                    on_path = path_counts(list(weights.values())) if dense_chain else None
                    rows.append(dict(dataset=name, model=model_name, seed=seed,
                                     method=" ".join([label] + [f"{k}={v}" for k, v in extra.items()]),
                                     layers=names, sizes=[int(w.size) for w in weights.values()], kept=kept,
                                     on_path=on_path, connected=info["report"]["connected"],
                                     shares=shares.get("snip+eoc" if label == "sbp-si" else label)))
                    print(json.dumps(rows[-1]), flush=True)
    lines = [f"Survivors per layer at {100 * args.sparsity:.1f}% sparsity (global allocation), mean over "
             f"{args.seeds} seeds; in brackets: survivors on an input-output path (MLPs). `connected`: runs "
             "with an input-output path.", ""]
    for (name, model_name), group in _group(rows, ("dataset", "model")).items():
        first = group[0]
        lines += [f"**{name}, {model_name}** (layer sizes: "
                  + ", ".join(f"{n} {s:,}" for n, s in zip(first["layers"], first["sizes"])) + ")", "",
                  "| method | " + " | ".join(first["layers"]) + " | connected |",
                  "|---|" + "---|" * (len(first["layers"]) + 1)]
        for method, runs in _group(group, ("method",)).items():
            cells = []
            for i in range(len(first["layers"])):
                kept = statistics.mean(r["kept"][i] for r in runs)
                entry = f"{kept:.1f}"
                if runs[0]["on_path"] is not None:
                    entry += f" ({statistics.mean(r['on_path'][i] for r in runs):.1f})"
                cells.append(entry)
            connected = sum(bool(r["connected"]) for r in runs)
            lines.append(f"| {method[0]} | " + " | ".join(cells) + f" | {connected}/{len(runs)} |")
        lines += ["", "SNIP score per layer: share of the total / mean score per weight relative to the "
                  "network's mean (mean over seeds):", "",
                  "| init | " + " | ".join(first["layers"]) + " |", "|---|" + "---|" * len(first["layers"])]
        for label, init in (("snip", "Glorot (SNIP)"), ("sbp-si", "Edge of Chaos (SBP-SI)")):
            runs = [r for r in group if r["method"] == label]
            cells = []
            for layer in first["layers"]:
                share = statistics.mean(r["shares"][layer][0] for r in runs)
                ratio = statistics.mean(r["shares"][layer][1] for r in runs)
                cells.append(f"{100 * share:.1f}% / {ratio:.1f}x")
            lines.append(f"| {init} | " + " | ".join(cells) + " |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    write_text(os.path.join(args.out, "study_at_init_999_diagnose.md"), text + "\n")
    write_text(os.path.join(args.out, "study_at_init_999_diagnose.json"), json.dumps(rows, indent=1) + "\n")


# --------------------------------------------------------------------------- wide


def train(model, splits, epochs, lr, callbacks):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(splits.train, epochs=epochs, verbose=0, callbacks=callbacks)
    return float(model.evaluate(splits.test, verbose=0)[1])


def wide(args):
    widths = (args.width,) * args.depth
    records = []
    path = os.path.join(args.out, "study_at_init_999_wide.json")
    for name in args.datasets:
        splits = data.load(name, batch_size=64, seed=0)
        epochs = args.epochs or {"digits": 30, "mnist1d": 20}[name]
        for seed in range(args.seeds):
            keras.utils.set_random_seed(seed)
            dense = mlp_model(splits.input_shape, splits.num_classes, seed, widths)
            copy = keras.models.clone_model(dense)
            copy.set_weights(dense.get_weights())
            start = time.perf_counter()
            accuracy = train(copy, splits, epochs, args.lr, [])
            records.append(dict(dataset=name, method="dense", seed=seed, accuracy=accuracy, kept=None,
                                on_path=None, connected=True, seconds=time.perf_counter() - start))
            print(json.dumps(records[-1]), flush=True)
            for label in args.methods:
                keras.utils.set_random_seed(seed)
                start = time.perf_counter()
                pruned, info = prune(dense, args.sparsity, label, splits, seed)
                weights = layers.prunable_weights(pruned)
                kept = [int(np.count_nonzero(w)) for w in weights.values()]
                on_path = path_counts(list(weights.values()))
                accuracy = train(pruned, splits, epochs, args.lr, tfprune.callbacks(pruned))
                records.append(dict(dataset=name, method=label, seed=seed, accuracy=accuracy,
                                    layers=layer_names(weights), sizes=[int(w.size) for w in weights.values()],
                                    kept=kept, on_path=on_path, connected=info["report"]["connected"],
                                    seconds=time.perf_counter() - start))
                print(json.dumps(records[-1]), flush=True)
                write_text(path, json.dumps(records, indent=1) + "\n")
    report_wide(records, args)


def _group(records, keys):
    groups = {}
    for r in records:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    return groups


def report_wide(records, args):
    lines = []
    for (name,), group in _group(records, ("dataset",)).items():
        dense = [r["accuracy"] for r in group if r["method"] == "dense"]
        pruned = [r for r in group if r["method"] != "dense"]
        first = pruned[0]
        lines += [f"**{name}**, MLP {args.depth}×{args.width} ({sum(first['sizes']):,} weights: "
                  + ", ".join(f"{n} {s:,}" for n, s in zip(first["layers"], first["sizes"]))
                  + f"), {100 * args.sparsity:.1f}% sparsity. Dense: {cell(dense)}%.", "",
                  "| method | test accuracy (%) | connected | non-empty layers | survivors per layer (on a path) |",
                  "|---|---|---|---|---|"]
        for (method,), runs in _group(pruned, ("method",)).items():
            alive = statistics.mean(sum(k > 0 for k in r["kept"]) for r in runs)
            per_layer = ", ".join(
                f"{statistics.mean(r['kept'][i] for r in runs):.0f} "
                f"({statistics.mean(r['on_path'][i] for r in runs):.0f})"
                for i in range(len(first["layers"])))
            connected = sum(bool(r["connected"]) for r in runs)
            lines.append(f"| {method} | {cell([r['accuracy'] for r in runs])} | {connected}/{len(runs)} | "
                         f"{alive:.1f}/{len(first['layers'])} | {per_layer} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    write_text(os.path.join(args.out, "study_at_init_999_wide.md"), text + "\n")
    plot_wide(records, args)


def plot_wide(records, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    fig, axes = plt.subplots(2, len(datasets), figsize=(6 * len(datasets), 7.5), squeeze=False)
    for col, name in enumerate(datasets):
        group = [r for r in records if r["dataset"] == name]
        methods = [m for m in args.methods if any(r["method"] == m for r in group)]
        ax = axes[0][col]
        means, spreads = [], []
        for method in methods:
            mean, spread = mean_std([100 * r["accuracy"] for r in group if r["method"] == method])
            means.append(mean)
            spreads.append(spread)
        ax.bar(range(len(methods)), means, yerr=spreads, capsize=3, color="tab:blue")
        dense = [100 * r["accuracy"] for r in group if r["method"] == "dense"]
        ax.axhline(statistics.mean(dense), color="black", linestyle="--", label="dense")
        ax.axhline(10, color="gray", linestyle=":", label="chance")
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"{name}: MLP {args.depth}x{args.width}, {100 * args.sparsity:.1f}% pruned at init", fontsize=10)
        ax.legend(fontsize=8)
        ax = axes[1][col]
        pruned = [r for r in group if r["method"] != "dense"]
        names = pruned[0]["layers"]
        step = 0.8 / len(names)
        for i, layer in enumerate(names):
            values = [statistics.mean(max(r["on_path"][i], 0.5) for r in pruned if r["method"] == m) for m in methods]
            ax.bar(np.arange(len(methods)) + (i - len(names) / 2 + 0.5) * step, values, width=step, label=layer)
        ax.set_yscale("log")
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
        ax.set_ylabel("surviving weights on an input-output path")
        ax.set_title("per layer (0 drawn at 0.5)")
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    write_bytes(os.path.join(args.out, "study_at_init_999.png"), buffer.getvalue())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=("diagnose", "wide", "report"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", default="digits,mnist1d")
    parser.add_argument("--sparsity", type=float, default=0.999)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=None, help="default: 30 digits, 20 MNIST-1D")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=DOCS, help="folder for the .md/.json/.png results")
    parser.add_argument("--quick", action="store_true", help="1 seed, width 64, 2 epochs, digits (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.width, args.epochs, args.datasets = 1, 64, 2, "digits"
    args.datasets = args.datasets.split(",")
    args.methods = args.methods.split(",")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    if args.study == "diagnose":
        diagnose(args)
    elif args.study == "wide":
        wide(args)
    else:
        with open(os.path.join(args.out, "study_at_init_999_wide.json"), encoding="utf-8") as handle:
            report_wide(json.load(handle), args)


if __name__ == "__main__":
    main()
