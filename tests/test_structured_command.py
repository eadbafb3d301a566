"""The ``tfprune select`` and ``tfprune select-study`` click commands (registered in the CLI group
by the CLI package)."""

import json
import os

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
    for name in ("model.keras", "report.json", "widths.png"):
        assert f"wrote {os.path.relpath(out / name)}" in result.output


@pytest.mark.parametrize("args, message", [
    (["--method", "random"], "Error: --width None: method='random' needs width"),
    (["--width", "1.5"], "Error: --width 1.5: must be a number in (0, 1]"),
    (["--tolerance", "-0.1"], "Error: --tolerance -0.1: must be a number"),
    (["--dataset", "mnist1d", "--width", "0.5"], "takes inputs of shape (8, 8, 1), but dataset 'mnist1d' has (40, 1)"),
])
def test_select_command_refuses_bad_input(tmp_path, saved_cnn, args, message):
    out = tmp_path / "out"
    result = CliRunner().invoke(select_command, ["--model", saved_cnn, "--output", str(out), *args])
    assert result.exit_code == 1 and message in result.output
    assert not out.exists()


@pytest.mark.parametrize("sizes", ["10,abc", ",", ""])
def test_select_study_command_refuses_bad_sizes(tmp_path, sizes):
    result = CliRunner().invoke(select_study_command, ["--sizes", sizes, "--output", str(tmp_path / "s")])
    assert result.exit_code == 1 and f"--sizes={sizes!r}: expected comma-separated integers" in result.output


def test_select_study_command_checks_its_output_folder_before_any_work(tmp_path):
    (tmp_path / "file").write_text("mine")
    result = CliRunner().invoke(select_study_command, ["--output", str(tmp_path / "file" / "s")])
    assert result.exit_code == 1 and "is a file, so the folder cannot be made" in result.output, result.output


def _saved(tmp_path, layers, name):
    model = keras.Sequential([keras.Input((8, 8, 1)), *layers])
    path = str(tmp_path / name)
    model.save(path)
    return path


def test_select_command_refuses_a_model_with_other_classes_before_any_work(tmp_path):
    five = _saved(tmp_path, [keras.layers.Flatten(), keras.layers.Dense(6, name="h"), keras.layers.Dense(5)], "m.keras")
    result = CliRunner().invoke(select_command, ["--model", five, "--method", "l1", "--width", "0.5",
                                                 "--output", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert f"--model {five!r} has 5 output units, but dataset 'digits' has 10 classes" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["output-under-a-file", "export-is-an-output-file"])
def test_select_command_checks_its_paths_before_any_work(tmp_path, saved_cnn, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("mine")
    out = blocker / "out" if where == "output-under-a-file" else tmp_path / "out"
    args = ["--model", saved_cnn, "--method", "l1", "--width", "0.5", "--quiet", "--output", str(out)]
    if where == "export-is-an-output-file":
        args += ["--export", str(out / "widths.png")]
    result = CliRunner().invoke(select_command, args)
    assert result.exit_code == 1, result.output
    message = (f"--output {str(out)!r}" if where == "output-under-a-file" else
               "is one of the files --output writes (model.keras, report.json, widths.png)")
    assert message in result.output and "accuracy" not in result.output, result.output  # no selection ran
    assert blocker.read_text() == "mine" and not (tmp_path / "out").exists()


def test_select_command_replaces_its_own_files_and_keeps_the_others(tmp_path, saved_cnn):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.md").write_text("from an earlier prune run")
    (out / "report.json").write_text("old")
    args = ["--model", saved_cnn, "--method", "l1", "--width", "0.5", "--quiet", "--output", str(out)]
    assert CliRunner().invoke(select_command, args).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["model.keras", "notes.txt", "report.json", "report.md",
                                                     "widths.png"]
    assert (out / "notes.txt").read_text() == "mine" and (out / "report.md").read_text() == "from an earlier prune run"
    assert json.loads((out / "report.json").read_text())["method"] == "l1"


def test_select_command_loads_a_lambda_model_only_with_allow_lambda(tmp_path):
    path = _saved(tmp_path, [keras.layers.Lambda(lambda t: 2.0 * t), keras.layers.Flatten(),
                             keras.layers.Dense(6, name="h"), keras.layers.Dense(10)], "lambda.keras")
    args = ["--model", path, "--method", "l1", "--width", "0.5", "--quiet", "--output", str(tmp_path / "out")]
    refused = CliRunner().invoke(select_command, args)
    assert refused.exit_code == 1 and "--allow-lambda" in refused.output
    allowed = CliRunner().invoke(select_command, [*args, "--allow-lambda"])
    assert allowed.exit_code == 0, allowed.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["widths"] == {"h": {"before": 6, "after": 3}}
