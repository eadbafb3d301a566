"""The ``tfprune regimes`` command: the three-regime sweep (Zhou et al., ICML 2023) from the shell.

Example::

    tfprune regimes --temperature epochs:2,4,8,16 --densities 0.05,0.1,0.2,0.4,0.8

trains the built-in BatchNorm model on the offline ``digits`` data (or ``--dataset mnist1d``, any
prepared TFDS name, or the architecture of ``--model``) and writes the phase diagram, the table
(results.json) and the report with advice to ``--out``. Rerunning the same command resumes an
interrupted sweep. TensorFlow is imported inside the command only.
"""

from __future__ import annotations


import click

from tfprune._validate import is_real
from tfprune.cli._errors import clean_errors
from tfprune.cli._options import allow_lambda_option

#: The temperature kinds, as in :data:`tfprune.diagnostics.trainers.KINDS` (kept here so that
#: ``--help`` imports no TensorFlow).
KINDS = ("epochs", "learning_rate", "batch_size", "rho")


def parse_temperature(text: str) -> tuple[str, list]:
    """``"epochs:2,4,8"`` -> ``("epochs", [2, 4, 8])``; a ValueError naming the option otherwise."""
    kind, sep, values = str(text).partition(":")
    if not sep or kind not in KINDS:
        raise ValueError(f"--temperature {text!r}: expected KIND:V1,V2,... with KIND one of {list(KINDS)} "
                         "(e.g. epochs:2,4,8,16)")
    integer = kind in ("epochs", "batch_size")
    return kind, parse_numbers(values, "--temperature", integer=integer)


def parse_numbers(text: str, option: str, integer: bool = False) -> list:
    """``"0.1,0.2"`` -> ``[0.1, 0.2]`` (ints when ``integer``); a ValueError naming ``option`` otherwise."""
    try:
        values = [int(v) if integer else float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected comma-separated {'integers' if integer else 'numbers'}") \
            from None
    if not values or not all(is_real(v) for v in values):
        raise ValueError(f"{option} {text!r}: expected at least one value")
    return values


@click.command("regimes")
@click.option("--temperature", default="epochs:2,4,8,16", show_default=True,
              help="KIND:V1,V2,... with KIND epochs, learning_rate, batch_size or rho (SAM).")
@click.option("--densities", default="0.05,0.1,0.2,0.4,0.8", show_default=True,
              help="Fractions of prunable weights kept (sparsity = 1 - density).")
@click.option("--dataset", default="digits", show_default=True, help="digits, mnist1d or a prepared TFDS name.")
@click.option("--data-dir", default=None, help="TFDS data folder.")
@click.option("--model", "model_path", type=click.Path(exists=True), default=None,
              help="A tf_keras (or Keras 3, converted) model file whose architecture is used (re-initialised). "
                   "Default: the built-in "
                   "BatchNorm CNN (images) or MLP.")
@click.option("--allocation", default="uniform", show_default=True, help="Pruning allocation (the paper: uniform).")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Dense epochs when not the temperature.")
@click.option("--retrain-epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Retraining epochs of each sparse model.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True,
              help="Adam learning rate (base).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True, help="Batch size (base).")
@click.option("--seeds", default="1,2", show_default=True, help="The two retraining seeds.")
@click.option("--points", type=click.IntRange(min=3), default=11, show_default=True,
              help="Points on the connectivity path.")
@click.option("--cka-batches", type=click.IntRange(min=1), default=10, show_default=True,
              help="Training batches for CKA.")
@click.option("--mc-threshold", default=-0.02, show_default=True, help="Regime I when mc is below this.")
@click.option("--cka-threshold", default=0.95, show_default=True, help="Regime II-A when CKA is below this.")
@click.option("--out", "out_dir", default="tfprune-regimes", show_default=True,
              help="Output folder (resumable records, diagram, report).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@allow_lambda_option
@clean_errors
def regimes_command(temperature, densities, dataset, data_dir, model_path, allocation, epochs, retrain_epochs,
                    learning_rate, batch_size, seeds, points, cka_batches, mc_threshold, cka_threshold, out_dir,
                    quiet, allow_lambda):
    """Sweep a training temperature x pruning density; label each cell I / II-A / II-B; advise."""
    kind, temperatures = parse_temperature(temperature)
    density_values = parse_numbers(densities, "--densities")
    seed_values = parse_numbers(seeds, "--seeds", integer=True)
    from tfprune import data
    from tfprune.diagnostics.regimes import Thresholds
    from tfprune.diagnostics.sweep import sweep
    from tfprune.diagnostics.trainers import bn_model, make_trainer

    thresholds = Thresholds(mc=mc_threshold, cka=cka_threshold)
    splits = data.load(dataset, batch_size=batch_size, data_dir=data_dir)
    build = _user_builder(model_path, splits, allow_lambda) if model_path else \
        (lambda seed: bn_model(splits.input_shape, splits.num_classes, seed=seed))
    train = make_trainer(kind, splits.numpy("train"), epochs=epochs, learning_rate=learning_rate,
                         batch_size=batch_size, retrain_epochs=retrain_epochs)
    result = sweep(build, train, temperatures, density_values, train_data=splits.numpy("train"),
                   test_data=splits.numpy("test"), out_dir=out_dir, seeds=seed_values, allocation=allocation,
                   thresholds=thresholds, points=points, cka_batches=cka_batches, temperature_name=kind,
                   progress=not quiet)
    for path in result.write().values():
        click.echo(f"wrote {path}")
    for record in result.records:
        click.echo(f"{kind}={record['temperature']:g} density={record['density']:g}: regime {record['regime']} "
                   f"(mc {record['mc']:+.4f}, CKA {record['cka']:.4f}), pruned test accuracy "
                   f"{100 * record['test_accuracy']:.2f}%")


def _user_builder(model_path, splits, allow_lambda=False):
    """``build(seed)``: the architecture of the ``--model`` file with fresh weights."""
    from tfprune.backend import keras
    from tfprune.cli._options import check_fits, load_cli_model

    template = load_cli_model(model_path, compile=False, allow_lambda=allow_lambda)
    check_fits(template, model_path, splits)

    def build(seed):
        keras.utils.set_random_seed(seed)
        return keras.models.clone_model(template)

    return build
