"""The sweep: resumable from disk (finished cells are never recomputed), records, report and diagram."""

import json
import os

import numpy as np
import pytest

from tfprune.diagnostics.regimes import Thresholds
from tfprune.diagnostics.report import advice_agrees, guided_choice, markdown_report
from tfprune.diagnostics.sweep import SweepResult, sweep
from tfprune.diagnostics.trainers import bn_model, make_trainer

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 4)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def build(seed):
    return bn_model((4,), 2, seed=seed)


class Interrupted(Exception):
    pass


class Counting:
    """A training function that logs its calls and can stop the sweep at the n-th retraining.

    It "trains" by a seeded random step on the weights (no fit: the sweep only needs trained
    models; masks stay respected since stripping multiplies by them).
    """

    def __init__(self, stop_at_retrain=None):
        self.calls, self.stop_at = [], stop_at_retrain

    def __call__(self, model, temperature, seed, phase):
        self.calls.append((temperature, seed, phase))
        if phase == "retrain" and self.stop_at == sum(c[2] == "retrain" for c in self.calls):
            raise Interrupted
        rng = np.random.default_rng([int(temperature), seed])
        for variable in model.trainable_variables:
            variable.assign(variable.numpy() + 0.3 * rng.normal(size=variable.shape).astype(np.float32))
        return model


def run(out_dir, train, **overrides):
    options = dict(train_data=(X, Y), test_data=(X[:40], Y[:40]), out_dir=str(out_dir), points=3,
                   cka_batches=2, progress=False, temperature_name="epochs")
    options.update(overrides)
    return sweep(build, train, [1, 2], [0.3, 0.6], **options)


def test_an_interrupted_sweep_resumes_without_recomputing_finished_cells(tmp_path):
    first = Counting(stop_at_retrain=4)  # stops in the second retraining of cell (1, 0.6)
    with pytest.raises(Interrupted):
        run(tmp_path, first)
    assert first.calls == [(1, 0, "dense"), (1, 1, "retrain"), (1, 2, "retrain"), (1, 1, "retrain"), (1, 2, "retrain")]
    cells = sorted(os.listdir(tmp_path / "cells"))
    assert len(cells) == 1
    finished = (tmp_path / "cells" / cells[0]).read_bytes()

    second = Counting()
    result = run(tmp_path, second)
    # the dense model at 1 epoch is read from disk; only the three unfinished cells are computed
    assert second.calls == [(1, 1, "retrain"), (1, 2, "retrain"), (2, 0, "dense")] + [(2, s, "retrain") for s in (1, 2)] * 2
    assert (tmp_path / "cells" / cells[0]).read_bytes() == finished
    assert [(r["temperature"], r["density"]) for r in result.records] == [(1, 0.3), (1, 0.6), (2, 0.3), (2, 0.6)]
    for record in result.records:
        assert record["bn_recomputed"] and len(record["path_errors"]) == 3
        assert record["train_errors"] == [record["path_errors"][0], record["path_errors"][-1]]
        assert record["test_accuracy"] == pytest.approx(np.mean(record["test_accuracies"]))
        assert record["sparsity"] == pytest.approx(1 - record["density"])
        assert record["regime"] in ("I", "II-A", "II-B")
    dense_1 = [r["dense_test_accuracy"] for r in result.records if r["temperature"] == 1]
    assert dense_1[0] == dense_1[1]

    third = Counting()
    again = run(tmp_path, third, thresholds={"mc": -0.5, "cka": 0.01})  # labels only: nothing recomputed
    assert third.calls == []
    assert [r["mc"] for r in again.records] == [r["mc"] for r in result.records]
    assert all(r["regime"] == "II-B" for r in again.records)

    paths = again.write()
    assert open(paths["phase_diagram"], "rb").read(4) == b"\x89PNG"
    assert json.loads(open(paths["results"]).read())["thresholds"] == {"mc": -0.5, "cka": 0.01}
    assert "| 2 | 0.6 |" in open(paths["report"]).read()


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"format": 1, "seeds": [7, 8]}))
    with pytest.raises(ValueError, match=r"holds a sweep with other settings \(\[.*'seeds'"):
        run(tmp_path, Counting())


@pytest.mark.parametrize("overrides, error, message", [
    (dict(densities=[0.0, 0.5]), ValueError, r"densities=\[0.0, 0.5\]: \[0.0\] not allowed"),
    (dict(densities=[0.5, 0.5]), ValueError, "holds duplicates"),
    (dict(temperatures="2,4"), ValueError, "temperatures='2,4': must be a non-empty list"),
    (dict(seeds=[1]), ValueError, r"seeds=\[1\]: give exactly two"),
    (dict(allocation="nope"), ValueError, "nope"),
    (dict(points=2), ValueError, "points=2"),
    (dict(train_data="digits"), TypeError, "train_data=str"),
])
def test_bad_arguments_are_named(tmp_path, overrides, error, message):
    options = dict(temperatures=[1], densities=[0.5], train_data=(X, Y), test_data=(X, Y), out_dir=str(tmp_path),
                   progress=False)
    options.update(overrides)
    with pytest.raises(error, match=message):
        sweep(build, Counting(), options.pop("temperatures"), options.pop("densities"), **options)
    with pytest.raises(TypeError, match="build_model=3"):
        sweep(3, Counting(), [1], [0.5], train_data=(X, Y), test_data=(X, Y), out_dir=str(tmp_path))


def record(temperature, density, mc, cka, acc, dense_acc):
    return {"temperature": temperature, "density": density, "mc": mc, "cka": cka, "test_accuracy": acc,
            "test_accuracies": [acc, acc], "dense_test_accuracy": dense_acc, "seconds": 1.0}


def synthetic():
    # density 0.1: too little training is a barrier (I), the longest run is dissimilar (II-A)
    return SweepResult([record(2, 0.1, -0.2, 0.99, 0.70, 0.90), record(8, 0.1, 0.0, 0.97, 0.85, 0.95),
                        record(32, 0.1, 0.0, 0.90, 0.80, 0.97), record(2, 0.5, 0.0, 0.99, 0.88, 0.90),
                        record(8, 0.5, 0.0, 0.99, 0.93, 0.95), record(32, 0.5, -0.01, 0.96, 0.96, 0.97)],
                       Thresholds(), "epochs")


def test_report_advice_and_model_selection_on_synthetic_cells(tmp_path):
    result = synthetic()
    assert [r["regime"] for r in result.records] == ["I", "II-B", "II-A", "II-B", "II-B", "II-B"]
    cells_01 = [r for r in result.records if r["density"] == 0.1]
    assert guided_choice(cells_01)["temperature"] == 8
    assert guided_choice([cells_01[0], cells_01[2]])["temperature"] == 32  # no II-B: the largest mc, then lower T
    assert advice_agrees(cells_01[0], 8) is True and advice_agrees(cells_01[2], 8) is True
    assert advice_agrees(cells_01[1], 8) is None
    text = markdown_report(result)
    assert "pointed towards the best epochs of its density in 2 of 2 cases" in text
    assert "| 0.1 | 32 -> 80.00% | 8 -> 85.00% | 8 -> 85.00% |" in text
    assert "| 0.5 | 32 -> 96.00% | 2 -> 88.00% | 32 -> 96.00% |" in text  # CKA tie: the lower T
    assert "| 2 | 0.1 | 70.00% (70.00%, 70.00%) | 90.00% | -0.2000 | 0.9900 | I | 1.0 |" in text
    assert "Regime I: poorly connected" in text
    assert set(result.write(str(tmp_path))) == {"phase_diagram", "report", "results"}
    from tfprune.diagnostics.plots import plot_phase_diagram

    with pytest.raises(ValueError, match="cells: empty"):
        plot_phase_diagram([], str(tmp_path / "empty.png"))


def test_trainer_uses_the_temperature_only_in_the_dense_phase():
    trainer = make_trainer("epochs", (X, Y), epochs=5, batch_size=32, retrain_epochs=2)
    model = build(0)
    trainer(model, 3, 0, "dense")
    assert len(model.history.epoch) == 3
    with pytest.raises(ValueError, match=r"temperature \(epochs\)=0"):
        trainer(build(0), 0, 0, "dense")
    with pytest.raises(ValueError, match="phase='test'"):
        trainer(build(0), 3, 0, "test")
    with pytest.raises(ValueError, match="kind='momentum'"):
        make_trainer("momentum", (X, Y))


def test_trainer_retrains_a_pruned_model_with_the_base_recipe_and_sam_as_temperature():
    import tfprune

    trainer = make_trainer("rho", (X, Y), epochs=1, batch_size=32, retrain_epochs=2)
    dense = trainer(build(0), 0.05, 0, "dense")
    assert dense._tfprune_sam_rho == 0.05
    pruned = tfprune.prune(dense, 0.5, allocation="uniform")
    masks = [w.mask.numpy().copy() for w in tfprune.layers.prunable(pruned).values()]
    trainer(pruned, 0.05, 1, "retrain")  # base rho = 0: plain Adam, with the pruning callbacks
    assert len(pruned.history.epoch) == 2 and not hasattr(pruned, "_tfprune_sam_rho")
    for mask, weight in zip(masks, tfprune.layers.prunable(pruned).values()):
        np.testing.assert_array_equal(weight.mask.numpy(), mask)


def test_report_says_so_when_every_cell_is_ii_b():
    result = SweepResult([record(2, 0.1, 0.0, 0.99, 0.7, 0.9), record(8, 0.1, 0.0, 0.99, 0.8, 0.9)], Thresholds(), "epochs")
    text = markdown_report(result)
    assert "No cell is in regime I or II-A, so the advice is to keep the epochs everywhere" in text
    assert "epochs = 2: mc +0.0000, CKA 0.9900 -> Regime II-B" in text
    assert "(says keep, but another temperature pruned better)" in text
