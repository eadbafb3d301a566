"""Command line: ``tfprune prune`` (the main job) and friends.

``tfprune prune`` with no arguments trains the built-in model on the offline ``digits`` data,
prunes it with LAMP to 90% sparsity on a gradual schedule while fine-tuning, strips it and
writes model.keras, report.md, report.json and sparsity.png to ./tfprune-output.
"""


import click

from tfprune.cli._errors import clean_errors
from tfprune.cli.export import export_options

SCHEDULES = ("gradual", "oneshot", "iterative")


def make_schedule(kind, sparsity, total_steps):
    """The CLI's schedules over ``total_steps`` fine-tuning steps.

    gradual: cubic ramp over the first two thirds, pruning ~10 times; iterative: 20% of the
    remaining weights per round, rounds spread evenly; oneshot: prune before fine-tuning.
    """
    from tfprune import schedules

    if kind == "oneshot":
        return schedules.OneShot(sparsity)
    if kind == "gradual":
        end = max(1, (2 * total_steps) // 3)
        return schedules.Gradual(sparsity, end_step=end, frequency=max(1, end // 10))
    rounds = schedules.Iterative(sparsity, steps_per_round=1).rounds
    if rounds == 0:
        return schedules.OneShot(sparsity)
    return schedules.Iterative(sparsity, steps_per_round=max(1, total_steps // rounds))


def load_or_train(model_path, splits, epochs, seed, quiet):
    """The user's model (already trained), or the built-in model trained dense for ``epochs``."""
    from tfprune.cli._output import load_user_model
    from tfprune.cli.models import compile_for_classification, default_model
    from tfprune.cli.progress import EpochProgress

    if model_path:
        return compile_for_classification(load_user_model(model_path, splits))
    model = compile_for_classification(default_model(splits.input_shape, splits.num_classes, seed=seed))
    model.fit(splits.train, validation_data=splits.validation, epochs=epochs, verbose=0,
              callbacks=[EpochProgress("dense training", disable=quiet)])
    return model


@click.command("prune")
@click.option("--model", "model_path", type=click.Path(exists=True), default=None,
              help="A trained tf_keras model (.keras, .h5 or SavedModel). Default: train the built-in model.")
@click.option("--dataset", default="digits", show_default=True, help="digits, mnist1d or any TFDS name.")
@click.option("--data-dir", default=None, help="TFDS data folder.")
@click.option("--allocation", type=click.Choice(["lamp", "global", "uniform", "uniform+", "erk"]),
              default="lamp", show_default=True)
@click.option("--sparsity", type=float, default=0.9, show_default=True, help="Overall fraction of weights removed.")
@click.option("--schedule", type=click.Choice(SCHEDULES), default="gradual", show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Fine-tuning epochs (also dense training epochs for the built-in model).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--jit/--no-jit", default=False, show_default=True, help="Compile training with XLA.")
@click.option("--output", type=click.Path(file_okay=False), default="tfprune-output", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@export_options
@clean_errors
def prune_command(model_path, dataset, data_dir, allocation, sparsity, schedule, epochs, batch_size, seed, jit,
                  output, quiet, export_path, export_quantize):
    """Prune a model (default: the built-in one on digits) and write model, report and plot."""
    import tfprune
    from tfprune import data
    from tfprune.allocation import budget
    from tfprune.backend import tf
    from tfprune.cli.models import compile_for_classification
    from tfprune.cli.progress import EpochProgress
    from tfprune.cli._output import check_export_path, finish

    budget.check_sparsity(sparsity, "--sparsity")
    check_export_path(export_path, output)
    tf.keras.utils.set_random_seed(seed)
    splits = data.load(dataset, batch_size=batch_size, seed=seed, data_dir=data_dir)
    dense = load_or_train(model_path, splits, epochs, seed, quiet)
    dense_accuracy = float(dense.evaluate(splits.test, verbose=0)[1])
    steps_per_epoch = int(splits.train.cardinality().numpy())
    plan = make_schedule(schedule, sparsity, epochs * steps_per_epoch)
    pruned = compile_for_classification(tfprune.prune(dense, allocation=allocation, schedule=plan), jit_compile=jit)
    pruned.fit(splits.train, validation_data=splits.validation, epochs=epochs, verbose=0,
               callbacks=tfprune.callbacks(pruned) + [EpochProgress(f"pruning ({allocation})", disable=quiet)])
    stripped = compile_for_classification(tfprune.strip(pruned))
    accuracy = {"dense": dense_accuracy, "pruned": float(stripped.evaluate(splits.test, verbose=0)[1])}
    summary = tfprune.sparsity_summary(stripped)
    settings = {
        "model": model_path or "built-in", "dataset": dataset, "allocation": allocation, "sparsity": sparsity,
        "schedule": type(plan).__name__, "epochs": epochs, "batch_size": batch_size, "seed": seed, "jit": jit,
    }
    finish(output, stripped, summary, accuracy, settings,
           f"{allocation} on {dataset}: {summary['total']['sparsity']:.1%} sparse",
           f"test accuracy: dense {accuracy['dense']:.4f} -> pruned {accuracy['pruned']:.4f}",
           splits, export_path, export_quantize)
