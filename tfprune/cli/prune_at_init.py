"""``tfprune prune-at-init``: prune an untrained model before training, train it, write the results.

Same output folder as ``tfprune prune``: model.keras (stripped), report.md, report.json and
sparsity.png (per-layer sparsity and test accuracy); ``--export x.tflite`` as in ``tfprune prune``.
"""

import click

from tfprune.cli._errors import clean_errors
from tfprune.cli.export import export_options

_SCORES = ("snip", "grasp", "synflow", "sbp-si", "magnitude", "random")
_ALLOCATIONS = ("global", "lamp", "uniform", "uniform+", "erk")


@click.command("prune-at-init")
@click.option("--model", "model_path", type=click.Path(exists=True), default=None,
              help="An UNTRAINED tf_keras model (.keras, .h5 or SavedModel). Default: the built-in model, "
                   "freshly initialised with --seed.")
@click.option("--dataset", default="digits", show_default=True, help="digits, mnist1d or any TFDS name.")
@click.option("--data-dir", default=None, help="TFDS data folder.")
@click.option("--score", type=click.Choice(_SCORES), default="snip", show_default=True,
              help="Saliency used to choose the mask before training.")
@click.option("--allocation", type=click.Choice(_ALLOCATIONS), default="global", show_default=True)
@click.option("--sparsity", type=float, default=0.9, show_default=True, help="Overall fraction of weights removed.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Training epochs of the pruned model.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--learning-rate", type=click.FloatRange(min=0.0, min_open=True), default=1e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--min-per-layer", type=click.IntRange(min=0), default=0, show_default=True,
              help="Collapse guard: weights every layer keeps.")
@click.option("--min-per-unit", type=click.IntRange(min=0), default=0, show_default=True,
              help="Collapse guard: incoming weights every output unit keeps.")
@click.option("--activation", type=click.Choice(["relu", "tanh", "elu"]), default=None,
              help="Edge-of-Chaos activation for --score sbp-si (default: inferred from the model).")
@click.option("--samples-per-class", type=click.IntRange(min=1), default=10, show_default=True,
              help="Class-balanced scoring batch of snip, grasp and sbp-si.")
@click.option("--iterations", type=click.IntRange(min=1), default=100, show_default=True,
              help="SynFlow pruning iterations.")
@click.option("--jit/--no-jit", default=False, show_default=True, help="Compile training with XLA.")
@click.option("--output", type=click.Path(file_okay=False), default="tfprune-output", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@export_options
@clean_errors
def prune_at_init_command(model_path, dataset, data_dir, score, allocation, sparsity, epochs, batch_size,
                          learning_rate, seed, min_per_layer, min_per_unit, activation, samples_per_class,
                          iterations, jit, output, quiet, export_path, export_quantize):
    """Prune an untrained model at initialisation (masks frozen), train it, write model, report and plot."""
    import warnings

    import tfprune
    from tfprune import data
    from tfprune.allocation import budget
    from tfprune.at_init import prune_at_init
    from tfprune.collapse import CollapseWarning
    from tfprune.backend import keras, tf
    from tfprune.cli.models import default_model
    from tfprune.cli.progress import EpochProgress
    from tfprune.cli._output import check_export_path, finish, load_user_model
    from tfprune.scoring._common import output_activation

    budget.check_sparsity(sparsity, "--sparsity")
    check_export_path(export_path, output)
    tf.keras.utils.set_random_seed(seed)
    splits = data.load(dataset, batch_size=batch_size, seed=seed, data_dir=data_dir)
    if model_path:
        model = load_user_model(model_path, splits)
    else:
        model = default_model(splits.input_shape, splits.num_classes, seed=seed)
    options = {}
    if score in ("snip", "grasp", "sbp-si"):
        options["samples_per_class"] = samples_per_class
    if score == "synflow":
        options["iterations"] = iterations
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CollapseWarning)
        pruned, info = prune_at_init(
            model, sparsity, score=score, allocation=allocation, data=splits, min_per_layer=min_per_layer,
            min_per_unit=min_per_unit, activation=activation, seed=seed, score_options=options,
        )
    for warning in caught:
        if issubclass(warning.category, CollapseWarning):
            click.echo(f"warning: {warning.message}", err=True)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    probabilities = output_activation(model) == "softmax"
    pruned.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities),
        metrics=["accuracy"],
        jit_compile=jit,
    )
    pruned.fit(splits.train, validation_data=splits.validation, epochs=epochs, verbose=0,
               callbacks=tfprune.callbacks(pruned) + [EpochProgress(f"training ({score} at init)", disable=quiet)])
    accuracy = {"pruned at init": float(pruned.evaluate(splits.test, verbose=0)[1])}
    stripped = tfprune.strip(pruned)
    stripped.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities),
                     metrics=["accuracy"])
    summary = tfprune.sparsity_summary(stripped)
    report = info["report"]
    settings = {
        "model": model_path or "built-in", "dataset": dataset, "score": score, "allocation": allocation,
        "sparsity": sparsity, "schedule": "at initialisation (masks frozen)", "epochs": epochs,
        "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed,
        "min_per_layer": min_per_layer, "min_per_unit": min_per_unit, "jit": jit,
        "connected": report["connected"],
        "dead_units": {name: len(units) for name, units in report["dead_units"].items()},
    }
    if score == "sbp-si":
        settings["activation"] = info["activation"]
    finish(output, stripped, summary, accuracy, settings,
           f"{score} at init on {dataset}: {summary['total']['sparsity']:.1%} sparse",
           f"test accuracy after training: {accuracy['pruned at init']:.4f}",
           splits, export_path, export_quantize)
