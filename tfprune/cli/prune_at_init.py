"""``tfprune prune-at-init``: prune an untrained model before training, train it, write the results.

Same output folder as ``tfprune prune``: model.keras (stripped), report.md, report.json and
sparsity.png (per-layer sparsity and test accuracy); ``--export x.tflite`` as in ``tfprune prune``.
"""

import click

from tfprune.cli import _options
from tfprune.cli._errors import clean_errors


def score_options(score, **values):
    """The options among ``values`` that scorer ``score`` (or its multi-round runner, for
    SynFlow) takes as named parameters: ``samples_per_class`` for snip, grasp and sbp-si,
    ``iterations`` for synflow, and whatever a registered scorer declares."""
    import inspect

    from tfprune.registry import load
    from tfprune.scoring import SCORERS

    entry = SCORERS.get(score)
    function = load(entry.runner) if entry.runner else entry.load()
    accepted = inspect.signature(function).parameters
    return {name: value for name, value in values.items() if name in accepted}


@click.command("prune-at-init")
@_options.model_options("An UNTRAINED tf_keras model (.keras, .h5 or SavedModel; a Keras 3 .keras/.h5 file is converted); "
                        "its compiled loss is kept. "
                        "Default: the built-in model, freshly initialised with --seed.")
@click.option("--score", type=_options.RegistryChoice(_options.score_names), default="snip", show_default=True,
              help="Saliency used to choose the mask before training (a registered scorer).")
@_options.allocation_option("global")
@_options.training_options("Training epochs of the pruned model.")
@click.option("--learning-rate", type=click.FloatRange(min=0.0, min_open=True), default=1e-3, show_default=True)
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
@_options.run_options
@clean_errors(options={"quantize": "--export-quantize", "name": "--dataset"})
def prune_at_init_command(model_path, allow_lambda, dataset, data_dir, score, allocation, sparsity, epochs,
                          batch_size, learning_rate, min_per_layer, min_per_unit, activation, samples_per_class,
                          iterations, seed, jit, output, quiet, export_path, export_quantize):
    """Prune an untrained model at initialisation (masks frozen), train it, write model, report and plot."""
    import tfprune
    from tfprune.cli._output import finish
    from tfprune.cli.models import compile_for_classification
    from tfprune.cli.progress import fit

    splits = _options.start_run(sparsity, export_path, output, dataset, data_dir, batch_size, seed,
                                model_path)
    model, loss = _options.model_and_loss(model_path, splits, seed, allow_lambda)
    pruned, info = tfprune.prune_at_init(
        model, sparsity, score=score, allocation=allocation, data=splits, min_per_layer=min_per_layer,
        min_per_unit=min_per_unit, activation=activation, seed=seed,
        score_options=score_options(score, samples_per_class=samples_per_class, iterations=iterations),
    )
    compile_for_classification(pruned, learning_rate=learning_rate, jit_compile=jit, loss=loss)
    fit(pruned, splits, epochs, f"training ({score} at init)", quiet, callbacks=tfprune.callbacks(pruned))
    accuracy = {"pruned at init": float(pruned.evaluate(splits.test, verbose=0)[1])}
    stripped = compile_for_classification(tfprune.strip(pruned), loss=loss)
    report = info["report"]
    settings = {
        "model": model_path or "built-in", "dataset": dataset, "score": score, "allocation": allocation,
        "sparsity": sparsity, "schedule": "at initialisation (masks frozen)", "epochs": epochs,
        "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed,
        "min_per_layer": min_per_layer, "min_per_unit": min_per_unit, "jit": jit,
        "connected": report["connected"],
        "dead_units": {name: len(units) for name, units in report["dead_units"].items()},
    }
    if info["activation"] is not None:
        settings["activation"] = info["activation"]
    finish(output, stripped, accuracy, settings, f"{score} at init on {dataset}",
           f"test accuracy after training: {accuracy['pruned at init']:.4f}",
           splits, export_path, export_quantize)
