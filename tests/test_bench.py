"""``tfprune bench``: one record per run, resuming without repeating a finished run, workers,
failed runs, the table's mean ± std, the plots, and refusing another sweep's folder."""

import json
import math
import os
import shutil
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tfprune.bench import make_config, records, run_sweep
from tfprune.bench.report import summary
from tfprune.cli import main
from tfprune.cli.models import mlp_model

#: 2 methods x 1 sparsity (two rounds of 20%) x 2 seeds, 1 epoch per round with weight rewinding, digits in
#: 3 batches.
TINY = ["bench", "--preset", "lamp-protocol", "--methods", "lamp,global", "--sparsities", "0.36", "--seeds", "2",
        "--epochs", "1", "--dense-epochs", "1", "--batch-size", "512", "--rewind", "yes", "--model", "mlp", "--quiet"]
IDS = {f"{m}-0.36-seed{s}-rewind" for m in ("lamp", "global") for s in (0, 1)}
#: The digits MLP 64-300-100-10 holds 50,200 kernel weights; each round keeps round(0.8 * survivors).
TOTAL = 64 * 300 + 300 * 100 + 100 * 10
KEPT = [round(TOTAL * 0.8), round(round(TOTAL * 0.8) * 0.8)]


def _bench(args, output):
    return CliRunner().invoke(main, [*args, "--output", str(output)])


def _files(folder):
    """{record file: (bytes, mtime_ns)}."""
    directory = folder / "records"
    return {n: ((directory / n).read_bytes(), os.stat(directory / n).st_mtime_ns) for n in sorted(os.listdir(directory))}


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench") / "tiny"
    result = _bench(TINY, folder)
    assert result.exit_code == 0, result.output
    return folder, result.output


def test_a_sweep_writes_one_record_per_run_with_its_rounds(tiny):
    folder, output = tiny
    found = records.read_records(str(folder))
    assert {r["id"] for r in found} == IDS and all(r["status"] == "done" for r in found)
    settings = json.loads((folder / "sweep.json").read_text())
    for r in found:
        assert r["config"] == settings
        assert set(r["versions"]) == {"tfprune", "python", "numpy", "tensorflow", "tf_keras", "tfmot"}
        rounds = r["result"]["rounds"]
        assert [row["round"] for row in rounds] == [1, 2]
        assert [row["step"] for row in rounds] == [6, 9]  # 3 steps an epoch: dense epoch, then one per round
        assert [row["sparsity"] for row in rounds] == pytest.approx([1 - k / TOTAL for k in KEPT], abs=1e-12)
        assert r["result"]["sparsity"] == pytest.approx(1 - KEPT[1] / TOTAL, abs=1e-12)
        assert set(r["result"]["layers"]) == {"fc1/kernel", "fc2/kernel", "logits/kernel"}
        assert r["result"]["points"] == [{"level": 0.36, "round": 2, "remaining": KEPT[1] / TOTAL,
                                          "accuracy": rounds[-1]["eval"]["accuracy"]}]
        assert set(rounds[0]["metrics"]) == {"loss", "accuracy"} and set(rounds[0]["eval"]) == {"loss", "accuracy"}
    assert "4 of 4 runs recorded (0 failed)" in output
    assert os.listdir(folder / "claims") == [".lock"]


def test_the_table_is_the_mean_and_sample_std_of_the_records(tiny):
    folder, _ = tiny
    found = records.read_records(str(folder))
    table = (folder / "report.md").read_text().splitlines()
    csv_rows = (folder / "results.csv").read_text().splitlines()[1:]
    for method, line in zip(["lamp + rewind", "global + rewind"], csv_rows):
        accuracies = [r["result"]["points"][0]["accuracy"] for r in sorted(found, key=lambda r: r["run"]["seed"])
                      if r["run"]["label"] == method]
        mean = sum(accuracies) / 2
        std = math.sqrt(sum((a - mean) ** 2 for a in accuracies) / (2 - 1))
        assert f"| {method} | {100 * mean:.1f} ± {100 * std:.1f} |" in table
        cells = line.split(",")
        assert cells[0] == method and int(cells[3]) == 2
        assert (float(cells[4]), float(cells[5])) == pytest.approx((mean, std), abs=1e-6)
    assert any(line.startswith("| method | 36% sparse (64% left) |") for line in table)


def test_the_plots_are_written(tiny):
    import matplotlib.image

    folder, _ = tiny
    for name in ("accuracy.png", "layers.png"):
        image = matplotlib.image.imread(str(folder / name))
        assert image.shape[0] > 200 and image.shape[1] > 300


def test_an_interrupted_sweep_continues_without_repeating_a_finished_run(tiny, tmp_path):
    source, _ = tiny
    folder = tmp_path / "resumed"
    shutil.copytree(source, folder)
    os.remove(folder / "records" / "lamp-0.36-seed1-rewind.json")
    claim = {"pid": _dead_pid(), "host": socket.gethostname()}  # the process killed while running it
    (folder / "claims" / "lamp-0.36-seed1-rewind").write_text(json.dumps(claim))
    kept = _files(folder)
    result = _bench(TINY, folder)
    assert result.exit_code == 0, result.output
    after = _files(folder)
    assert {n: after[n] for n in kept} == kept  # same bytes, same modification times
    assert set(after) == {f"{i}.json" for i in IDS}
    assert os.listdir(folder / "claims") == [".lock"]
    assert "4 of 4 runs recorded (0 failed)" in result.output


def test_claims_are_exclusive_and_torn_or_dead_ones_are_taken_over(tmp_path):
    folder = str(tmp_path)
    assert records.claim(folder, "a") and not records.claim(folder, "a")  # this live process holds it
    (tmp_path / "claims" / "b").write_text('{"pid": ')  # torn by a kill while it was written
    (tmp_path / "claims" / "c").write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    assert records.claim(folder, "b") and records.claim(folder, "c")
    assert json.loads((tmp_path / "claims" / "b").read_text())["pid"] == os.getpid()
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "d.json").write_text("{}")
    assert not records.claim(folder, "d")  # finished: never claimed again
    records.release(folder, "a")
    assert records.claim(folder, "a")


def test_a_run_claimed_by_a_live_process_is_left_to_it(tiny, tmp_path):
    source, _ = tiny
    folder = tmp_path / "claimed"
    shutil.copytree(source, folder)
    os.remove(folder / "records" / "global-0.36-seed1-rewind.json")
    live = {"pid": os.getppid(), "host": socket.gethostname()}  # the process that started the tests
    (folder / "claims" / "global-0.36-seed1-rewind").write_text(json.dumps(live))
    result = _bench(TINY, folder)
    assert result.exit_code == 0, result.output
    assert "3 of 4 runs recorded (0 failed) in " in result.output
    assert "; 1 unfinished: run the same command again to continue" in result.output
    assert not (folder / "records" / "global-0.36-seed1-rewind.json").exists()


def test_two_workers_give_the_records_of_one(tiny, tmp_path):
    source, _ = tiny
    folder = tmp_path / "two"
    shutil.copytree(source, folder)
    for name in ("lamp-0.36-seed1-rewind", "global-0.36-seed0-rewind"):  # one run for each worker
        os.remove(folder / "records" / f"{name}.json")
    result = _bench([*TINY, "--workers", "2"], folder)
    assert result.exit_code == 0, result.output
    one, two = records.read_records(str(source)), records.read_records(str(folder))
    assert [r["id"] for r in two] == sorted(IDS)  # each run once
    assert sorted(os.listdir(folder / "records")) == sorted(f"{i}.json" for i in IDS)
    for a, b in zip(one, two):
        assert (a["id"], a["status"], a["run"], a["config"]) == (b["id"], b["status"], b["run"], b["config"])
        assert [r["sparsity"] for r in a["result"]["rounds"]] == [r["sparsity"] for r in b["result"]["rounds"]]
    assert os.listdir(folder / "claims") == [".lock"]


def _fails_for_seed_1(input_shape, num_classes, seed):
    if seed == 1:
        raise RuntimeError("no model for seed 1")
    return mlp_model(input_shape, num_classes, seed)


def test_a_failed_run_is_recorded_and_the_others_finish(tmp_path):
    from tfprune.bench.report import markdown

    config = make_config("at-init", "digits", "mlp", methods=["magnitude"], levels=[0.9], seeds=2, epochs=1,
                         batch_size=512)
    found = run_sweep(config, str(tmp_path), _fails_for_seed_1, progress=False)
    by_id = {r["id"]: r for r in found}
    assert set(by_id) == {"magnitude-0.9-seed0", "magnitude-0.9-seed1"}
    assert by_id["magnitude-0.9-seed1"]["status"] == "failed"
    assert by_id["magnitude-0.9-seed1"]["error"] == "RuntimeError: no model for seed 1"
    done = by_id["magnitude-0.9-seed0"]["result"]
    assert by_id["magnitude-0.9-seed0"]["status"] == "done" and done["connected"] is True
    assert done["sparsity"] == pytest.approx(1 - round(TOTAL * 0.1) / TOTAL, abs=1e-12)  # one global ranking
    assert done["points"] == [{"level": 0.9, "remaining": pytest.approx(round(TOTAL * 0.1) / TOTAL, abs=1e-12),
                               "accuracy": done["accuracy"]}]
    assert [(r["label"], r["n"], r["accuracies"]) for r in summary(found)] == [("magnitude", 1, [done["accuracy"]])]
    text = markdown(found, config.to_dict())
    assert f"| magnitude | {100 * done['accuracy']:.1f} ± 0.0 (n=1) |" in text
    assert "- magnitude-0.9-seed1: RuntimeError: no model for seed 1" in text
    assert run_sweep(config, str(tmp_path), _fails_for_seed_1, progress=False) == found  # final: not rerun


def test_another_sweep_in_the_same_folder_is_refused(tiny, tmp_path):
    source, _ = tiny
    folder = tmp_path / "other"
    shutil.copytree(source, folder)
    before = _files(folder)
    args = list(TINY)
    args[args.index("--epochs") + 1] = "2"
    result = _bench(args, folder)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: --output {str(folder)!r}: holds a sweep with other settings (epochs "
                                    "differ: epochs 1 there, 2 now); use another folder")
    assert result.stderr.count("\n") == 1
    assert _files(folder) == before


def test_report_only_rewrites_the_table_and_plots(tiny, tmp_path):
    source, _ = tiny
    folder = tmp_path / "report"
    shutil.copytree(source, folder)
    for name in ("report.md", "results.csv", "accuracy.png", "layers.png"):
        os.remove(folder / name)
    result = CliRunner().invoke(main, ["bench", "--report-only", "--output", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "report.md").read_text() == (source / "report.md").read_text()
    assert (folder / "results.csv").read_text() == (source / "results.csv").read_text()
    assert (folder / "accuracy.png").stat().st_size > 1000 and (folder / "layers.png").stat().st_size > 1000
