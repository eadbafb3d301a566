"""Structured pruning benchmark: greedy forward selection vs L1 vs random, and what narrowing buys.

* Accuracy vs kept width (25/50/75% of every layer's channels) on the digits CNN
  (``tfprune.models.default_model``: conv 16, conv 32, dense 128), trained ``--epochs`` epochs per
  seed; test accuracy right after selection and after ``--finetune`` epochs of Adam; mean ± std
  over ``--seeds`` seeds.
* Selection time of greedy vs ``candidates`` (10/50/200) at 50% width, with the share of the time
  spent in the batched candidate evaluation.
* The same accuracy table for an MLP (Flatten, Dense 256, Dense 128, logits) on MNIST-1D.
* LiteRT: file size and latency (batch 1, one thread, XNNPACK and builtin kernels) of the dense
  model vs the 50%-width model (float32, ``tfprune.export.to_tflite``), against the FLOP ratio,
  for the digits CNN and a MobileNetV2-style network (64x64x3 input, stem, three inverted
  residual blocks, two of them with an Add, 1x1 head; untrained, L1 selection: latency and
  size do not depend on the weights).

Results are printed as Markdown (paste them into docs/structured.md) and written to
``--json``.

Usage: python benchmarks/bench_structured.py [--seeds 3] [--epochs 15] [--finetune 3] [--runs 300]
       [--parts digits,mnist1d,timing,litert,mobilenet]
"""

import argparse
import json
import os
import sys
import tempfile
import time
import warnings

import _checkout  # noqa: E402,F401  (this checkout first on the path)

import numpy as np  # noqa: E402

import tfprune  # noqa: E402,F401
from tfprune import data  # noqa: E402
from tfprune.backend import tf  # noqa: E402
try:  # the built-in demo models: tfprune/cli/models.py, formerly tfprune/models.py
    from tfprune.cli.models import compile_for_classification, default_model  # noqa: E402
except ImportError:
    from tfprune.models import compile_for_classification, default_model  # noqa: E402
from tfprune.structured import count_flops, select  # noqa: E402
from tfprune.structured.pipeline import accuracy  # noqa: E402

WIDTHS = (0.25, 0.5, 0.75)
METHODS = ("greedy", "l1", "random")


def mlp(input_shape, classes, seed):
    from tfprune.backend import keras

    init = keras.initializers.GlorotUniform(seed=seed)
    layers = [keras.Input(input_shape), keras.layers.Flatten()]
    layers += [keras.layers.Dense(n, activation="relu", kernel_initializer=init, name=f"dense{i}")
               for i, n in enumerate((256, 128), 1)]
    return keras.Sequential(layers + [keras.layers.Dense(classes, kernel_initializer=init, name="logits")])


def mobilenet_v2_style(seed=0):
    from tfprune.backend import keras

    L = keras.layers
    tf.keras.utils.set_random_seed(seed)

    def conv_bn(x, filters, kernel, stride=1, relu=True, name=None):
        x = L.BatchNormalization()(L.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=name)(x))
        return L.ReLU(6.0)(x) if relu else x

    def block(x, out, stride, name):
        y = conv_bn(x, 6 * x.shape[-1], 1, name=f"{name}_expand")
        y = L.ReLU(6.0)(L.BatchNormalization()(L.DepthwiseConv2D(3, stride, padding="same", use_bias=False)(y)))
        y = conv_bn(y, out, 1, relu=False, name=f"{name}_project")
        return L.Add()([x, y]) if stride == 1 and x.shape[-1] == out else y

    x = keras.Input((64, 64, 3))
    y = conv_bn(x, 32, 3, 2, name="stem")
    y = block(block(block(y, 32, 1, "b1"), 64, 2, "b2"), 64, 1, "b3")
    y = L.GlobalAveragePooling2D()(conv_bn(y, 256, 1, name="head"))
    return keras.Model(x, L.Dense(10, name="logits")(y))


def trained(splits, seed, epochs, build=default_model):
    tf.keras.utils.set_random_seed(seed)
    model = compile_for_classification(build(splits.input_shape, splits.num_classes, seed=seed))
    model.fit(splits.train, epochs=epochs, verbose=0)
    return model


def finetuned(model, splits, epochs, seed):
    tf.keras.utils.set_random_seed(seed)
    compile_for_classification(model).fit(splits.train, epochs=epochs, verbose=0)
    return model


def accuracy_table(args, dataset="digits", build=default_model):
    rows = {}  # (method, width) -> {"selected": [...], "finetuned": [...]}
    dense = []
    for seed in range(args.seeds):
        splits = data.load(dataset, seed=seed)
        x_test, y_test = splits.numpy("test")
        model = trained(splits, seed, args.epochs, build)
        dense.append(accuracy(model, x_test, y_test))
        for width in WIDTHS:
            for method in METHODS:
                small, report = select(model, splits, method, width=width, seed=seed, progress=False)
                row = rows.setdefault((method, width), {"selected": [], "finetuned": [], "seconds": []})
                row["selected"].append(report.accuracy_after)
                row["seconds"].append(report.seconds)
                row["finetuned"].append(accuracy(finetuned(small, splits, args.finetune, seed), x_test, y_test))
                print(f"seed {seed} width {width} {method}: {row['selected'][-1]:.4f} -> {row['finetuned'][-1]:.4f}",
                      file=sys.stderr)
    return dense, rows


def timing_table(args):
    splits = data.load("digits", seed=0)
    model = trained(splits, 0, args.epochs)
    found = {}
    for candidates in (10, 50, 200):
        _, report = select(model, splits, "greedy", width=0.5, candidates=candidates, progress=False)
        total = sum(d["seconds"] for d in report.details.values())
        batched = sum(d["seconds_batched"] for d in report.details.values())
        evaluated = sum(d["candidates_evaluated"] for d in report.details.values())
        found[candidates] = {"seconds": total, "batched_share": batched / total, "evaluated": evaluated,
                             "accuracy": report.accuracy_after}
    return found


def litert_table(args, mobilenet=False):
    from tfprune.export import measure_latencies, to_tflite

    if mobilenet:
        model = mobilenet_v2_style()
        x_test = np.random.default_rng(0).standard_normal((64, 64, 64, 3)).astype(np.float32)
        small, _ = select(model, (x_test, np.zeros(len(x_test), np.int64)), "l1", width=0.5, progress=False)
    else:
        splits = data.load("digits", seed=0)
        x_test = splits.numpy("test")[0]
        model = trained(splits, 0, args.epochs)
        small, _ = select(model, splits, "l1", width=0.5, progress=False)
    folder = tempfile.mkdtemp()
    paths, sizes = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, m in (("dense", model), ("50% width", small)):
            paths[name] = os.path.join(folder, f"{name.replace('%', '').replace(' ', '_')}.tflite")
            result = to_tflite(m, paths[name], sparse=False, verify_data=x_test, dense_reference=False)
            sizes[name] = result.bytes_raw
    latency = {rt: measure_latencies(paths, runtime=rt, runs=args.runs) for rt in ("xnnpack", "builtin")}
    return {"sizes": sizes, "flops": {"dense": count_flops(model), "50% width": count_flops(small)},
            "latency_ms": {rt: {k: v.median_ms for k, v in lat.items()} for rt, lat in latency.items()}}


def accuracy_markdown(title, dense, rows, args):
    ms = lambda v: f"{100 * np.mean(v):.1f} ± {100 * np.std(v):.1f}"  # noqa: E731
    out = [f"{title}: dense {ms(dense)}% test accuracy ({args.seeds} seeds, {args.epochs} epochs).", "",
           f"| width | method | after selection (%) | after {args.finetune} fine-tune epochs (%) | selection s |",
           "|---|---|---|---|---|"]
    for (method, width), row in rows.items():
        out.append(f"| {width:.0%} | {method} | {ms(row['selected'])} | {ms(row['finetuned'])} | "
                   f"{np.mean(row['seconds']):.1f} |")
    return out


def litert_markdown(title, litert):
    d, n = "dense", "50% width"
    out = ["", f"{title}:", "", "| model | FLOPs | .tflite bytes | XNNPACK ms | builtin ms |", "|---|---|---|---|---|"]
    for name in (d, n):
        out.append(f"| {name} | {litert['flops'][name]:,} | {litert['sizes'][name]:,} | "
                   f"{litert['latency_ms']['xnnpack'][name]:.4f} | {litert['latency_ms']['builtin'][name]:.4f} |")
    ratio = lambda key: litert[key][d] / litert[key][n]  # noqa: E731
    out.append(f"\nFLOP ratio {ratio('flops'):.2f}x, size ratio {ratio('sizes'):.2f}x, speed-up "
               f"{litert['latency_ms']['xnnpack'][d] / litert['latency_ms']['xnnpack'][n]:.2f}x (XNNPACK), "
               f"{litert['latency_ms']['builtin'][d] / litert['latency_ms']['builtin'][n]:.2f}x (builtin).")
    return out


def timing_markdown(timing):
    out = ["", "| candidates | evaluated | selection s | share in batched evaluation | accuracy (%) |",
           "|---|---|---|---|---|"]
    return out + [f"| {c} | {t['evaluated']} | {t['seconds']:.1f} | {t['batched_share']:.0%} | "
                  f"{100 * t['accuracy']:.1f} |" for c, t in timing.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--finetune", type=int, default=3)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--parts", default="digits,mnist1d,timing,litert,mobilenet",
                        help="comma-separated parts to run")
    parser.add_argument("--json", default=None, help="also write the raw results here")
    args = parser.parse_args()
    parts = args.parts.split(",")
    start, lines, raw = time.time(), [], {}
    for part, title, build in (("digits", "Digits CNN", default_model), ("mnist1d", "MNIST-1D MLP", mlp)):
        if part in parts:
            dense, rows = accuracy_table(args, part, build)
            lines += accuracy_markdown(title, dense, rows, args) + [""]
            raw[part] = {"dense": dense, "rows": {f"{m} {w}": r for (m, w), r in rows.items()}}
    if "timing" in parts:
        raw["timing"] = timing_table(args)
        lines += timing_markdown(raw["timing"])
    for part, title in (("litert", "Digits CNN, L1 at 50% width"), ("mobilenet", "MobileNetV2-style, L1 at 50% width")):
        if part in parts:
            raw[part] = litert_table(args, mobilenet=part == "mobilenet")
            lines += litert_markdown(title, raw[part])
    print("\n".join(lines))
    print(f"\n({time.time() - start:.0f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(raw, f, indent=2)


if __name__ == "__main__":
    main()
