"""``tfprune prune``: prune a trained model while fine-tuning it, write the results.

With no arguments it trains the built-in model on the offline ``digits`` data, prunes it with
LAMP to 90% sparsity on a gradual schedule while fine-tuning, strips it and writes
model.keras, report.md, report.json and sparsity.png to ./tfprune-output.
"""

import click

from tfprune.cli import _options
from tfprune.cli._errors import clean_errors

#: Where each schedule reaches its target, as a fraction of the fine-tuning steps
#: (registered schedules not listed use their own ``for_run`` default).
END_FRACTIONS = {"gradual": 2 / 3, "iterative": 1.0}


def schedule_for_run(name, sparsity, total_steps):
    """The registered schedule ``name`` fitted to ``total_steps`` fine-tuning steps.

    ``SCHEDULES.get(name).load().for_run(...)``: gradual ramps over the first two thirds
    (about ten pruning events), iterative spreads its rounds over all the steps, oneshot
    prunes before fine-tuning. Raises :class:`tfprune.schedules.ScheduleTooShort` when the
    run is too short for the schedule.
    """
    from tfprune.schedules import SCHEDULES

    kind = SCHEDULES.get(name).load()
    if name in END_FRACTIONS:
        return kind.for_run(sparsity, total_steps, end_fraction=END_FRACTIONS[name])
    return kind.for_run(sparsity, total_steps)


def _fitted_schedule(name, sparsity, epochs, steps_per_epoch, batch_size):
    from tfprune.schedules import ScheduleTooShort

    try:
        return schedule_for_run(name, sparsity, epochs * steps_per_epoch)
    except ScheduleTooShort as error:
        raise click.ClickException(
            f"--schedule {name}: {error}. At --batch-size {batch_size} an epoch is {steps_per_epoch} steps: "
            f"raise --epochs (now {epochs}) or lower --batch-size"
        ) from None


@click.command("prune")
@_options.model_options("A trained tf_keras model (.keras, .h5 or SavedModel; a Keras 3 .keras/.h5 file is converted); its "
                        "compiled loss is kept. "
                        "Default: train the built-in model.")
@_options.allocation_option("lamp")
@_options.training_options("Fine-tuning epochs (also dense training epochs for the built-in model).")
@click.option("--schedule", type=_options.RegistryChoice(_options.schedule_names), default="gradual",
              show_default=True, help="When to prune while fine-tuning (a registered schedule).")
@_options.run_options
@clean_errors(options={"quantize": "--export-quantize", "name": "--dataset"})
def prune_command(model_path, allow_lambda, dataset, data_dir, allocation, sparsity, epochs, batch_size,
                  schedule, seed, jit, output, quiet, export_path, export_quantize):
    """Prune a model (default: the built-in one on digits) and write model, report and plot."""
    import tfprune
    from tfprune.cli._output import finish
    from tfprune.cli.models import compile_for_classification
    from tfprune.cli.progress import fit

    splits = _options.start_run(sparsity, export_path, output, dataset, data_dir, batch_size, seed,
                                model_path)
    steps_per_epoch = int(splits.train.cardinality().numpy())
    plan = _fitted_schedule(schedule, sparsity, epochs, steps_per_epoch, batch_size)
    dense, loss = _options.model_and_loss(model_path, splits, seed, allow_lambda)
    compile_for_classification(dense, loss=loss)
    if not model_path:
        fit(dense, splits, epochs, "dense training", quiet)
    dense_accuracy = float(dense.evaluate(splits.test, verbose=0)[1])
    pruned = compile_for_classification(tfprune.prune(dense, allocation=allocation, schedule=plan),
                                        jit_compile=jit, loss=loss)
    rounds = tfprune.RoundLog(eval_data=splits.validation) if schedule == "iterative" else None
    fit(pruned, splits, epochs, f"pruning ({allocation})", quiet,
        callbacks=tfprune.callbacks(pruned) + ([rounds] if rounds else []))
    stripped = compile_for_classification(tfprune.strip(pruned), loss=loss)
    accuracy = {"dense": dense_accuracy, "pruned": float(stripped.evaluate(splits.test, verbose=0)[1])}
    settings = {
        "model": model_path or "built-in", "dataset": dataset, "allocation": allocation, "sparsity": sparsity,
        "schedule": type(plan).__name__, "epochs": epochs, "batch_size": batch_size, "seed": seed, "jit": jit,
    }
    finish(output, stripped, accuracy, settings, f"{allocation} on {dataset}",
           f"test accuracy: dense {accuracy['dense']:.4f} -> pruned {accuracy['pruned']:.4f}",
           splits, export_path, export_quantize, rounds=rounds.records if rounds else None)
