"""``tfprune select`` and ``tfprune select-study``: structured pruning from the command line.

TensorFlow is imported inside the commands only.
"""

from __future__ import annotations

import json
import os

import click

from tfprune.cli._errors import clean_errors
from tfprune.cli._options import allow_lambda_option
from tfprune.structured import SELECTORS

#: The files ``tfprune select`` writes into ``--output`` (with model.keras).
SELECT_FILES = ("model.keras", "report.json", "widths.png")


def plot_widths(report) -> bytes:
    """A bar chart of the channels per group before and after selection, as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report.widths)
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(names) + 2), 3.2))
    ax.bar([i - 0.2 for i in x], [report.widths[n]["before"] for n in names], 0.4, label="before")
    ax.bar([i + 0.2 for i in x], [report.widths[n]["after"] for n in names], 0.4, label="after")
    ax.set_xticks(list(x), names, rotation=30, ha="right")
    ax.set_ylabel("channels")
    ax.set_title(f"{report.method}: {report.params_before:,} -> {report.params_after:,} parameters")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return buffer.getvalue()


@click.command("select")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=True), required=True,
              help="A trained tf_keras classifier with logits output (.keras/.h5/SavedModel; Keras 3 files are "
                   "converted).")
@click.option("--dataset", default="digits", show_default=True, help="digits, mnist1d or any TFDS name.")
@click.option("--data-dir", default=None, help="TFDS data folder.")
@click.option("--method", type=click.Choice(SELECTORS.names()), default="greedy", show_default=True,
              help="A registered selector (tfprune.structured.SELECTORS).")
@click.option("--width", type=float, default=None, help="Fraction of each layer's channels kept, in (0, 1].")
@click.option("--tolerance", type=float, default=None,
              help="greedy: stop a layer once accuracy is within this of the unpruned model (default 0.02).")
@click.option("--candidates", type=click.IntRange(min=1), default=50, show_default=True,
              help="greedy: channels evaluated per step.")
@click.option("--finetune-epochs", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--output", type=click.Path(file_okay=False), default="tfprune-output", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--export", "export_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the narrow model as a verified float32 .tflite file here.")
@allow_lambda_option
@clean_errors
def select_command(model_path, dataset, data_dir, method, width, tolerance, candidates, finetune_epochs,
                   seed, output, quiet, export_path, allow_lambda):
    """Remove whole neurons/filters of a trained model (greedy forward selection, L1, LAMP or random) and
    write the narrower model (model.keras), report.json and widths.png to OUTPUT."""
    from tfprune import data
    from tfprune.backend import tf
    from tfprune.cli._options import check_fits, load_cli_model
    from tfprune.cli._output import check_paths, write_folder
    from tfprune.structured import select
    from tfprune.structured.pipeline import check_arguments

    options = {"candidates": candidates} if method == "greedy" else {}
    check_arguments(method, width, tolerance, options)
    check_paths(output, model_path, export_path, files=SELECT_FILES)
    tf.keras.utils.set_random_seed(seed)
    splits = data.load(dataset, seed=seed, data_dir=data_dir)
    model = load_cli_model(model_path, compile=False, allow_lambda=allow_lambda)
    check_fits(model, model_path, splits)
    small, report = select(model, splits, method, width=width, tolerance=tolerance, seed=seed,
                           progress=not quiet, finetune_epochs=finetune_epochs, **options)
    written = write_folder(output, small, {"report.json": json.dumps(report.to_dict(), indent=2).encode(),
                                           "widths.png": plot_widths(report)})
    click.echo(report.format())
    for path in written:
        click.echo(f"wrote {os.path.relpath(path)}")
    if export_path:
        from tfprune.export import to_tflite

        result = to_tflite(small, export_path, sparse=False, verify_data=splits.numpy("test")[0])
        click.echo(f"exported {export_path}: {result.bytes_raw:,} bytes, max |LiteRT - Keras| "
                   f"{result.max_abs_error:.2e}")


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise ValueError(f"{option}={text!r}: expected comma-separated integers, e.g. 250,500,1000")
    return values


@click.command("select-study")
@click.option("--dataset", default="mnist1d", show_default=True, help="digits, mnist1d or any TFDS name.")
@click.option("--data-dir", default=None, help="TFDS data folder.")
@click.option("--sizes", default="250,500,1000,2000", show_default=True, help="Dataset sizes m.")
@click.option("--checkpoints", default="0,25,50,100,200,400,800", show_default=True,
              help="Pre-training SGD iterations t at which greedy selection runs.")
@click.option("--hidden", type=click.IntRange(min=2), default=256, show_default=True)
@click.option("--keep", type=click.IntRange(min=1), default=32, show_default=True, help="Neurons selected.")
@click.option("--threshold", type=float, default=None, help="Training loss defining t* (default: reached by every m).")
@click.option("--candidates", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--output", type=click.Path(file_okay=False), default="tfprune-study", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@clean_errors
def select_study_command(dataset, data_dir, sizes, checkpoints, hidden, keep, threshold, candidates, seed, output,
                         quiet):
    """Pre-training budget study (Wolfe et al.): subnetwork training loss vs pre-training iterations
    for several dataset sizes; writes study.csv, loss_vs_t.png and t_star_vs_m.png to OUTPUT."""
    sizes, checkpoints = _int_list(sizes, "--sizes"), _int_list(checkpoints, "--checkpoints")
    from tfprune import data, io
    from tfprune.structured import pretraining_study

    io.check_folder(output, "--output")

    x, y = data.load(dataset, seed=seed, data_dir=data_dir).numpy("train")
    result = pretraining_study(x, y, sizes, checkpoints, hidden=hidden, keep=keep, threshold=threshold,
                               candidates=candidates, seed=seed, output=output, progress=not quiet)
    click.echo(result.table())
    click.echo(f"threshold {result.threshold:.4f}; t* by m: {result.t_star}")
    if result.fit is not None:
        click.echo(f"fit: t* = {result.fit[0]:.1f} + {result.fit[1]:.1f} log m")
