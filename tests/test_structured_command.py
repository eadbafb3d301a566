"""The ``tfprune select`` click command (registered in the CLI group by the CLI package)."""

import json

from click.testing import CliRunner

from tfprune.structured.command import select_command


def test_select_command_writes_model_report_and_plot(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(select_command, ["--method", "l1", "--width", "0.5", "--epochs", "1", "--quiet",
                                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    # the built-in digits CNN: conv1 16, conv2 32, dense1 128 channels, halved
    assert report["widths"] == {"conv1": {"before": 16, "after": 8}, "conv2": {"before": 32, "after": 16},
                                "dense1": {"before": 128, "after": 64}}
    assert report["params_after"] < report["params_before"]
    assert (out / "model.keras").stat().st_size > 0 and (out / "widths.png").stat().st_size > 0
    assert "accuracy (test)" in result.output


def test_select_command_refuses_bad_input_before_training(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(select_command, ["--method", "random", "--output", str(out)])
    assert result.exit_code == 1
    assert "width=None: method='random' needs width" in result.output
    assert not out.exists()


def test_select_study_command_refuses_bad_sizes(tmp_path):
    from tfprune.structured.command import select_study_command

    result = CliRunner().invoke(select_study_command, ["--sizes", "10,abc", "--output", str(tmp_path / "s")])
    assert result.exit_code == 1 and "--sizes='10,abc': expected comma-separated integers" in result.output
