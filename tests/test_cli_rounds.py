"""``tfprune prune --schedule iterative``: the report holds the per-round table, one row per
:class:`tfprune.RoundLog` entry."""

import json

import pytest
from click.testing import CliRunner

from tfprune.cli import main
from tfprune.round_log import round_table

#: The built-in digits CNN's kernels (conv 3x3x1x16, conv 3x3x16x32, dense 512x128, logits 128x10).
TOTAL = 144 + 4608 + 512 * 128 + 1280


def test_the_report_of_an_iterative_schedule_has_the_per_round_table(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["prune", "--schedule", "iterative", "--sparsity", "0.36", "--epochs", "2",
                                       "--batch-size", "512", "--quiet", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rounds = json.loads((out / "report.json").read_text())["rounds"]
    # 2 epochs of 3 steps; 2 rounds of 20% spread over them: pruning at steps 1 and 4
    assert [(r["round"], r["step"]) for r in rounds] == [(1, 3), (2, 6)]
    kept = [round(TOTAL * 0.8), round(TOTAL * (1 - 0.36))]  # round 1 keeps 80%; the last lands on the target
    assert [r["sparsity"] for r in rounds] == pytest.approx([1 - k / TOTAL for k in kept], abs=1e-12)
    for row in rounds:
        assert {"loss", "accuracy"} <= set(row["metrics"]) and set(row["eval"]) == {"loss", "accuracy"}
        assert sum(1 - s for s in row["layers"].values()) > 0
    table = round_table(rounds)
    header = table.splitlines()[0]  # the last round ends with the epoch: its logs hold val_* too
    assert header.startswith("| round | step | sparsity | accuracy | loss |")
    assert header.endswith("| eval accuracy | eval loss |")
    assert len(table.splitlines()) == 2 + 2
    report = (out / "report.md").read_text()
    assert "## Per-round results" in report and table in report
    assert table in result.output
