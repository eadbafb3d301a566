"""The output folder of a pruning command, and what it prints.

The folder holds the stripped model (model.keras), the per-layer report (report.md and
report.json) and the plot (sparsity.png). Everything is written into a temporary folder
first and moved into place file by file (each move atomic), so an interrupted run never
leaves a half-written file behind.
"""

import json
import os
import shutil
import tempfile

import click

from tfprune.io import check_parent


def check_export_path(export_path, output):
    """Fail before any training when ``--export`` cannot be written (the output folder is made later)."""
    if export_path and os.path.dirname(os.path.abspath(export_path)) != os.path.abspath(output):
        check_parent(export_path)


def markdown(summary, accuracy, settings):
    """report.md: the settings, the test accuracy and the per-layer sparsity table."""
    from tfprune.summary import format_summary

    lines = ["# tfprune report", "", "## Settings", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += ["", "## Test accuracy", ""]
    lines += [f"- {k}: {v:.4f}" for k, v in accuracy.items()]
    lines += ["", "## Per-layer sparsity", "", "```", format_summary(summary), "```", ""]
    if summary["collapsed"]:
        lines += [f"Collapsed layers (no weight left): {', '.join(summary['collapsed'])}", ""]
    return "\n".join(lines)


def write_output(folder, model, summary, accuracy, settings, title):
    """Write model.keras, report.md, report.json and sparsity.png into ``folder``; their paths."""
    from tfprune.cli.report import plot_png

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


def finish(output, model, accuracy, settings, label, accuracy_line, splits, export_path, export_quantize):
    """Write the stripped ``model``, report and plot to ``output``; print the per-layer table,
    ``accuracy_line`` and the files written; export to TFLite if ``--export`` was given.

    ``label`` starts the plot's title ("lamp on digits"), followed by the overall sparsity.
    """
    import tfprune
    from tfprune.cli.export import export_after_prune

    summary = tfprune.sparsity_summary(model)
    title = f"{label}: {summary['total']['sparsity']:.1%} sparse"
    written = write_output(output, model, summary, accuracy, settings, title)
    click.echo(tfprune.format_summary(summary))
    click.echo(accuracy_line)
    for path in written:
        click.echo(f"wrote {os.path.relpath(path)}")
    exported = export_after_prune(model, export_path, export_quantize, splits)
    if exported is not None:
        click.echo(exported)
