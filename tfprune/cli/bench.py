"""``tfprune bench``: a resumable sweep of a preset (methods x levels x seeds) on a data set and a
model, with a progress bar and ETA, one JSON record per run, a markdown table and plots.

Run the same command again to continue an interrupted sweep; ``--report-only`` rewrites the
table and plots from the records.
"""

import functools
import os
import time

import click

from tfprune.cli._errors import clean_errors

#: Library argument names -> this command's options, in error messages.
OPTIONS = {"preset": "--preset", "methods": "--methods", "sparsities": "--sparsities", "widths": "--widths",
           "seeds": "--seeds", "epochs": "--epochs", "dense_epochs": "--dense-epochs", "workers": "--workers",
           "learning_rate": "--learning-rate", "rewind": "--rewind", "folder": "--output", "name": "--dataset",
           "model": "--model"}

REWIND = {"both": (False, True), "no": (False,), "yes": (True,)}


def _split(kind):
    """A click callback: a comma-separated list of ``kind`` values (None when not given)."""

    def convert(ctx, param, value):
        if value is None:
            return None
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts:
            raise click.BadParameter(f"{value!r}: give a comma-separated list", ctx, param)
        try:
            return [kind(p) for p in parts]
        except ValueError:
            raise click.BadParameter(f"{value!r}: not a comma-separated list of numbers", ctx, param) from None

    return convert


def _seeds(ctx, param, value):
    """``--seeds``: a count ``N`` or a comma-separated list of seeds."""
    if "," not in value:
        try:
            count = int(value)
        except ValueError:
            raise click.BadParameter(f"{value!r}: give a count or a comma-separated list of seeds", ctx, param) from None
        if count < 1:
            raise click.BadParameter(f"{value!r}: give at least 1 seed", ctx, param)
        return count
    try:
        return [int(p) for p in value.split(",") if p.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: give a count or a comma-separated list of seeds", ctx, param) from None


@click.command("bench")
@click.option("--preset", type=click.Choice(["lamp-protocol", "at-init", "structured"]), default=None,
              help="The sweep: lamp-protocol (iterative, 20% per round, with and without rewinding), at-init "
                   "(prune at initialisation, then train) or structured (channel selection).")
@click.option("--dataset", default="digits", show_default=True, help="digits, mnist1d or a TFDS name prepared on disk.")
@click.option("--data-dir", default=None, help="TFDS data folder.")
@click.option("--model", "model", default="cnn", show_default=True,
              help="Built-in 'mlp' (300-100) or 'cnn', or an untrained model file (re-initialised for each seed).")
@click.option("--methods", callback=_split(str), default=None,
              help="Comma-separated methods (allocations, scorers or selectors); default: the preset's.")
@click.option("--sparsities", callback=_split(float), default=None,
              help="Comma-separated sparsities (lamp-protocol: where the table reads the rounds; it runs to the "
                   "largest); default: the preset's.")
@click.option("--widths", callback=_split(float), default=None,
              help="structured: comma-separated fractions of channels kept; default 0.25,0.5,0.75.")
@click.option("--seeds", default="3", show_default=True, callback=_seeds,
              help="N (seeds 0..N-1) or a comma-separated list of seeds, e.g. 3,4.")
@click.option("--epochs", type=click.IntRange(min=0), default=None,
              help="Epochs per round (lamp-protocol), of training (at-init) or of fine-tuning (structured).")
@click.option("--dense-epochs", type=click.IntRange(min=0), default=None,
              help="Dense training before pruning (lamp-protocol, structured).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--learning-rate", type=float, default=None, help="Adam's learning rate (default 0.001).")
@click.option("--rewind", type=click.Choice(list(REWIND)), default=None,
              help="lamp-protocol: runs without weight rewinding, with it, or both (default).")
@click.option("--output", type=click.Path(file_okay=False), default="tfprune-bench", show_default=True,
              help="The sweep's folder: records, table and plots (resumed when it holds the same sweep).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes running runs at the same time.")
@click.option("--report-only", is_flag=True, help="Only rewrite the table and plots of --output from its records.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@clean_errors(options=OPTIONS)
def bench_command(preset, dataset, data_dir, model, methods, sparsities, widths, seeds, epochs, dense_epochs,
                  batch_size, learning_rate, rewind, output, workers, report_only, quiet):
    """Sweep a preset's methods x sparsities x seeds; write records, a table and plots (resumable)."""
    from tfprune.bench import make_config, run_sweep, write_report
    from tfprune.bench.records import read_records

    if report_only:
        paths = write_report(output)
        click.echo(open(paths["report.md"], encoding="utf-8").read())
        for path in paths.values():
            click.echo(f"wrote {os.path.relpath(path)}")
        return
    if preset is None:
        raise click.UsageError("Missing option '--preset' (or give --report-only)")
    if preset == "structured" and sparsities is not None:
        raise ValueError(f"--sparsities {sparsities}: the structured preset takes --widths (fractions of channels kept)")
    if preset != "structured" and widths is not None:
        raise ValueError(f"--widths {widths}: only for --preset structured; give --sparsities")
    config = make_config(preset, dataset, model, methods=methods, levels=widths if preset == "structured" else sparsities,
                         seeds=seeds, epochs=epochs, dense_epochs=dense_epochs,
                         rewind=None if rewind is None else REWIND[rewind], batch_size=batch_size,
                         learning_rate=learning_rate, data_dir=data_dir)
    _check_model_and_data(config)
    started = time.perf_counter()
    found = run_sweep(config, output, functools.partial(_build, config.model), workers=workers,
                      progress=not quiet, argument="--output")
    seconds = time.perf_counter() - started
    paths = write_report(output, read_records(output))
    click.echo(open(paths["report.md"], encoding="utf-8").read())
    missing = len(config.runs()) - len(found)
    failed = sum(1 for r in found if r["status"] != "done")
    click.echo(f"{len(found)} of {len(config.runs())} runs recorded ({failed} failed) in {seconds:.0f} s"
               + (f"; {missing} unfinished: run the same command again to continue" if missing else ""))
    for path in paths.values():
        click.echo(f"wrote {os.path.relpath(path)}")


def _build(model, input_shape, num_classes, seed):
    from tfprune.cli.models import bench_model

    return bench_model(model, input_shape, num_classes, seed)


def _check_model_and_data(config):
    """Before anything is written: the data set loads and the model fits it."""
    from tfprune import data
    from tfprune.cli.models import BUILTIN_MODELS

    if config.model not in BUILTIN_MODELS:
        from tfprune.saving import check_model_file

        if not os.path.exists(config.model):
            raise ValueError(f"--model {config.model!r}: neither a built-in model ({', '.join(BUILTIN_MODELS)}) "
                             "nor an existing model file")
        check_model_file(config.model, "--model")
    splits = data.load(config.dataset, batch_size=config.batch_size, seed=0, data_dir=config.data_dir)
    _build(config.model, splits.input_shape, splits.num_classes, 0)
