"""The accuracy-sparsity Pareto front of a search: a markdown table and a PNG.

A trial is on the front when no other trial has both a sparsity and an accuracy at least as
high, one of them strictly higher. Only completed trials count.
"""

import math
import os

from tfprune.io import atomic_path, write_text


def pareto_front(points):
    """Indices of the non-dominated ``(sparsity, accuracy)`` points, by increasing sparsity.

    Both coordinates are maximised. Of identical points, all are kept.

    >>> pareto_front([(0.5, 0.9), (0.8, 0.85), (0.6, 0.8), (0.8, 0.7)])
    [0, 1]
    """
    points = [(float(s), float(a)) for s, a in points]
    front = []
    for i, (s, a) in enumerate(points):
        if any(math.isnan(v) for v in (s, a)):
            continue
        dominated = any(
            (s2 >= s and a2 >= a) and (s2 > s or a2 > a)
            for j, (s2, a2) in enumerate(points)
            if j != i and not any(math.isnan(v) for v in (s2, a2))
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1], i))


def _fmt(value, digits=4):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(records, metric):
    """Markdown table of trial ``records`` (from :meth:`PruningTuner.results`), front marked."""
    points = [(r["metrics"].get("sparsity"), r["metrics"].get(metric)) for r in records]
    usable = [i for i, (s, a) in enumerate(points) if s is not None and a is not None]
    front = {usable[k] for k in pareto_front([points[i] for i in usable])}
    constrained = any("feasible" in r["metrics"] for r in records)
    header = ["trial", "sparsity", metric, "size (KB)", "target", "allocation", "schedule"]
    if constrained:
        header.append("feasible")
    header.append("front")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    order = sorted(range(len(records)), key=lambda i: (points[i][0] if points[i][0] is not None else -1, i))
    for i in order:
        r = records[i]
        hp = r["hyperparameters"]
        row = [
            str(r["trial_id"]),
            _fmt(r["metrics"].get("sparsity")),
            _fmt(r["metrics"].get(metric)),
            _fmt(r["metrics"].get("size_kb"), 2),
            _fmt(hp.get("pruning/sparsity")),
            str(hp.get("pruning/allocation", "")),
            str(hp.get("pruning/schedule", "")),
        ]
        if constrained:
            feasible = r["metrics"].get("feasible")
            row.append("" if feasible is None else ("yes" if feasible >= 0.5 else "no"))
        row.append("*" if i in front else "")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def plot(records, metric, path, title=None):
    """Scatter of ``metric`` against sparsity, the front joined and highlighted; PNG at ``path``.

    Written atomically; uses matplotlib's object API (no pyplot global state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [(r["metrics"].get("sparsity"), r["metrics"].get(metric), str(r["trial_id"])) for r in records]
    rows = [row for row in rows if row[0] is not None and row[1] is not None]
    points = [(s, a) for s, a, _ in rows]
    front = [points[i] for i in pareto_front(points)]
    figure = Figure(figsize=(6, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    if points:
        axes.scatter(
            [p[0] for p in points], [p[1] for p in points], s=70, facecolors="none", edgecolors="0.35",
            label="trials", zorder=4,
        )
    if front:
        axes.plot([p[0] for p in front], [p[1] for p in front], color="C3", marker="o", label="Pareto front", zorder=3)
    for s, a, trial_id in rows:
        axes.annotate(trial_id, (s, a), textcoords="offset points", xytext=(4, 4), fontsize=7, color="0.3")
    axes.set_xlabel("sparsity (fraction of prunable weights removed)")
    axes.set_ylabel(metric)
    axes.set_title(title or f"{metric} vs sparsity ({len(points)} trials)")
    axes.grid(True, alpha=0.3)
    if points:
        axes.legend(loc="best")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def write_report(records, metric, directory, name="pareto", title=None):
    """Write ``<name>.md`` (table) and ``<name>.png`` (plot) into ``directory``, atomically.

    Returns ``{"table": path, "png": path, "front": [trial ids on the front]}``.
    """
    if not os.path.isdir(directory):
        raise ValueError(f"directory={directory!r}: no such folder")
    points = [(r["metrics"].get("sparsity"), r["metrics"].get(metric)) for r in records]
    usable = [i for i, (s, a) in enumerate(points) if s is not None and a is not None]
    front_ids = [records[usable[k]]["trial_id"] for k in pareto_front([points[i] for i in usable])]
    heading = f"# Accuracy-sparsity Pareto front\n\n{len(records)} completed trials; `*` marks the front.\n\n"
    table_path = os.path.join(directory, name + ".md")
    write_text(table_path, heading + format_table(records, metric))
    png_path = plot(records, metric, os.path.join(directory, name + ".png"), title=title)
    return {"table": table_path, "png": png_path, "front": front_ids}
