"""What the pruning commands share: load the user's model, check --export, write and show the results."""

import os

import click

from tfprune.cli.export import export_after_prune
from tfprune.io import check_parent
from tfprune.cli.report import write_output
from tfprune.summary import format_summary


def load_user_model(model_path, splits):
    """The ``--model`` file, uncompiled; a clear error when its input shape does not fit ``splits``."""
    from tfprune.saving import load_model

    model = load_model(model_path, compile=False)
    expected = tuple(model.input_shape[1:])
    if expected != tuple(splits.input_shape):
        raise ValueError(
            f"--model {model_path!r} takes inputs of shape {expected}, but dataset "
            f"{splits.name!r} has {tuple(splits.input_shape)}"
        )
    return model


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
