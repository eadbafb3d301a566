"""The command line never ends silently below its target, and prints warnings as one line (issue 9)."""

import json

from click.testing import CliRunner

from tfprune.cli import main
from tfprune.cli import prune as prune_module
from tfprune.schedules import Gradual


def test_the_report_states_target_and_reached_sparsity(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["prune", "--schedule", "oneshot", "--allocation", "uniform", "--sparsity",
                                       "0.5", "--epochs", "1", "--output", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "report.json").read_text())["settings"]
    assert (settings["target_sparsity"], settings["reached_sparsity"]) == (0.5, 0.5)
    assert "- target_sparsity: 0.5\n" in (out / "report.md").read_text()
    assert "sparsity" not in settings


def test_a_run_that_ends_below_the_target_fails_and_writes_nothing(tmp_path, monkeypatch):
    # A schedule whose last event lies after the run (what a mis-fitted schedule would give).
    monkeypatch.setattr(prune_module, "schedule_for_run",
                        lambda name, sparsity, steps: Gradual(sparsity, end_step=10 * steps, frequency=steps))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["prune", "--sparsity", "0.9", "--epochs", "1", "--output", str(out),
                                       "--quiet"])
    assert result.exit_code == 1
    warning, error = result.stderr.splitlines()
    assert warning == (
        "warning: training ended at pruning step 20, before the schedule's last pruning event at step 200: the "
        "model is at sparsity 0, not the target 0.9; train 180 more steps (raise --epochs)")
    assert error.startswith("Error: --sparsity 0.9: the pruned model reached sparsity 0.0000 (")
    assert error.endswith(" planned), not the target; nothing was written to --output")
    assert not out.exists()


def test_an_emptied_layer_is_one_warning_line_in_the_options_words(tmp_path):
    result = CliRunner().invoke(main, ["prune", "--schedule", "oneshot", "--allocation", "uniform", "--sparsity",
                                       "0.999", "--epochs", "1", "--output", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "warning: --sparsity 0.999 with allocation 'uniform' leaves no weight in 1 of 4 weights (conv1/kernel; "
        "72 of 71568 weights kept in all): an emptied layer cuts the network; lower the sparsity\n"
    )


def test_the_overall_sparsity_never_shows_100_percent_while_weights_are_left():
    from tfprune.cli.report import overall

    assert overall({"total": {"sparsity": 1 - 2 / 65536, "nonzeros": 2, "params": 65536}}) == "99.997%"
    assert overall({"total": {"sparsity": 1.0, "nonzeros": 0, "params": 65536}}) == "100.00%"
