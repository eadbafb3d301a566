"""``tfprune tune``: reproducible seeds, resumes that match, one-line errors (issue 9)."""

import json
import os
import shutil

import keras_tuner as kt
import pytest
from click.testing import CliRunner

from tfprune.cli import main
from tfprune.tuning import make_oracle

SPACE = ["--schedule", "gradual", "--allocation", "lamp", "--allocation", "uniform", "--sparsity", "0.5,0.9",
         "--epochs", "1", "--batch-size", "128"]


def _tune(output, *args, quiet=True):
    return CliRunner().invoke(main, ["tune", "-o", str(output), *SPACE, *args, *(["--quiet"] if quiet else [])])


def _trials(output):
    """{trial folder: (hyperparameters, metrics)} from the trials' run.json."""
    search = os.path.join(output, "search")
    found = {}
    for name in sorted(os.listdir(search)):
        path = os.path.join(search, name, "run.json")
        if os.path.exists(path):
            with open(path) as f:
                run = json.load(f)
            found[name] = (run["hyperparameters"], run["metrics"])
    return found


def _snapshot(folder):
    return {os.path.relpath(os.path.join(root, name), folder): os.path.getmtime(os.path.join(root, name))
            for root, _, names in os.walk(folder) for name in names}


@pytest.fixture(scope="module")
def searches(tmp_path_factory):
    """A search of two trials in one go, and the same search stopped after one trial."""
    root = tmp_path_factory.mktemp("tune")
    whole = _tune(root / "whole", "--max-trials", "2", quiet=False)
    assert whole.exit_code == 0, whole.output
    first = _tune(root / "resumed", "--max-trials", "1")
    assert first.exit_code == 0, first.output
    return root, whole.output


def test_seed_zero_samples_the_same_trials_and_a_resumed_search_gives_the_same_results(searches):
    root, _ = searches
    resumed = _tune(root / "resumed", "--max-trials", "2")
    assert resumed.exit_code == 0, resumed.output
    whole, again = _trials(root / "whole"), _trials(root / "resumed")
    assert list(whole) == ["trial_0", "trial_1"]
    assert again == whole


def test_make_oracle_seed_zero_is_a_seed():
    objective = kt.Objective("val_accuracy", "max")
    oracles = [make_oracle("random", objective, seed=0) for _ in range(2)]
    assert [o.seed for o in oracles] == [1, 1]


def test_the_console_names_trials_as_their_folders(searches):
    _, output = searches
    assert "Search: running trial 0 (folder trial_0)" in output
    assert "Search: running trial 1 (folder trial_1)" in output
    assert "Trial #" not in output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sparsity", "0.99"],
         "the search in {search!r} was started with another search space (pruning/sparsity: stored [0.5, 0.9], "
         "asked 0.99); pass --overwrite to start a new search (its trials are deleted), or use another --output"),
        (["--oracle", "bayesian"],
         "--oracle 'bayesian': the search in {search!r} was started with --oracle 'random'; pass --overwrite to "
         "start a new search (its trials are deleted), or use another --output"),
    ],
)
def test_a_changed_resume_is_refused_in_one_line(searches, args, message):
    root, _ = searches
    search = str(root / "whole" / "search")
    before = _snapshot(root / "whole")
    result = _tune(root / "whole", "--max-trials", "2", *args)
    assert result.exit_code == 1
    assert result.stderr == "Error: " + message.format(search=search) + "\n"
    assert _snapshot(root / "whole") == before


def test_an_oracle_change_on_a_project_without_its_record_is_one_line(searches, tmp_path):
    root, _ = searches
    copy = tmp_path / "copy"
    shutil.copytree(root / "whole", copy)
    os.remove(copy / "search" / "tfprune.json")  # as a project made before tfprune recorded its oracle
    result = _tune(copy, "--max-trials", "2", "--oracle", "bayesian")
    assert (result.exit_code, result.stderr) == (1, (
        f"Error: --oracle 'bayesian': the search in {str(copy / 'search')!r} was started with another oracle; "
        "pass --overwrite to start a new search (its trials are deleted), or use another --output\n"))


def test_bad_searches_fail_before_the_first_trial_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (["-o", str(blocker / "o")], f"--output {str(blocker / 'o')!r}: {str(blocker)!r} is a file, so the folder "
                                     "cannot be made"),
        (["--min-sparsity", "0.95"], "--min-sparsity 0.95: no trial can reach it; the search samples sparsity up "
                                     "to 0.9"),
        (["--score", "snip"], "--score ['snip']: only used with schedule 'at_init', which is not among "
                              "--schedule ['gradual']"),
    ]
    for args, message in cases:
        output = tmp_path / "out"
        result = CliRunner().invoke(main, ["tune", "-o", str(output), *SPACE, "--quiet", *args])
        assert (result.exit_code, result.stderr) == (1, f"Error: {message}\n"), args
        assert not output.exists()


def test_a_search_whose_trials_all_fail_is_one_line(tmp_path):
    output = tmp_path / "out"
    result = CliRunner().invoke(main, ["tune", "-o", str(output), "--schedule", "iterative", "--sparsity", "0.99",
                                       "--batch-size", "1000", "--epochs", "1", "--max-trials", "5", "--quiet"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert all(line.startswith("tfprune: trial ") for line in lines[:-1])
    assert len(lines) == 3
    assert lines[-1].startswith("Error: the search stopped: 3 trials in a row failed; the last failure: iterative "
                                "schedule with rate=")
    assert lines[-1].endswith(f"; see the trial folders in {str(output / 'search')}")
