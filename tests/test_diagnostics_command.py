"""``tfprune regimes``: option parsing, errors, and one tiny end-to-end run on digits."""

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tfprune.cli.regimes import parse_numbers, parse_temperature, regimes_command


def test_parsing():
    assert parse_temperature("epochs:2,4,8,16") == ("epochs", [2, 4, 8, 16])
    assert parse_temperature("rho:0,0.05") == ("rho", [0.0, 0.05])
    assert parse_numbers("0.05,0.1,", "--densities") == [0.05, 0.1]
    with pytest.raises(ValueError, match=r"--temperature 'epochs 2,4': expected KIND:V1,V2"):
        parse_temperature("epochs 2,4")
    with pytest.raises(ValueError, match=r"--temperature '2.5': expected comma-separated integers"):
        parse_temperature("epochs:2.5")
    with pytest.raises(ValueError, match="--densities '': expected at least one value"):
        parse_numbers("", "--densities")


def test_bad_options_fail_cleanly_before_any_training(tmp_path):
    result = CliRunner().invoke(regimes_command, ["--temperature", "momentum:1,2", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "Error: --temperature 'momentum:1,2'" in result.output
    result = CliRunner().invoke(regimes_command, ["--densities", "0.5,2", "--temperature", "epochs:1",
                                                  "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 1 and r"densities=[0.5, 2.0]: [2.0] not allowed" in result.output


@pytest.mark.parametrize("option, value, allowed", [
    ("--epochs", "0", "x>=1"), ("--retrain-epochs", "-2", "x>=1"), ("--batch-size", "0", "x>=1"),
    ("--points", "2", "x>=3"), ("--cka-batches", "0", "x>=1"), ("--learning-rate", "-1", "x>0"),
])
def test_counts_and_rates_out_of_range_are_named_with_their_option(tmp_path, option, value, allowed):
    result = CliRunner().invoke(regimes_command, [option, value, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output and allowed in result.output
    assert not (tmp_path / "out").exists()


def test_help_imports_no_tensorflow():
    code = ("import sys; from click.testing import CliRunner; from tfprune.cli.regimes import regimes_command;"
            "r = CliRunner().invoke(regimes_command, ['--help']); assert r.exit_code == 0, r.output;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_a_tiny_sweep_on_digits_writes_the_diagram_table_and_report(tmp_path):
    args = ["--temperature", "epochs:1", "--densities", "0.5", "--retrain-epochs", "1", "--points", "3",
            "--cka-batches", "2", "--batch-size", "128", "--out", str(tmp_path), "--quiet"]
    result = CliRunner().invoke(regimes_command, args)
    assert result.exit_code == 0, result.output
    assert {"phase_diagram.png", "report.md", "results.json", "sweep.json"} <= set(os.listdir(tmp_path))
    assert "epochs=1 density=0.5: regime" in result.output
