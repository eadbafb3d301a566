"""The command line, end to end on digits."""

import json
import os
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

import tfprune
from tfprune.backend import keras
from tfprune.cli import main
from tfprune.cli.models import classification_loss, compile_for_classification, default_model
from tfprune.cli.prune import schedule_for_run
from tfprune.schedules import Gradual, Iterative, OneShot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What TensorFlow's C++ runtime prints while it starts, before its log level applies.
TF_STARTUP = re.compile(r"absl::InitializeLog|oneDNN|Could not find cuda drivers|cuInit|cpu_feature_guard")


def _python(*args, cwd=ROOT):
    """Run ``python *args`` in a fresh interpreter that imports this checkout's tfprune."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_prune_end_to_end_on_digits(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["prune", "--sparsity", "0.8", "--epochs", "3", "--output", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["model.keras", "report.json", "report.md", "sparsity.png"]
    report = json.loads((out / "report.json").read_text())
    total = report["summary"]["total"]
    assert total["nonzeros"] == round(total["params"] * 0.2)  # gradual reaches the target exactly
    assert report["accuracy"]["pruned"] > 0.5
    assert (out / "sparsity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = tfprune.load_model(str(out / "model.keras"))
    assert not tfprune.is_pruned(model)
    zeros = sum(int(np.sum(w == 0)) for w in (layer.kernel.numpy() for layer in model.layers if hasattr(layer, "kernel")))
    assert zeros == total["params"] - total["nonzeros"]
    assert "test accuracy: dense" in result.output


def test_prune_a_saved_model_with_one_shot_uniform(tmp_path):
    path = str(tmp_path / "dense.keras")
    default_model((8, 8, 1), 10).save(path)
    result = CliRunner().invoke(
        main, ["prune", "--model", path, "--allocation", "uniform", "--schedule", "oneshot", "--epochs", "1",
               "--output", str(tmp_path / "o"), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["settings"]["schedule"] == "OneShot"
    for row in report["summary"]["layers"]:
        assert abs(row["sparsity"] - 0.9) <= 1 / row["params"] + 1e-9


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sparsity", "1.5"], "--sparsity=1.5: must be in [0, 1)"),
        (["--allocation", "best"], "Invalid value for '--allocation'"),
        (["--dataset", "no_such_dataset_xyz"], "no_such_dataset_xyz"),
        (["--epochs", "0"], "Invalid value for '--epochs'"),
    ],
)
def test_bad_cli_input_is_a_clear_error_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["prune", "--output", str(out), "--quiet", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists() or os.listdir(out) == []


def test_prune_with_export_writes_a_verified_sparse_tflite(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["prune", "--sparsity", "0.9", "--epochs", "2", "--output", str(out), "--quiet",
               "--export", str(out / "model.tflite")]
    )
    assert result.exit_code == 0, result.output
    tflite = (out / "model.tflite").read_bytes()
    dense_keras_bytes = os.path.getsize(out / "model.keras")
    assert 0 < len(tflite) < dense_keras_bytes
    # The export report (ExportResult.report()), line by line.
    lines = result.output.splitlines()
    stripped = tfprune.load_model(str(out / "model.keras"))
    weights = [w.numpy() for w in stripped.trainable_weights]
    size, nonzeros = sum(w.size for w in weights), sum(int(np.count_nonzero(w)) for w in weights)
    header = (f"{out / 'model.tflite'}: sparse float32, model sparsity {1 - nonzeros / size:.1%} "
              f"({nonzeros}/{size} non-zero weights)")
    assert header in lines
    checks = [re.fullmatch(r"  (\S+)\s*: max abs error (\S+), top-1 agreement (\d+\.\d\d)%", line) for line in lines]
    checks = [m for m in checks if m]
    assert checks and all(float(m.group(2)) < 1e-3 and float(m.group(3)) >= 99.0 for m in checks)
    test_samples = len(tfprune.data.load("digits").numpy("test")[0])
    assert f"  verified on {test_samples} samples from verify_data" in lines
    assert any(line.startswith("  zeros kept in 4/4 kernels; natively sparse kernels (no DENSIFY): ") for line in lines)
    assert not any("could not run" in line for line in lines)


def test_export_path_in_missing_folder_fails_before_training(tmp_path):
    result = CliRunner().invoke(
        main, ["prune", "--output", str(tmp_path / "o"), "--quiet", "--export", str(tmp_path / "nope" / "m.tflite")]
    )
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not (tmp_path / "o").exists()


def test_model_with_wrong_input_shape(tmp_path):
    path = str(tmp_path / "m.keras")
    default_model((40, 1), 10).save(path)
    result = CliRunner().invoke(main, ["prune", "--model", path, "--output", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 1
    assert "takes inputs of shape (40, 1)" in result.output and "(8, 8, 1)" in result.output


def test_cli_schedules():
    assert isinstance(schedule_for_run("oneshot", 0.9, 100), OneShot)
    gradual = schedule_for_run("gradual", 0.9, 300)
    assert isinstance(gradual, Gradual) and gradual.end_step == 200 and gradual.frequency == 20
    iterative = schedule_for_run("iterative", 0.9, 220)
    assert isinstance(iterative, Iterative) and iterative.rounds == 11 and iterative.steps_per_round == 20
    assert iterative.total_steps <= 220


# ------------------------------------------------------------------ start-up, choices, compile


def test_version_is_one_line_and_help_imports_no_tensorflow():
    version = _python("-m", "tfprune.cli", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.splitlines() == [f"tfprune {tfprune.__version__}"]
    script = textwrap.dedent("""
        import sys
        import tfprune.cli
        for args in (["--version"], ["--help"]):
            try:
                tfprune.cli.main(args, prog_name="tfprune")
            except SystemExit as exit:
                assert exit.code == 0, exit.code
        print("tensorflow loaded:", "tensorflow" in sys.modules)
    """)
    run = _python("-c", script)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "tensorflow loaded: False"
    assert all(f"  {name} " in run.stdout for name in ("prune", "prune-at-init", "export", "tune"))


@pytest.mark.parametrize("command", ["export", "prune-at-init", "regimes", "bench", "launch"])
def test_a_subcommands_help_starts_no_tensorflow(command):
    """--help prints and exits: the group does not start TensorFlow for it (about 4 s)."""
    script = textwrap.dedent(f"""
        import sys
        import tfprune.cli
        try:
            tfprune.cli.main([{command!r}, "--help"], prog_name="tfprune")
        except SystemExit as exit:
            assert exit.code == 0, exit.code
        print("tensorflow loaded:", "tensorflow" in sys.modules)
    """)
    run = _python("-c", script)
    assert run.returncode == 0, run.stderr
    assert f"Usage: tfprune {command}" in run.stdout
    assert run.stdout.splitlines()[-1] == "tensorflow loaded: False"


def test_prune_prints_no_tensorflow_start_up_lines(tmp_path):
    run = _python("-m", "tfprune.cli", "prune", "--epochs", "1", "--schedule", "oneshot", "--quiet",
                  "--output", str(tmp_path / "o"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert [line for line in run.stderr.splitlines() if TF_STARTUP.search(line)] == []
    assert "test accuracy: dense" in run.stdout


@pytest.mark.parametrize("command", ["select", "select-study", "prune", "tune"])
def test_a_subcommand_that_imports_tensorflow_for_its_choices_starts_quietly_too(command):
    """Its module is imported while click resolves it, before the group's quiet start; for --help
    the group starts no TensorFlow at all, but the help may import it for its choices."""
    run = _python("-m", "tfprune.cli", command, "--help")
    assert run.returncode == 0, run.stderr
    assert [line for line in run.stderr.splitlines() if TF_STARTUP.search(line)] == []
    assert f"Usage: tfprune {command} [OPTIONS]" in run.stdout
    verbose = _python("-m", "tfprune.cli", "--verbose", command, "--help")
    assert verbose.returncode == 0 and TF_STARTUP.search(verbose.stderr), verbose.stderr


def test_stderr_is_silenced_at_the_descriptor_and_restored():
    script = textwrap.dedent("""
        import io, os, sys
        from tfprune.cli.main import _stderr_silenced
        sys.stderr = io.StringIO()  # no fileno, as under click's test runner
        with _stderr_silenced():
            os.write(2, b"hidden\\n")
        os.write(2, b"shown\\n")
    """)
    run = _python("-c", script)
    assert run.returncode == 0 and run.stderr == "shown\n"


def test_verbose_flag_reaches_the_tensorflow_start(monkeypatch):
    import importlib

    cli_main = importlib.import_module("tfprune.cli.main")  # the module; tfprune.cli.main is the group
    calls = []
    monkeypatch.setattr(cli_main, "start_tensorflow", calls.append)
    for args in (["--verbose", "prune", "--sparsity", "1.5"], ["prune", "--sparsity", "1.5"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and "--sparsity=1.5: must be in [0, 1)" in result.output
    assert calls == [True, False]


def test_a_registered_allocation_is_a_cli_choice(tmp_path):
    calls = []

    def toy(weights, sparsity):
        calls.append(sparsity)
        return {key: sparsity for key in weights}

    tfprune.allocation.register("toy", toy, uses_values=False)
    try:
        assert "toy" in CliRunner().invoke(main, ["prune", "--help"]).output
        out = tmp_path / "out"
        result = CliRunner().invoke(main, ["prune", "--allocation", "toy", "--sparsity", "0.5", "--epochs", "1",
                                           "--schedule", "oneshot", "--output", str(out), "--quiet"])
        assert result.exit_code == 0, result.output
        assert calls and json.loads((out / "report.json").read_text())["settings"]["allocation"] == "toy"
    finally:
        tfprune.allocation.ALLOCATIONS.unregister("toy")
    gone = CliRunner().invoke(main, ["prune", "--allocation", "toy", "--output", str(tmp_path / "o2")])
    assert gone.exit_code == 2 and "Invalid value for '--allocation'" in gone.output and "'lamp'" in gone.output


def test_a_run_too_short_for_the_schedule_is_a_one_line_error(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["prune", "--schedule", "iterative", "--sparsity", "0.9", "--epochs", "1",
                                       "--batch-size", "512", "--output", str(out), "--quiet"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: --schedule iterative: ")
    assert "--epochs" in result.output and "--batch-size" in result.output
    assert "Traceback" not in result.output and not out.exists()


def _mlp(softmax):
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax" if softmax else None),
    ])


def test_compile_helper_fits_the_loss_to_the_head():
    assert classification_loss(_mlp(softmax=False)).get_config()["from_logits"] is True
    probabilities = compile_for_classification(_mlp(softmax=True))
    assert isinstance(probabilities.loss, keras.losses.SparseCategoricalCrossentropy)
    assert probabilities.loss.get_config()["from_logits"] is False
    binary = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    loss = classification_loss(binary)
    assert isinstance(loss, keras.losses.BinaryCrossentropy) and loss.get_config()["from_logits"] is False
    own = keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="mine")
    users = _mlp(softmax=False)
    users.compile(optimizer="sgd", loss=own)
    assert classification_loss(users) is own  # a compiled model keeps its own loss
    assert compile_for_classification(_mlp(softmax=True), loss=own).loss is own


def test_a_saved_compiled_model_keeps_its_loss(tmp_path):
    from tfprune.cli._options import model_and_loss

    model = _mlp(softmax=True)
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(name="users_loss"))
    model.save(tmp_path / "m.keras")
    splits = tfprune.data.load("digits")
    _, loss = model_and_loss(str(tmp_path / "m.keras"), splits, seed=0)
    assert loss.get_config()["name"] == "users_loss" and loss.get_config()["from_logits"] is False


def test_prune_trains_a_softmax_model_on_the_right_loss(tmp_path):
    splits = tfprune.data.load("digits")
    logits, softmax = _mlp(softmax=False), _mlp(softmax=True)
    compile_for_classification(logits).fit(splits.train, epochs=5, verbose=0)
    softmax.set_weights(logits.get_weights())
    accuracy = {}
    for name, model in (("logits", logits), ("softmax", softmax)):
        path = str(tmp_path / f"{name}.keras")
        uncompiled = keras.models.clone_model(model)
        uncompiled.set_weights(model.get_weights())
        uncompiled.save(path)
        out = tmp_path / name
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = CliRunner().invoke(main, ["prune", "--model", path, "--schedule", "oneshot", "--sparsity",
                                               "0.5", "--epochs", "2", "--output", str(out), "--quiet"])
        assert result.exit_code == 0, result.output
        # tf_keras warns when a loss on logits is given the output of a softmax
        assert not [w for w in caught if "from_logits=True" in str(w.message)], name
        accuracy[name] = json.loads((out / "report.json").read_text())["accuracy"]["pruned"]
    assert accuracy["logits"] > 0.8 and accuracy["softmax"] > 0.8, accuracy
    assert abs(accuracy["logits"] - accuracy["softmax"]) <= 0.05, accuracy


def test_an_error_before_help_is_still_shown():
    run = _python("-m", "tfprune.cli", "prune", "--bogus", "--help")
    assert run.returncode == 2 and "No such option '--bogus'" in run.stderr, run.stderr
