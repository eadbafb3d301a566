"""``tfprune tune``: search over pruning settings of a small dense network on a data set.

Writes into ``--output``: ``search/`` (the Keras Tuner project: trials, checkpoints; resumed
when run again without ``--overwrite``), ``pareto.md`` + ``pareto.png`` (accuracy-sparsity
front), ``best_model.keras`` (the best feasible trial's model, stripped of the pruning
wrappers) and ``best.json``; all written atomically.

Distributed: run the same command as a chief and workers with ``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` set (a shared ``--output`` folder);
the chief writes the reports when the workers are done.
"""

import json
import os

import click

from tfprune.cli import _options
from tfprune.cli._errors import clean_errors
from tfprune.cli._options import RegistryChoice, attribute_of


def _schedule_names():
    """Registered schedules plus ``at_init`` (pruning at initialisation, masks frozen)."""
    return [*_options.schedule_names(), "at_init"]


def _parse_range(text):
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise click.BadParameter(f"{text!r}: give one number or 'low,high', e.g. 0.5,0.95") from None
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return tuple(values)
    raise click.BadParameter(f"{text!r}: give one number or 'low,high', e.g. 0.5,0.95")


def default_build(input_shape, num_classes):
    """The CLI's model family: Flatten -> Dense(units, relu) -> Dense(classes), tuned units and lr."""
    from tfprune.backend import keras
    from tfprune.cli.models import compile_for_classification

    def build(hp):
        model = keras.Sequential(
            [
                keras.layers.Input(shape=input_shape),
                keras.layers.Flatten(),
                keras.layers.Dense(hp.Choice("units", [32, 64, 128]), activation="relu"),
                keras.layers.Dense(num_classes),
            ]
        )
        return compile_for_classification(model, learning_rate=hp.Choice("learning_rate", [1e-3, 3e-3, 1e-2]))

    return build


@click.command("tune")
@_options.dataset_option()
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--oracle", type=RegistryChoice(attribute_of("tfprune.tuning.tuner", "ORACLES")), default="random",
              show_default=True)
@click.option("--max-trials", type=click.IntRange(min=1), default=8, show_default=True,
              help="Trials to run (for hyperband: a cap).")
@click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Epochs per trial (hyperband: the most epochs a trial trains).")
@click.option("--min-sparsity", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Constraint: best accuracy among trials at least this sparse.")
@click.option("--max-size-kb", type=click.FloatRange(0, min_open=True), default=None,
              help="Constraint: best accuracy among trials at most this size (KB = 1024 bytes).")
@click.option("--size", "size_method", type=RegistryChoice(attribute_of("tfprune.tuning.objectives", "SIZE_METHODS")),
              default="estimate", show_default=True,
              help="How the size is measured: sparse-storage estimate or exported TFLite file.")
@click.option("--sparsity", "sparsity_spec", default="0.5,0.95", show_default=True,
              help="Target sparsity: a number or a range 'low,high'.")
@_options.allocation_option(None, "allocations", multiple=True,
                            help="Allocations to search (repeatable; default: all registered).")
@click.option("--schedule", "schedules", multiple=True, type=RegistryChoice(_schedule_names),
              help="Schedules to search (repeatable; default: oneshot, gradual, iterative).")
@click.option("--score", "scores", multiple=True, type=RegistryChoice(_options.score_names),
              help="With --schedule at_init: at-initialisation scores to search (repeatable; default: snip, "
                   "synflow, magnitude).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Start afresh instead of resuming a search in --output.")
@click.option("--quiet", "-q", is_flag=True, help="No per-trial progress.")
@clean_errors(options={"name": "--dataset"})
def tune_command(dataset, output, oracle, max_trials, epochs, min_sparsity, max_size_kb, size_method,
                 sparsity_spec, allocations, schedules, scores, batch_size, seed, overwrite, quiet):
    """Search target sparsity, allocation and schedule (plus width and learning rate) on --dataset."""
    import tfprune
    from tfprune import data as data_module
    from tfprune.io import atomic_path, check_folder, write_text
    from tfprune.tuning import PruningHyperModel, PruningTuner
    from tfprune.tuning.hypermodel import DEFAULT_SCHEDULES
    from tfprune.tuning.tuner import _has_chief_oracle, _is_chief
    from keras_tuner.src import config as kt_config

    check_folder(output, "--output")
    splits = data_module.load(dataset, batch_size=batch_size, seed=seed)
    _options.check_batch_size(splits, batch_size)
    hypermodel = PruningHyperModel(
        default_build(splits.input_shape, splits.num_classes),
        sparsity=_parse_range(sparsity_spec),
        allocation=list(allocations) or sorted(_options.allocation_names()),
        schedule=list(schedules) or list(DEFAULT_SCHEDULES),
        **({"score": list(scores)} if scores else {}),
    )
    options = dict(max_trials=max_trials)
    if oracle == "hyperband":
        options["max_epochs"] = epochs
    tuner = PruningTuner(
        hypermodel,
        oracle,
        min_sparsity=min_sparsity,
        max_size_kb=max_size_kb,
        size=size_method,
        seed=seed,
        directory=output,
        project_name="search",
        overwrite=overwrite,
        **options,
    )

    distributed = _has_chief_oracle()
    role = ("chief" if _is_chief() else f"worker {tuner.tuner_id}") if distributed else None
    done = len(tuner.results())
    if not quiet:
        objective = tuner.constraint.describe() if tuner.constraint else f"max {tuner.metric}"
        click.echo(f"tfprune tune: {dataset}, oracle={oracle}, objective: {objective}"
                   + (f", resuming with {done} finished trials" if done else "") + (f" [{role}]" if role else ""))

    kt_config.DEBUG = False  # Keras Tuner prints every failed trial's traceback; the tuner prints one line

    def training_data():  # made afresh for every trial: the same order for a trial run again
        return data_module.load(dataset, batch_size=batch_size, seed=seed).train

    try:
        tuner.search(training_data, validation_data=splits.validation, epochs=epochs, verbose=0 if quiet else 2)
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        raise click.ClickException(_failures(error, tuner)) from None
    if distributed and not _is_chief():
        if not quiet:
            click.echo(f"tfprune tune: {role} finished")
        return

    report = tuner.pareto_report(output)
    best_trials = tuner.get_best_trials(1)
    if not best_trials:
        raise click.ClickException(
            f"no completed trial satisfies the objective ({tuner.constraint.describe() if tuner.constraint else ''}); "
            f"see {report['table']}"
        )
    best = best_trials[0]
    model = tfprune.strip(tuner.load_model(best))
    with atomic_path(os.path.join(output, "best_model.keras")) as tmp:
        model.save(tmp)
    record = {
        "trial_id": best.trial_id,
        "score": float(best.score),
        "objective": tuner.objective.name,
        "hyperparameters": dict(best.hyperparameters.values),
        "metrics": {n: float(best.metrics.get_last_value(n)) for n in best.metrics.metrics},
        "pareto_front": report["front"],
    }
    write_text(os.path.join(output, "best.json"), json.dumps(record, indent=2) + "\n")
    summary = tfprune.sparsity_summary(model)["total"]
    click.echo(
        f"best trial {best.trial_id}: {tuner.metric}={record['metrics'].get(tuner.metric, float('nan')):.4f}, "
        f"sparsity={summary['sparsity']:.4f}, size={record['metrics'].get('size_kb', float('nan')):.2f} KB"
    )
    click.echo(f"wrote {report['table']}, {report['png']}, {os.path.join(output, 'best_model.keras')}")


def _failures(error, tuner):
    """One line for a search that stopped because its trials kept failing."""
    from tfprune.tuning.tuner import failure_reason

    _, _, traceback = str(error).strip().partition("\n")
    return (f"the search stopped: {tuner.oracle.max_consecutive_failed_trials} trials in a row failed; the last "
            f"failure: {failure_reason(traceback)}; see the trial folders in {tuner.project_dir}")


__all__ = ["tune_command", "default_build"]
