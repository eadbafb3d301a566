"""The ``tfprune select`` and ``tfprune select-study`` click commands (registered in the CLI group
by the CLI package)."""

import json

import pytest
from click.testing import CliRunner

from tfprune.backend import keras
from tfprune.cli.select import select_command, select_study_command


@pytest.fixture
def saved_cnn(tmp_path):
    """An untrained digits CNN (conv 8, conv 12, dense 16, logits 10) saved as .keras."""
    init = keras.initializers.GlorotUniform(seed=0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", kernel_initializer=init, name="conv1"),
        keras.layers.Conv2D(12, 3, padding="same", activation="relu", kernel_initializer=init, name="conv2"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu", kernel_initializer=init, name="dense1"),
        keras.layers.Dense(10, kernel_initializer=init, name="logits"),
    ])
    path = str(tmp_path / "cnn.keras")
    model.save(path)
    return path


def test_select_command_writes_model_report_plot_and_export(tmp_path, saved_cnn):
    out = tmp_path / "out"
    result = CliRunner().invoke(select_command, ["--model", saved_cnn, "--method", "l1", "--width", "0.5", "--quiet",
                                                 "--output", str(out), "--export", str(tmp_path / "small.tflite")])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["widths"] == {"conv1": {"before": 8, "after": 4}, "conv2": {"before": 12, "after": 6},
                                "dense1": {"before": 16, "after": 8}}
    # conv1 9*4+4, conv2 9*4*6+6, dense1 16 positions * 6 * 8 + 8, logits 8*10+10
    assert report["params_after"] == 40 + 222 + 776 + 90
    assert (out / "model.keras").stat().st_size > 0 and (out / "widths.png").stat().st_size > 0
    assert (tmp_path / "small.tflite").stat().st_size > 0
    assert "accuracy (test)" in result.output and "exported" in result.output


@pytest.mark.parametrize("args, message", [
    (["--method", "random"], "width=None: method='random' needs width"),
    (["--width", "1.5"], "width=1.5: must be a number in (0, 1]"),
    (["--dataset", "mnist1d", "--width", "0.5"], "takes inputs of shape (8, 8, 1), but dataset 'mnist1d' has (40, 1)"),
])
def test_select_command_refuses_bad_input(tmp_path, saved_cnn, args, message):
    out = tmp_path / "out"
    result = CliRunner().invoke(select_command, ["--model", saved_cnn, "--output", str(out), *args])
    assert result.exit_code == 1 and message in result.output
    assert not out.exists()


def test_select_study_command_refuses_bad_sizes(tmp_path):
    result = CliRunner().invoke(select_study_command, ["--sizes", "10,abc", "--output", str(tmp_path / "s")])
    assert result.exit_code == 1 and "--sizes='10,abc': expected comma-separated integers" in result.output
