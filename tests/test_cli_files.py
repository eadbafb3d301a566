"""Bad model files, output locations and the output folder written as one unit (issue 9)."""

import json
import os
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import tfprune
from tfprune import io
from tfprune.backend import keras
from tfprune.cli import _output, main
from tfprune.cli.models import default_model


def _run(*args):
    return CliRunner().invoke(main, [*args, "--quiet"])


def _one_line_error(result, expected):
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {expected}\n"


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _keras3_archive(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.10.0", "date_saved": "2026-01-01"}))
        archive.writestr("config.json", "{}")


def _keras3_h5(path):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "3.10.0"


FORMATS = "a Keras model saved as .keras or .h5 (by tf_keras or Keras 3) or a tf_keras SavedModel folder"
#: A file that says Keras 3 wrote it but holds no model (the fakes above): Keras 3 cannot read it.
UNREADABLE_KERAS3 = "saved by Keras 3.10.0, which cannot load it here"


@pytest.mark.parametrize(
    "name, make, problem",
    [
        ("empty.keras", lambda p: open(p, "wb").close(), f"the file is empty (0 bytes); expected {FORMATS}"),
        ("notes.h5", lambda p: open(p, "w").write("hello"),
         f"not a Keras model file (neither a .keras archive nor HDF5); expected {FORMATS}"),
        ("keras3.keras", _keras3_archive, UNREADABLE_KERAS3),
        ("keras3.h5", _keras3_h5, UNREADABLE_KERAS3),
    ],
)
def test_a_bad_model_file_is_named_with_what_it_is(tmp_path, name, make, problem):
    path = str(tmp_path / name)
    make(path)
    out = tmp_path / "out"
    result = _run("prune", "--model", path, "--output", str(out))
    if problem == UNREADABLE_KERAS3:  # Keras 3's own reason follows in brackets
        assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
        assert result.stderr.startswith(f"Error: --model {path!r}: {problem} (")
    else:
        _one_line_error(result, f"--model {path!r}: {problem}")
    assert not out.exists()
    with pytest.raises(ValueError, match="^path="):
        tfprune.load_model(path)


def test_a_truncated_keras_archive(tmp_path):
    good = tmp_path / "good.keras"
    default_model((8, 8, 1), 10).save(str(good))
    path = tmp_path / "cut.keras"
    path.write_bytes(good.read_bytes()[:1000])
    _one_line_error(_run("prune", "--model", str(path), "--output", str(tmp_path / "o")),
                    f"--model {str(path)!r}: a truncated or damaged .keras (zip) archive; save the model again")


def test_a_lambda_model_says_what_to_do_on_the_command_line(tmp_path):
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Lambda(lambda x: x * 2.0),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    path = str(tmp_path / "lambda.keras")
    model.save(path)
    _one_line_error(
        _run("prune", "--model", path, "--output", str(tmp_path / "o")),
        f"--model {path!r}: holds a Lambda layer, whose Python code loading would run; if you trust the file, "
        "pass --allow-lambda",
    )
    from tfprune.cli._options import load_cli_model

    assert [type(layer).__name__ for layer in load_cli_model(path, allow_lambda=True).layers][0] == "Lambda"


def test_a_model_with_the_wrong_number_of_classes_is_one_line(tmp_path):
    path = str(tmp_path / "three.keras")
    default_model((8, 8, 1), 3).save(path)
    _one_line_error(
        _run("prune", "--model", path, "--output", str(tmp_path / "o")),
        f"--model {path!r} has 3 output units, but dataset 'digits' has 10 classes; give a model with 10 outputs",
    )


def test_an_output_that_cannot_be_made_fails_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    output = str(blocker / "out")
    _one_line_error(_run("prune", "--output", output),
                    f"--output {output!r}: {str(blocker)!r} is a file, so the folder cannot be made")


def test_outputs_never_overwrite_the_input_model_or_each_other(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    model = folder / "model.keras"
    default_model((8, 8, 1), 10).save(str(model))
    before = model.read_bytes()
    _one_line_error(_run("prune", "--model", str(model), "--output", str(folder)),
                    f"--output {str(folder)!r}: would overwrite the input --model {str(model)!r}; "
                    "choose another output folder")
    export = str(tmp_path / "o" / "model.keras")
    _one_line_error(_run("prune", "--output", str(tmp_path / "o"), "--export", export),
                    f"--export {export!r}: is one of the files --output writes (model.keras, report.md, "
                    "report.json, sparsity.png); choose another name")
    assert model.read_bytes() == before and not (tmp_path / "o").exists()


# ------------------------------------------------------------------ the output folder as one unit


@pytest.fixture(scope="module")
def small():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    return model, tfprune.sparsity_summary(model)


def _write(folder, small, accuracy):
    model, summary = small
    return _output.write_output(str(folder), model, summary, {"pruned": accuracy}, {"sparsity": 0.0}, "t")


def _contents(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def test_a_failed_swap_leaves_the_previous_folder_whole(tmp_path, small, monkeypatch):
    out = tmp_path / "out"
    _write(out, small, 0.5)
    (out / "notes.txt").write_text("mine")
    before = _contents(out)

    def fail(new, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_output, "replace_folder", fail)
    with pytest.raises(OSError):
        _write(out, small, 0.75)
    assert _contents(out) == before
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_failed_second_rename_puts_the_previous_folder_back(tmp_path, small, monkeypatch):
    out = tmp_path / "out"
    _write(out, small, 0.5)
    before = _contents(out)
    real = os.replace
    calls = []

    def flaky(a, b):
        calls.append((a, b))
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real(a, b)

    monkeypatch.setattr(io, "_exchange", lambda a, b: False)
    monkeypatch.setattr(io.os, "replace", flaky)
    with pytest.raises(OSError):
        _write(out, small, 0.75)
    assert _contents(out) == before
    assert len(calls) == 3  # aside, the failed swap, back


def test_a_new_run_replaces_our_files_keeps_the_others_and_removes_stale_staging(tmp_path, small):
    out = tmp_path / "out"
    _write(out, small, 0.5)
    (out / "notes.txt").write_text("mine")
    pid = _dead_pid()
    for stale in (tmp_path / f".out.tfprune-{pid}-abc", out / f".keep.tflite.tfprune-{pid}-xyz",
                  out / ".tfprune-k2j4x8"):
        stale.mkdir()
    _write(out, small, 0.75)
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert sorted(os.listdir(out)) == [f".keep.tflite.tfprune-{pid}-xyz", "model.keras", "notes.txt",
                                       "report.json", "report.md", "sparsity.png"]
    assert json.loads((out / "report.json").read_text())["accuracy"] == {"pruned": 0.75}
    io.write_bytes(str(out / "keep.tflite"), b"x")
    assert sorted(n for n in os.listdir(out) if n.startswith(".")) == []


def test_files_saved_by_keras_3_itself_load_as_tf_keras_models(tmp_path):
    """Files written by the Keras 3 that TensorFlow installs, in a process without tf_keras: they
    load as tf_keras models with that process's outputs."""
    script = ("import keras, numpy as np; keras.utils.set_random_seed(0); "
              "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]); "
              f"m.save({str(tmp_path / 'k3.keras')!r}); m.save({str(tmp_path / 'k3.h5')!r}); "
              "print(keras.__version__, *np.asarray(m(np.ones((1, 4), 'float32')))[0])")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    made = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    version, *values = made.stdout.split()[-3:]
    assert version.startswith("3")
    for name in ("k3.keras", "k3.h5"):
        model = tfprune.load_model(str(tmp_path / name))
        assert isinstance(model, keras.Model)
        np.testing.assert_allclose(model(np.ones((1, 4), "float32")).numpy()[0], np.array(values, float), rtol=1e-5)


def test_a_written_file_is_on_disk_before_it_takes_its_name(tmp_path, monkeypatch):
    """write_bytes syncs the temporary file, then renames it, then syncs the folder: after a system
    crash the folder holds the old file or the whole new one."""
    target = tmp_path / "report.json"
    target.write_text("old")
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.isdir(f"/proc/self/fd/{fd}"), target.read_text()))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.path.basename(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    io.write_text(str(target), "new")
    assert events == [("fsync", False, "old"), ("replace", "report.json"), ("fsync", True, "new")]
    assert target.read_text() == "new"


def test_writes_keep_the_permissions_the_user_gave_and_new_folders_get_the_usual_ones(tmp_path):
    """The staging folder comes from mkdtemp (private, 0o700); swapped in, it must not change the
    user's folder or file permissions, and a new output folder is made as mkdir would make it."""
    old_umask = os.umask(0o022)
    try:
        kept = tmp_path / "kept"
        kept.mkdir()
        os.chmod(kept, 0o750)
        _output.write_folder(str(kept), keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), {"a.txt": b"1"})
        assert oct(os.stat(kept).st_mode & 0o777) == oct(0o750)
        new = tmp_path / "new"
        _output.write_folder(str(new), keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), {"a.txt": b"1"})
        assert oct(os.stat(new).st_mode & 0o777) == oct(0o755)
        script = tmp_path / "run.sh"
        script.write_text("old")
        os.chmod(script, 0o751)
        io.write_text(str(script), "new")
        assert oct(os.stat(script).st_mode & 0o777) == oct(0o751) and script.read_text() == "new"
    finally:
        os.umask(old_umask)
