"""The figures of docs/reproduction.md from ``tfprune bench`` folders: copies each sweep's table,
CSV and plots into docs/reproduction/<name>/ and prints the numbers each claim is judged on.

    python benchmarks/reproduction_figures.py RESULTS_DIR

RESULTS_DIR holds the sweep folders (lamp-digits-cnn, lamp-mnist1d-mlp, atinit-digits-cnn, ...).
"""

import os
import shutil
import sys

from _checkout import ROOT  # noqa: E402  (this checkout first on the path)

from tfprune.bench.records import read_records  # noqa: E402
from tfprune.bench.report import FILES, cell, summary  # noqa: E402

DOCS = os.path.join(ROOT, "docs", "reproduction")


def _at(rows, label, level):
    return next((r for r in rows if r["label"] == label and abs(r["level"] - level) < 1e-9), None)


def lamp_claims(records):
    rows = summary(records)
    level = max(r["level"] for r in rows)
    print(f"  at {100 * (1 - level):.2f}% remaining (n seeds per cell):")
    for label in dict.fromkeys(r["label"] for r in rows):
        row = _at(rows, label, level)
        print(f"    {label:18s} {cell(row['accuracies'])}  n={row['n']}  per seed {[round(100 * a, 1) for a in row['accuracies']]}")


def at_init_claims(records):
    rows = summary(records)
    for level in sorted({r["level"] for r in rows}):
        print(f"  at {100 * level:g}% sparsity:")
        for label in dict.fromkeys(r["label"] for r in rows):
            row = _at(rows, label, level)
            if row is None:
                continue
            runs = [r for r in records if r["status"] == "done" and r["run"]["label"] == label and r["run"]["level"] == level]
            empty = sum(any(s >= 1.0 for s in r["result"]["layers"].values()) for r in runs)
            print(f"    {label:10s} {cell(row['accuracies'])}  disconnected {row['disconnected']}/{row['n']}  "
                  f"an empty layer {empty}/{row['n']}")


def main(results):
    for name in sorted(os.listdir(results)):
        folder = os.path.join(results, name)
        if not os.path.exists(os.path.join(folder, "sweep.json")):
            continue
        records = read_records(folder)
        if not any(r["status"] == "done" for r in records):
            print(f"{name}: no finished run yet")
            continue
        print(f"{name}: {len(records)} records, {sum(r['status'] != 'done' for r in records)} failed")
        target = os.path.join(DOCS, name)
        os.makedirs(target, exist_ok=True)
        for file in FILES:
            if os.path.exists(os.path.join(folder, file)):
                shutil.copyfile(os.path.join(folder, file), os.path.join(target, file))
        (lamp_claims if name.startswith("lamp") else at_init_claims)(records)


if __name__ == "__main__":
    main(sys.argv[1])
