"""The output folder of a CLI run: stripped model, per-layer report (Markdown + JSON), PNG plot.

Everything is written into a temporary folder first and moved into place file by file
(each move atomic), so an interrupted run never leaves a half-written file behind.
"""

import io
import json
import os
import shutil
import tempfile

from tfprune.summary import format_summary


def plot_png(summary, accuracy, title):
    """PNG bytes: per-layer sparsity bars and accuracy before/after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in summary["layers"]]
    sparsity = [100 * r["sparsity"] for r in summary["layers"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 1]})
    bars = left.bar(names, sparsity, color="tab:blue")
    for bar, r in zip(bars, summary["layers"]):
        left.annotate(f"{r['params']:,}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=7)
    left.axhline(100 * summary["total"]["sparsity"], color="tab:red", linestyle="--",
                 label=f"overall {summary['total']['sparsity']:.1%}")
    left.set_ylabel("sparsity (%)")
    left.set_ylim(0, 105)
    left.set_title("per-layer sparsity (labels: parameters)")
    left.legend(loc="lower right")
    left.tick_params(axis="x", rotation=30)
    labels = list(accuracy)
    right.bar(labels, [100 * accuracy[k] for k in labels], color=["tab:gray", "tab:green"][: len(labels)])
    for i, k in enumerate(labels):
        right.annotate(f"{100 * accuracy[k]:.1f}", (i, 100 * accuracy[k]), ha="center", va="bottom")
    right.set_ylim(0, 105)
    right.set_ylabel("test accuracy (%)")
    right.set_title("accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def markdown(summary, accuracy, settings):
    lines = ["# tfprune report", "", "## Settings", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += ["", "## Test accuracy", ""]
    lines += [f"- {k}: {v:.4f}" for k, v in accuracy.items()]
    lines += ["", "## Per-layer sparsity", "", "```", format_summary(summary), "```", ""]
    if summary["collapsed"]:
        lines += [f"Collapsed layers (no weight left): {', '.join(summary['collapsed'])}", ""]
    return "\n".join(lines)


def write_output(folder, model, summary, accuracy, settings, title):
    """Write model.keras, report.md, report.json and sparsity.png into ``folder``."""
    os.makedirs(folder, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tfprune-", dir=folder)
    try:
        model.save(os.path.join(staging, "model.keras"))
        files = {
            "report.md": markdown(summary, accuracy, settings).encode(),
            "report.json": json.dumps(
                {"settings": settings, "accuracy": accuracy, "summary": summary}, indent=2, default=list
            ).encode(),
            "sparsity.png": plot_png(summary, accuracy, title),
        }
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as f:
                f.write(data)
        written = []
        for name in ["model.keras", *files]:
            os.replace(os.path.join(staging, name), os.path.join(folder, name))
            written.append(os.path.join(folder, name))
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
