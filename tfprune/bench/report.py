"""A sweep's report from its records: a markdown table (test accuracy, mean ± sample std over
seeds), a CSV of the same, and two plots -- accuracy vs remaining fraction of weights (log
scale, mean ± std band per method) and the per-layer sparsity profile of each method.
"""

from __future__ import annotations

import csv
import io as _io
import os
import statistics
from collections import defaultdict

from tfprune import io
from tfprune.bench.runs import config_from_dict

FILES = ("report.md", "results.csv", "accuracy.png", "layers.png")


def mean_std(values: list) -> tuple:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def cell(values: list) -> str:
    """``mean ± std`` in percent, one decimal."""
    mean, std = mean_std(values)
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def _labels(records: list) -> list:
    """Row labels in the order of the grid (methods, then their rewinding variants)."""
    seen = []
    for r in sorted(records, key=lambda r: (r["run"]["rewind"], r["config"]["methods"].index(r["run"]["method"])
                                            if r["run"]["method"] in r["config"]["methods"] else 0)):
        if r["run"]["label"] not in seen:
            seen.append(r["run"]["label"])
    return seen


def summary(records: list) -> list:
    """One row per (label, level): ``{label, level, remaining, n, mean, std, accuracies, seeds,
    disconnected}`` from the finished records."""
    groups = defaultdict(list)
    for r in records:
        if r["status"] != "done":
            continue
        for point in r["result"]["points"]:
            groups[(r["run"]["label"], point["level"])].append((r, point))
    rows = []
    for label in _labels(records):
        for level in sorted({lv for (lb, lv) in groups if lb == label}):
            found = sorted(groups[(label, level)], key=lambda rp: rp[0]["run"]["seed"])
            accuracies = [p["accuracy"] for _, p in found]
            mean, std = mean_std(accuracies)
            rows.append({"label": label, "level": level, "remaining": statistics.fmean(p["remaining"] for _, p in found),
                         "n": len(found), "mean": mean, "std": std, "accuracies": accuracies,
                         "seeds": [r["run"]["seed"] for r, _ in found],
                         "disconnected": sum(1 for r, _ in found if r["result"].get("connected") is False)})
    return rows


def _level_header(config: dict, level: float, rows: list) -> str:
    if config["preset"] == "structured":
        return f"width {100 * level:g}%"
    remaining = [r["remaining"] for r in rows if r["level"] == level]
    shown = f"{100 * statistics.fmean(remaining):.3g}% left" if remaining else ""
    return f"{100 * level:.4g}% sparse ({shown})" if shown else f"{100 * level:.4g}% sparse"


def markdown(records: list, config: dict) -> str:
    """The table: a row per method (and rewinding variant), a column per level."""
    rows = summary(records)
    levels = sorted({r["level"] for r in rows})
    lines = [f"# tfprune bench: {config['preset']} on {config['dataset']} ({config['model']})", "",
             "Test accuracy (%), mean ± sample std over seeds (n per cell in brackets when not every seed "
             "finished; ✗n: n runs disconnected at initialisation).", ""]
    header = ["method", *(_level_header(config, lv, rows) for lv in levels)]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label in _labels(records):
        cells = [label]
        for level in levels:
            row = next((r for r in rows if r["label"] == label and r["level"] == level), None)
            if row is None:
                cells.append("")
                continue
            text = cell(row["accuracies"])
            if row["n"] != len(config["seeds"]):
                text += f" (n={row['n']})"
            if row["disconnected"]:
                text += f" ✗{row['disconnected']}"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    failed = [r for r in records if r["status"] != "done"]
    done = [r for r in records if r["status"] == "done"]
    lines += ["", f"Runs: {len(done)} finished, {len(failed)} failed; "
              f"{sum(r['seconds'] for r in records):.0f} s of run time in all."]
    if failed:
        lines += ["", "Failed runs:", ""] + [f"- {r['id']}: {r['error']}" for r in failed]
    settings = {k: v for k, v in config.items() if k != "format"}
    lines += ["", "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), ""]
    return "\n".join(lines)


def results_csv(records: list) -> str:
    """One line per (method, level): mean, std, n and the per-seed accuracies."""
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "level", "remaining", "n", "mean", "std", "disconnected", "seeds", "accuracies"])
    for r in summary(records):
        writer.writerow([r["label"], r["level"], f"{r['remaining']:.6g}", r["n"], f"{r['mean']:.6f}",
                         f"{r['std']:.6f}", r["disconnected"], " ".join(map(str, r["seeds"])),
                         " ".join(f"{a:.6f}" for a in r["accuracies"])])
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _percent_ticks():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:g}")


def _no_ticks():
    from matplotlib.ticker import NullFormatter

    return NullFormatter()


def _png(fig) -> bytes:
    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    _pyplot().close(fig)
    return buffer.getvalue()


def plot_accuracy(records: list, config: dict) -> bytes:
    """PNG: test accuracy vs remaining fraction of weights (log x), mean ± std band per method."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label in _labels(records):
        curves = [r["result"]["curve"] for r in records if r["status"] == "done" and r["run"]["label"] == label]
        if config["preset"] != "lamp-protocol":  # one point per run: gather them by remaining fraction
            points = defaultdict(list)
            for r in records:
                if r["status"] == "done" and r["run"]["label"] == label:
                    points[r["run"]["level"]].append(r["result"]["curve"][0])
            xs = np.array([np.mean([p[0] for p in ps]) for _, ps in sorted(points.items())])
            ys = [[p[1] for p in ps] for _, ps in sorted(points.items())]
        else:
            length = min(len(c) for c in curves)
            xs = np.array([np.mean([c[i][0] for c in curves]) for i in range(length)])
            ys = [[c[i][1] for c in curves] for i in range(length)]
        mean = np.array([np.mean(y) for y in ys]) * 100
        std = np.array([np.std(y, ddof=1) if len(y) > 1 else 0.0 for y in ys]) * 100
        style = "--" if label.endswith("rewind") else "-"
        line, = ax.plot(xs * 100, mean, style, marker="o", markersize=3, label=label)
        ax.fill_between(xs * 100, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xscale("log")
    low, high = ax.get_xlim()
    ax.set_xticks([t for t in (100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05) if low <= t <= high])
    ax.xaxis.set_major_formatter(_percent_ticks())
    ax.xaxis.set_minor_formatter(_no_ticks())
    ax.invert_xaxis()
    ax.set_xlabel("remaining weights (%)" if config["preset"] != "structured" else "remaining parameters (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{config['preset']} on {config['dataset']} ({config['model']}), mean ± std over seeds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def plot_layers(records: list, config: dict) -> bytes:
    """PNG: per-layer remaining fraction (log y) of each method, one panel per level (for
    ``lamp-protocol``: the final round of the runs without and with rewinding)."""
    import numpy as np

    plt = _pyplot()
    done = [r for r in records if r["status"] == "done"]
    panels = sorted({(r["run"]["rewind"], r["run"]["level"]) for r in done})
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.2 * max(1, len(panels)), 4), squeeze=False)
    for ax, (rewind, level) in zip(axes[0], panels):
        group = [r for r in done if (r["run"]["rewind"], r["run"]["level"]) == (rewind, level)]
        keys = list(group[0]["result"]["layers"])
        for method in dict.fromkeys(r["run"]["method"] for r in group):
            runs = [r for r in group if r["run"]["method"] == method]
            remaining = np.mean([[1.0 - r["result"]["layers"][k] for k in keys] for r in runs], axis=0)
            ax.plot(range(len(keys)), np.maximum(remaining, 1e-4) * 100, marker="o", label=method)
        ax.set_yscale("log")
        ax.set_xticks(range(len(keys)), [k.split("/")[0] for k in keys], rotation=40, ha="right", fontsize=7)
        what = f"width {100 * level:g}%" if config["preset"] == "structured" else f"{100 * level:.4g}% sparse"
        ax.set_title(what + (", rewinding" if rewind else ""), fontsize=9)
        ax.set_ylabel("remaining (%; an emptied layer at 0.01)" if config["preset"] != "structured"
                      else "channels kept (%)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"per-layer profile: {config['preset']} on {config['dataset']} ({config['model']})", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def write_report(folder: str, records: list | None = None) -> dict:
    """Write report.md, results.csv, accuracy.png and layers.png into ``folder`` from its records;
    their paths (the plots only when a run finished)."""
    from tfprune.bench.records import read_records, read_settings

    config = read_settings(folder)
    config_from_dict(config)  # a folder of another format fails here
    records = read_records(folder) if records is None else records
    paths = {name: os.path.join(folder, name) for name in FILES}
    io.write_text(paths["report.md"], markdown(records, config))
    io.write_text(paths["results.csv"], results_csv(records))
    if any(r["status"] == "done" for r in records):
        io.write_bytes(paths["accuracy.png"], plot_accuracy(records, config))
        io.write_bytes(paths["layers.png"], plot_layers(records, config))
    else:
        del paths["accuracy.png"], paths["layers.png"]
    return paths
