"""Structured pruning benchmark: greedy forward selection vs L1 vs random, and what narrowing buys.

* Accuracy vs kept width (25/50/75% of every layer's channels) on the digits CNN
  (``tfprune.models.default_model``: conv 16, conv 32, dense 128), trained ``--epochs`` epochs per
  seed; test accuracy right after selection and after ``--finetune`` epochs of Adam; mean ± std
  over ``--seeds`` seeds.
* Selection time of greedy vs ``candidates`` (10/50/200) at 50% width, with the share of the time
  spent in the batched candidate evaluation.
* LiteRT: file size and latency (batch 1, one thread, XNNPACK and builtin kernels) of the dense
  model vs the 50%-width model (float32, ``tfprune.export.to_tflite``), against the FLOP ratio.

Results are printed as Markdown (paste them into docs/structured.md) and written to
``--json``.

Usage: python benchmarks/bench_structured.py [--seeds 3] [--epochs 15] [--finetune 3] [--runs 300]
"""

import argparse
import json
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import tfprune  # noqa: E402,F401
from tfprune import data  # noqa: E402
from tfprune.backend import tf  # noqa: E402
from tfprune.models import compile_for_classification, default_model  # noqa: E402
from tfprune.structured import count_flops, select  # noqa: E402
from tfprune.structured.pipeline import accuracy  # noqa: E402

WIDTHS = (0.25, 0.5, 0.75)
METHODS = ("greedy", "l1", "random")


def trained(splits, seed, epochs):
    tf.keras.utils.set_random_seed(seed)
    model = compile_for_classification(default_model(splits.input_shape, splits.num_classes, seed=seed))
    model.fit(splits.train, epochs=epochs, verbose=0)
    return model


def finetuned(model, splits, epochs, seed):
    tf.keras.utils.set_random_seed(seed)
    compile_for_classification(model).fit(splits.train, epochs=epochs, verbose=0)
    return model


def accuracy_table(args):
    rows = {}  # (method, width) -> {"selected": [...], "finetuned": [...]}
    dense = []
    for seed in range(args.seeds):
        splits = data.load("digits", seed=seed)
        x_test, y_test = splits.numpy("test")
        model = trained(splits, seed, args.epochs)
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


def litert_table(args):
    from tfprune.export import measure_latencies, to_tflite

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


def markdown(dense, rows, timing, litert, args):
    ms = lambda v: f"{100 * np.mean(v):.1f} ± {100 * np.std(v):.1f}"  # noqa: E731
    out = [f"Dense digits CNN: {ms(dense)}% test accuracy ({args.seeds} seeds, {args.epochs} epochs).", "",
           f"| width | method | after selection (%) | after {args.finetune} fine-tune epochs (%) | selection s |",
           "|---|---|---|---|---|"]
    for (method, width), row in rows.items():
        out.append(f"| {width:.0%} | {method} | {ms(row['selected'])} | {ms(row['finetuned'])} | "
                   f"{np.mean(row['seconds']):.1f} |")
    out += ["", "| candidates | evaluated | selection s | share in batched evaluation | accuracy (%) |",
            "|---|---|---|---|---|"]
    out += [f"| {c} | {t['evaluated']} | {t['seconds']:.1f} | {t['batched_share']:.0%} | {100 * t['accuracy']:.1f} |"
            for c, t in timing.items()]
    d, n = "dense", "50% width"
    out += ["", "| model | FLOPs | .tflite bytes | XNNPACK ms | builtin ms |", "|---|---|---|---|---|"]
    for name in (d, n):
        out.append(f"| {name} | {litert['flops'][name]:,} | {litert['sizes'][name]:,} | "
                   f"{litert['latency_ms']['xnnpack'][name]:.4f} | {litert['latency_ms']['builtin'][name]:.4f} |")
    ratio = lambda key: litert[key][d] / litert[key][n]  # noqa: E731
    out.append(f"\nFLOP ratio {ratio('flops'):.2f}x, size ratio {ratio('sizes'):.2f}x, speed-up "
               f"{litert['latency_ms']['xnnpack'][d] / litert['latency_ms']['xnnpack'][n]:.2f}x (XNNPACK), "
               f"{litert['latency_ms']['builtin'][d] / litert['latency_ms']['builtin'][n]:.2f}x (builtin).")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--finetune", type=int, default=3)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--json", default=None, help="also write the raw results here")
    args = parser.parse_args()
    start = time.time()
    dense, rows = accuracy_table(args)
    timing = timing_table(args)
    litert = litert_table(args)
    print(markdown(dense, rows, timing, litert, args))
    print(f"\n({time.time() - start:.0f} s)")
    if args.json:
        raw = {"dense": dense, "rows": {f"{m} {w}": r for (m, w), r in rows.items()}, "timing": timing,
               "litert": litert}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(raw, f, indent=2)


if __name__ == "__main__":
    main()
