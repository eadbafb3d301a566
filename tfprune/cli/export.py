"""``tfprune export``: a saved Keras model to a verified, sparse ``.tflite`` file.

``export_after_prune`` is what ``--export`` of ``tfprune prune`` and ``tfprune prune-at-init``
runs (the options are in :mod:`tfprune.cli._options`).
"""

import os
import warnings

import click

from tfprune.cli._errors import clean_errors
from tfprune.cli._options import QUANTIZE_CHOICES, allow_lambda_option, load_cli_model


def _quantize(value):
    return None if value in (None, "none") else value


def load_inputs(name, split="train", data_dir=None):
    """Inputs ``x`` of a data set (``digits``, ``mnist1d``, a TFDS name) or of a ``.npy`` file."""
    if name.endswith(".npy"):
        import numpy as np

        if not os.path.isfile(name):
            raise ValueError(f"{name!r}: no such .npy file")
        return np.load(name)
    from tfprune import data

    return data.load(name, data_dir=data_dir).numpy(split)[0]


@click.command("export")
@click.argument("model_path", type=click.Path(exists=True))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--quantize", type=click.Choice(QUANTIZE_CHOICES), default="none", show_default=True,
              help="Post-training quantization (keeps the zeros). int8 needs --representative-dataset.")
@click.option("--representative-dataset", default=None,
              help="digits, mnist1d, a prepared TFDS name, or a .npy file of inputs: calibrates int8 "
                   "(train split) and verifies the file (test split; a .npy file is used for both).")
@click.option("--data-dir", default=None, help="TFDS data folder.")
@click.option("--sparse/--dense", default=True, show_default=True,
              help="Store sparse weights in TFLite's sparse format, or convert dense.")
@click.option("--integer-io", is_flag=True, help="With int8: int8 input and output tensors too.")
@click.option("--strict/--no-strict", default=True, show_default=True,
              help="Refuse to write a file that fails verification.")
@allow_lambda_option
@clean_errors(options={"quantize": "--quantize", "name": "--representative-dataset"})
def export_command(model_path, output, quantize, representative_dataset, data_dir, sparse, integer_io, strict,
                   allow_lambda):
    """Export MODEL_PATH (a tf_keras .keras/.h5/SavedModel, pruned or not; a Keras 3 file is
    converted) to OUTPUT (.tflite).

    Pruning wrappers are stripped; the file is verified with the LiteRT interpreter
    (outputs vs Keras, zeros kept) before it is written; sizes are reported next to a dense
    conversion and the information floor.
    """
    from tfprune.export import to_tflite
    from tfprune.io import check_parent
    from tfprune.saving import check_model_file

    check_model_file(model_path, "MODEL_PATH")
    if os.path.abspath(output) == os.path.abspath(model_path):
        raise ValueError(f"OUTPUT {output!r}: is the input MODEL_PATH; choose another path")
    check_parent(output, "OUTPUT")
    model = load_cli_model(model_path, compile=False, allow_lambda=allow_lambda, argument="MODEL_PATH")
    rep = verify = None
    if representative_dataset:
        rep = load_inputs(representative_dataset, "train", data_dir)
        verify = rep if representative_dataset.endswith(".npy") else load_inputs(
            representative_dataset, "test", data_dir)
    with warnings.catch_warnings():  # the report lists them
        warnings.simplefilter("ignore")
        result = to_tflite(model, output, sparse=sparse, quantize=_quantize(quantize), representative_data=rep,
                           verify_data=verify, integer_io=integer_io, strict=strict)
    click.echo(result.report())


def export_after_prune(model, export_path, export_quantize, splits):
    """Export a pruned model for ``tfprune prune --export``; returns the report text (or None).

    Calibrates on ``splits``' training inputs and verifies on its test inputs.
    """
    if not export_path:
        return None
    from tfprune.export import to_tflite

    x_train = splits.numpy("train")[0]
    x_test = splits.numpy("test")[0]
    with warnings.catch_warnings():  # the report lists them
        warnings.simplefilter("ignore")
        result = to_tflite(model, export_path, quantize=_quantize(export_quantize), representative_data=x_train,
                           verify_data=x_test)
    return result.report()
