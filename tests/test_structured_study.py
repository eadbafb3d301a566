"""The pre-training budget study (Wolfe et al.) on a tiny setting: table, t*, log fit, plots."""

import math

import numpy as np
import pytest

from tfprune.structured import pretraining_study
from tfprune.structured.study import COLUMNS, fit_log


def test_fit_log_recovers_a_log_trend_exactly():
    a, b = fit_log({m: 10 + 5 * math.log(m) for m in (10, 100, 1000)})
    assert a == pytest.approx(10) and b == pytest.approx(5)
    assert fit_log({10: 3, 100: None}) is None


def test_tiny_study_writes_the_table_and_plots(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.randn(80, 6).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    result = pretraining_study(x, y, sizes=(20, 40), checkpoints=(0, 40), hidden=8, keep=3, candidates=4,
                               learning_rate=0.2, progress=False, output=str(tmp_path), jit_compile=False)
    assert [(r["m"], r["t"]) for r in result.rows] == [(20, 0), (20, 40), (40, 0), (40, 40)]
    lines = (tmp_path / "study.csv").read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 5
    assert all((tmp_path / name).stat().st_size > 0 for name in ("loss_vs_t.png", "t_star_vs_m.png"))
    # the default threshold is reached by every m, at the first checkpoint under it
    for m, t in result.t_star.items():
        losses = {r["t"]: r["subnetwork_loss"] for r in result.rows if r["m"] == m}
        assert t == min(c for c, loss in losses.items() if loss <= result.threshold)
    expected_b = (result.t_star[40] - result.t_star[20]) / math.log(2)
    assert result.fit[1] == pytest.approx(expected_b)


def test_bad_study_arguments_are_refused():
    x, y = np.zeros((10, 3), np.float32), np.zeros(10, np.int64)
    with pytest.raises(ValueError, match=r"sizes=11: must be an integer in \[2, 10\]"):
        pretraining_study(x, y, sizes=(11,))
    with pytest.raises(ValueError, match=r"keep=9: must be an integer in \[1, 8\]"):
        pretraining_study(x, y, sizes=(5,), hidden=8, keep=9)
    with pytest.raises(ValueError, match="threshold=-1"):
        pretraining_study(x, y, sizes=(5,), threshold=-1)


X, Y = np.zeros((10, 3), np.float32), np.zeros(10, np.int64)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sizes=()), r"sizes=\[\]: give at least one value"),
    (dict(checkpoints=[]), r"checkpoints=\[\]: give at least one value"),
    (dict(batch_size=0), "batch_size=0: must be an integer >= 1"),
    (dict(candidates=0), "candidates=0: must be an integer >= 1"),
    (dict(seed=-1), "seed=-1: must be an integer >= 0"),
    (dict(learning_rate=0), "learning_rate=0: must be a positive finite number$"),
    (dict(learning_rate="0.05"), "learning_rate='0.05': must be a positive finite number"),
    (dict(learning_rate=math.inf), "learning_rate=inf: must be a positive finite number"),
    (dict(y=np.full(10, -1)), "y: must hold class indices .* smallest -1"),
    (dict(y=np.zeros(10, np.float32)), "y: must hold class indices .* dtype float32"),
    (dict(y=np.zeros((10, 2), np.int64)), r"x, y: need \(N, ...\) inputs and N labels"),
])
def test_every_study_argument_is_checked_before_any_training(kwargs, match):
    x, y = kwargs.pop("x", X), kwargs.pop("y", Y)
    with pytest.raises(ValueError, match=match):
        pretraining_study(x, y, **{"sizes": (5,), **kwargs})


def test_an_output_folder_that_cannot_be_made_is_refused_before_any_training(tmp_path):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(ValueError, match=r"output='.*file/out'.* is a file, so the folder cannot be made"):
        pretraining_study(X, Y, sizes=(5,), output=str(tmp_path / "file" / "out"))
    assert (tmp_path / "file").read_text() == "mine"
