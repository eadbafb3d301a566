"""Every bad input of issue 9, run through the command line: one line on stderr, no traceback, a
non-zero exit code, and the output left exactly as it was."""

import os

import numpy as np
import pytest
from click.testing import CliRunner

from test_cli_files import _keras3_archive, _keras3_h5
from tfprune.backend import keras
from tfprune.cli import main
from tfprune.cli.models import default_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Input files: good and bad models, a NaN input batch, a plain file blocking a folder."""
    root = tmp_path_factory.mktemp("inputs")
    default_model((8, 8, 1), 10).save(str(root / "model.keras"))
    default_model((8, 8, 1), 3).save(str(root / "three_classes.keras"))
    keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Lambda(lambda x: x + 1.0), keras.layers.Flatten(),
                      keras.layers.Dense(10)]).save(str(root / "lambda.keras"))
    (root / "empty.keras").write_bytes(b"")
    (root / "notes.h5").write_text("not a model")
    (root / "cut.keras").write_bytes((root / "model.keras").read_bytes()[:1000])
    _keras3_archive(str(root / "keras3.keras"))
    _keras3_h5(str(root / "keras3.h5"))
    np.save(str(root / "nan.npy"), np.full((4, 8, 8, 1), np.nan, np.float32))
    (root / "a_file").write_text("x")
    return root


CASES = {
    "schedule too short": ["prune", "--schedule", "iterative", "--sparsity", "0.9", "--epochs", "2",
                           "--batch-size", "512"],
    "batch larger than the data": ["prune", "--batch-size", "100000"],
    "unknown data set": ["prune-at-init", "--dataset", "no_such_dataset_xyz"],
    "output under a file": ["prune", "--output", "{in}/a_file/out"],
    "export over an output file": ["prune", "--export", "{out}/report.md"],
    "output over the input model": ["prune", "--model", "{out}/model.keras"],
    "wrong number of classes": ["prune", "--model", "{in}/three_classes.keras"],
    "empty model file": ["prune", "--model", "{in}/empty.keras"],
    "not a model file": ["prune-at-init", "--model", "{in}/notes.h5"],
    "truncated model file": ["prune", "--model", "{in}/cut.keras"],
    "Keras 3 archive": ["prune", "--model", "{in}/keras3.keras"],
    "Keras 3 HDF5": ["export", "{in}/keras3.h5", "{out}/m.tflite"],
    "Lambda layer": ["prune", "--model", "{in}/lambda.keras"],
    "too many per layer": ["prune-at-init", "--score", "magnitude", "--min-per-layer", "100000"],
    "too many per class": ["prune-at-init", "--samples-per-class", "1000"],
    "NaN calibration data": ["export", "{in}/model.keras", "{out}/m.tflite", "--quantize", "int8",
                             "--representative-dataset", "{in}/nan.npy"],
    "integer io without int8": ["export", "{in}/model.keras", "{out}/m.tflite", "--integer-io"],
    "tune output under a file": ["tune", "-o", "{in}/a_file/out"],
    "unreachable min sparsity": ["tune", "--sparsity", "0.5,0.8", "--min-sparsity", "0.9"],
    "score without at_init": ["tune", "--schedule", "gradual", "--score", "snip"],
    "bench unknown method": ["bench", "--preset", "at-init", "--methods", "random,bogus"],
    "bench sparsity out of range": ["bench", "--preset", "at-init", "--sparsities", "0.9,1.5"],
    "bench widths for at-init": ["bench", "--preset", "at-init", "--widths", "0.5"],
}
#: The first words of each error (paths vary); the rest is checked to be on the same line.
STARTS = {
    "schedule too short": "--schedule iterative: iterative schedule with rate=0.2 needs 11 pruning rounds",
    "batch larger than the data": "--batch-size 100000: larger than the 1257 training examples of 'digits'",
    "unknown data set": "--dataset 'no_such_dataset_xyz' is neither a built-in data set nor a TensorFlow Datasets "
                        "name",
    "output under a file": "--output '{in}/a_file/out': '{in}/a_file' is a file, so the folder cannot be made",
    "export over an output file": "--export '{out}/report.md': is one of the files --output writes",
    "output over the input model": "--output '{out}': would overwrite the input --model '{out}/model.keras'",
    "wrong number of classes": "--model '{in}/three_classes.keras' has 3 output units, but dataset 'digits' has 10",
    "empty model file": "--model '{in}/empty.keras': the file is empty (0 bytes)",
    "not a model file": "--model '{in}/notes.h5': not a Keras model file",
    "truncated model file": "--model '{in}/cut.keras': a truncated or damaged .keras (zip) archive",
    "Keras 3 archive": "--model '{in}/keras3.keras': saved by Keras 3.10.0, which cannot load it here",
    "Keras 3 HDF5": "MODEL_PATH '{in}/keras3.h5': saved by Keras 3.10.0, which cannot load it here",
    "Lambda layer": "--model '{in}/lambda.keras': holds a Lambda layer",
    "too many per layer": "--min-per-layer 100000, --min-per-unit 0: the collapse guard reserves 71568 weights",
    "too many per class": "--samples-per-class 1000: class 0 of 'digits' has only 124 training examples",
    "NaN calibration data": "--representative-dataset holds 256 NaN or infinite values (of 256)",
    "integer io without int8": "--integer-io needs --quantize 'int8'",
    "tune output under a file": "--output '{in}/a_file/out': '{in}/a_file' is a file, so the folder cannot be made",
    "unreachable min sparsity": "--min-sparsity 0.9: no trial can reach it; the search samples sparsity up to 0.8",
    "score without at_init": "--score ['snip']: only used with schedule 'at_init'",
    "bench unknown method": "--methods ['random', 'bogus']: ['bogus'] not registered for preset 'at-init'; allowed: [",
    "bench sparsity out of range": "--sparsities [0.9, 1.5]: [1.5] not allowed; expected fractions of weights removed, "
                                   "in (0, 1)",
    "bench widths for at-init": "--widths [0.5]: only for --preset structured; give --sparsities",
}


def _listing(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


@pytest.mark.parametrize("args, message", [
    (["prune", "--epochs", "0"], "Invalid value for '--epochs': 0 is not in the range x>=1. (see 'main prune --help')"),
    (["prune", "--seed", "-1"], "Invalid value for '--seed': -1 is not in the range x>=0. (see 'main prune --help')"),
    (["select", "--model", ".", "--seed", "-1"],
     "Invalid value for '--seed': -1 is not in the range x>=0. (see 'main select --help')"),
    (["tune", "-o", "x", "--oracle", "grid"],
     "Invalid value for '--oracle': 'grid' is not one of 'random', 'bayesian', 'hyperband'. (see 'main tune --help')"),
    (["bench", "--preset", "imagenet"], "Invalid value for '--preset': 'imagenet' is not one of 'lamp-protocol', "
     "'at-init', 'structured'. (see 'main bench --help')"),
    (["bench", "--preset", "at-init", "--workers", "0"],
     "Invalid value for '--workers': 0 is not in the range x>=1. (see 'main bench --help')"),
    (["bench", "--preset", "at-init", "--sparsities", "0.9,most"],
     "Invalid value for '--sparsities': '0.9,most': not a comma-separated list of numbers (see 'main bench --help')"),
])
def test_a_value_click_rejects_is_one_line_too(args, message):
    result = CliRunner().invoke(main, args)
    assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_input_is_one_line_and_changes_nothing(files, tmp_path, case):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.keras").write_bytes((files / "model.keras").read_bytes())
    (out / "report.md").write_text("the previous run\n")
    (out / "m.tflite").write_bytes(b"previous")
    before = _listing(out)
    args = [a.format(**{"in": files, "out": out}) for a in CASES[case]]
    if args[0] != "export" and not any(a in args for a in ("--output", "-o")):
        args += ["-o" if args[0] == "tune" else "--output", str(out)]
    result = CliRunner().invoke(main, [*args, *(["--quiet"] if args[0] != "export" else [])])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: " + STARTS[case].format(**{"in": files, "out": out})), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert _listing(out) == before


def test_cli_words_rename_arguments_but_leave_quoted_code_alone():
    from tfprune.cli._errors import cli_words

    message = ("name='mnist': TFDS data not found under data_dir='/d'. Prepare it with "
               "`tensorflow_datasets.load('mnist', data_dir=..., download=True)`; batch_size=0 is allowed=False")
    assert cli_words(message) == (
        "name='mnist': TFDS data not found under --data-dir '/d'. Prepare it with "
        "`tensorflow_datasets.load('mnist', data_dir=..., download=True)`; --batch-size 0 is allowed=False")
