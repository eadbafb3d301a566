"""Options the commands share, choices read from the registries, and the start of a pruning run.

Nothing here imports TensorFlow at import time: the registries (and TensorFlow, for the
schedules) are read when a command runs or shows its help, so a method registered with
``tfprune.allocation.register(...)``, ``tfprune.scoring.register(...)`` or
``tfprune.schedules.register(...)`` before the command runs is one of its choices.
"""

import importlib

import click

#: Quantization modes of ``tfprune export --quantize`` and ``--export-quantize``.
QUANTIZE_CHOICES = ("none", "dynamic", "float16", "int8")


class RegistryChoice(click.ParamType):
    """Like ``click.Choice``, but the choices come from ``names()`` (no arguments), called when
    a value is checked or the help is shown -- not when the command is defined."""

    name = "choice"

    def __init__(self, names):
        self.names = names

    def choices(self):
        return [str(name) for name in self.names()]

    def get_metavar(self, param, ctx=None):
        return "[" + "|".join(self.choices()) + "]"

    def convert(self, value, param, ctx):
        choices = self.choices()
        if value in choices:
            return value
        self.fail(f"{value!r} is not one of {', '.join(map(repr, choices))}.", param, ctx)

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        return [CompletionItem(c) for c in self.choices() if c.startswith(incomplete)]

    def __repr__(self):
        return f"RegistryChoice({getattr(self.names, '__name__', self.names)!r})"


def attribute_of(module, attribute):
    """A function returning ``module.attribute``, imported when called (lazy choices)."""

    def read():
        return getattr(importlib.import_module(module), attribute)

    read.__name__ = f"{module}.{attribute}"
    return read


def allocation_names():
    """Registered allocations (:data:`tfprune.allocation.ALLOCATIONS`)."""
    return attribute_of("tfprune.allocation", "ALLOCATIONS")().names()


def score_names():
    """Registered at-initialisation scorers (:data:`tfprune.scoring.SCORERS`)."""
    return attribute_of("tfprune.scoring", "SCORERS")().names()


def schedule_names():
    """Registered schedules (:data:`tfprune.schedules.SCHEDULES`)."""
    return attribute_of("tfprune.schedules", "SCHEDULES")().names()


def options(*decorators):
    """One decorator applying several click options, listed in the order they are given."""

    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def dataset_option(help="digits, mnist1d or a TFDS name prepared on disk."):
    return click.option("--dataset", default="digits", show_default=True, help=help)


def allocation_option(default, *names, **kwargs):
    return click.option("--allocation", *names, type=RegistryChoice(allocation_names), default=default,
                        show_default=default is not None,
                        help=kwargs.pop("help", "How the sparsity is shared among layers (a registered allocation)."),
                        **kwargs)


def export_options(function):
    """``--export PATH.tflite`` and ``--export-quantize``: export the stripped result as well."""
    return options(
        click.option("--export", "export_path", type=click.Path(dir_okay=False), default=None,
                     help="Also write the stripped model as a verified sparse .tflite file."),
        click.option("--export-quantize", type=click.Choice(QUANTIZE_CHOICES), default="none", show_default=True,
                     help="Quantization for --export (int8 calibrates on the training split)."),
    )(function)


#: ``--allow-lambda``: load model files holding Lambda layers.
allow_lambda_option = click.option(
    "--allow-lambda", is_flag=True,
    help="Load a model file holding Lambda layers (runs the Python code stored in it: only for files you trust).")


def model_options(model_help):
    """``--model``, ``--allow-lambda``, ``--dataset``, ``--data-dir`` of the two pruning commands."""
    return options(
        click.option("--model", "model_path", type=click.Path(exists=True), default=None, help=model_help),
        allow_lambda_option,
        dataset_option(),
        click.option("--data-dir", default=None, help="TFDS data folder."),
    )


def training_options(epochs_help):
    """``--sparsity``, ``--epochs``, ``--batch-size`` of the two pruning commands."""
    return options(
        click.option("--sparsity", type=float, default=0.9, show_default=True,
                     help="Overall fraction of weights removed."),
        click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True, help=epochs_help),
        click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True),
    )


#: ``--seed``, ``--jit``, ``--output``, ``--quiet``, ``--export``, ``--export-quantize``.
run_options = options(
    click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True),
    click.option("--jit/--no-jit", default=False, show_default=True, help="Compile training with XLA."),
    click.option("--output", type=click.Path(file_okay=False), default="tfprune-output", show_default=True),
    click.option("--quiet", is_flag=True, help="No progress bars."),
    export_options,
)


def start_run(sparsity, export_path, output, dataset, data_dir, batch_size, seed, model_path=None):
    """Check ``--sparsity``, ``--model`` and every output location (before any training), seed,
    load the data set."""
    from tfprune import data
    from tfprune._validate import check_sparsity
    from tfprune.backend import tf
    from tfprune.cli._output import check_paths
    from tfprune.saving import check_model_file

    check_sparsity(sparsity, "--sparsity")
    if model_path:
        check_model_file(model_path, "--model")
    check_paths(output, model_path, export_path)
    tf.keras.utils.set_random_seed(seed)
    splits = data.load(dataset, batch_size=batch_size, seed=seed, data_dir=data_dir)
    check_batch_size(splits, batch_size)
    return splits


def check_batch_size(splits, batch_size):
    """Refuse a ``--batch-size`` larger than the training split (every epoch would be one short step)."""
    if int(splits.train.cardinality()) != 1:
        return
    source = splits._sources["train"]
    examples = len(source[1]) if isinstance(source, tuple) else int(source.cardinality())
    if 0 < examples < batch_size:
        raise ValueError(
            f"--batch-size {batch_size}: larger than the {examples} training examples of {splits.name!r}; "
            f"give at most {examples}"
        )


#: What ``--allow-lambda`` is for, in the errors that need it.
LAMBDA_HINT = ("holds a Lambda layer, whose Python code loading would run; if you trust the file, "
               "pass --allow-lambda")


def load_cli_model(model_path, compile=True, allow_lambda=False, argument="--model"):
    """The model file ``model_path``, loaded with tfprune's objects registered; the Lambda-layer
    advice in terms of the command line's ``--allow-lambda``."""
    from tfprune.keras3 import is_keras3_file
    from tfprune.saving import load_model

    try:
        model = load_model(model_path, compile=compile, safe_mode=not allow_lambda, argument=argument)
        if is_keras3_file(model_path):
            click.echo(f"note: {argument} {model_path!r}: saved by Keras 3, rebuilt in tf_keras", err=True)
        return model
    except ValueError as error:
        if "safe_mode" in str(error):
            raise ValueError(f"{argument} {model_path!r}: {LAMBDA_HINT}") from None
        raise


def check_fits(model, model_path, splits):
    """A clear error when the model's inputs or classes do not fit the data set ``splits``."""
    expected = tuple(model.input_shape[1:])
    if expected != tuple(splits.input_shape):
        raise ValueError(
            f"--model {model_path!r} takes inputs of shape {expected}, but dataset "
            f"{splits.name!r} has {tuple(splits.input_shape)}"
        )
    units = model.outputs[0].shape[-1]
    if units != splits.num_classes and not (units == 1 and splits.num_classes == 2):
        raise ValueError(
            f"--model {model_path!r} has {units} output units, but dataset {splits.name!r} has "
            f"{splits.num_classes} classes; give a model with {splits.num_classes} outputs"
        )


def load_user_model(model_path, splits, allow_lambda=False):
    """The ``--model`` file, loaded with its compiled loss if it has one; a clear error when its
    input shape or number of outputs does not fit ``splits``."""
    import logging

    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # "Skipping variable loading for optimizer": the optimizer is replaced
    try:
        try:
            model = load_cli_model(model_path, compile=True, allow_lambda=allow_lambda)
        except (ValueError, TypeError, KeyError, AttributeError) as error:  # e.g. a custom loss not importable here
            if LAMBDA_HINT in str(error):
                raise
            model = load_cli_model(model_path, compile=False, allow_lambda=allow_lambda)
    finally:
        absl.setLevel(level)
    check_fits(model, model_path, splits)
    return model


def model_and_loss(model_path, splits, seed, allow_lambda=False):
    """The ``--model`` file or a fresh built-in model for ``splits``, and the loss to train it with
    (:func:`tfprune.cli.models.classification_loss`)."""
    from tfprune.cli.models import classification_loss, default_model

    if model_path:
        model = load_user_model(model_path, splits, allow_lambda)
    else:
        model = default_model(splits.input_shape, splits.num_classes, seed=seed)
    return model, classification_loss(model)
