"""The end of every pruning command: write the output folder, show the summary, export."""

import os

import click

from tfprune.export.cli import export_after_prune
from tfprune.io import check_parent
from tfprune.report import write_output
from tfprune.summary import format_summary


def check_export_path(export_path, output):
    """Fail before any training when ``--export`` cannot be written (the output folder is made later)."""
    if export_path and os.path.dirname(os.path.abspath(export_path)) != os.path.abspath(output):
        check_parent(export_path)


def finish(output, model, summary, accuracy, settings, title, accuracy_line, splits, export_path, export_quantize):
    """Write model, report and plot to ``output``; print them; export to TFLite if asked."""
    written = write_output(output, model, summary, accuracy, settings, title)
    click.echo(format_summary(summary))
    click.echo(accuracy_line)
    for path in written:
        click.echo(f"wrote {os.path.relpath(path)}")
    exported = export_after_prune(model, export_path, export_quantize, splits)
    if exported is not None:
        click.echo(exported)
