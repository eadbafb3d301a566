"""Tests for tfprune.tuning: real (tiny) searches on digits, constraints, Pareto report, resume,
per-trial tf.distribute, Keras 3 rejection, bad input and the ``tfprune tune`` command."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import keras_tuner as kt
import numpy as np
import pytest
from click.testing import CliRunner

import tfprune
from tfprune import data
from tfprune.backend import keras, tf
from tfprune.tuning import (
    Constrained,
    ModelTypeError,
    PruningHyperModel,
    PruningTuner,
    ScheduleTooShort,
    estimate_size_bytes,
    pareto,
)
from tfprune.cli.tune import tune_command
from tfprune.scoring import SCORERS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", batch_size=64, seed=0)


def build_mlp(hp):
    model = keras.Sequential(
        [
            keras.layers.Input(shape=(8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(hp.Choice("units", [16, 32]), activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _search(tuner, digits, epochs=1, **kwargs):
    tuner.search(digits.train, validation_data=digits.validation, epochs=epochs, verbose=0, **kwargs)


def _prunable_params(model):
    return tfprune.sparsity_summary(model)["total"]["params"]


# --------------------------------------------------------------------------- a real search


def test_random_search_scores_trials_and_best_model_has_its_sampled_sparsity(digits, tmp_path):
    hypermodel = PruningHyperModel(build_mlp, sparsity=(0.5, 0.9))
    tuner = PruningTuner(hypermodel, "random", max_trials=3, seed=3, directory=tmp_path, project_name="p")
    _search(tuner, digits, epochs=2)

    results = tuner.results()
    assert [r["trial_id"] for r in results] == ["0", "1", "2"]
    for r in results:
        m = r["metrics"]
        assert r["score"] == m["val_accuracy"]
        assert 0.0 <= m["val_accuracy"] <= 1.0
        assert {"loss", "accuracy", "val_loss", "sparsity", "size_kb"} <= set(m)
        units = r["hyperparameters"]["units"]
        params = 64 * units + units * 10
        # Every trial ends at the sparsity it sampled, to within one weight.
        assert abs(m["sparsity"] - r["hyperparameters"]["pruning/sparsity"]) <= 1.0 / params + 1e-12
        folder = os.path.join(tuner.project_dir, f"trial_{r['trial_id']}")
        for name in ("checkpoint.weights.h5", "model.keras", "run.json", "trial.json"):
            assert os.path.exists(os.path.join(folder, name))
        run = json.load(open(os.path.join(folder, "run.json")))
        assert run["tuner_id"] == "tuner0" and run["total_steps"] == 2 * run["steps_per_epoch"]
        assert run["metrics"]["sparsity"] == m["sparsity"]

    scores = [r["score"] for r in results]
    best_trial = tuner.get_best_trials(1)[0]
    assert best_trial.score == max(scores)
    best_hp = tuner.get_best_hyperparameters(1)[0]
    assert best_hp.values == best_trial.hyperparameters.values

    best = tuner.get_best_models(1)[0]
    assert tfprune.is_pruned(best)
    achieved = tfprune.sparsity_summary(best)["total"]["sparsity"]
    assert abs(achieved - best_hp["pruning/sparsity"]) <= 1.0 / _prunable_params(best) + 1e-12
    x, y = digits.numpy("validation")
    accuracy = float(np.mean(np.argmax(best.predict(x, verbose=0), axis=1) == y))
    assert accuracy == pytest.approx(best_trial.score, abs=1e-6)

    # The trial's file loads with plain keras, no custom objects, and strips to the same outputs.
    plain = keras.models.load_model(tuner.model_path(best_trial.trial_id))
    stripped = tfprune.strip(plain)
    assert not tfprune.is_pruned(stripped)
    np.testing.assert_allclose(stripped.predict(x, verbose=0), best.predict(x, verbose=0), atol=1e-5)

    report = tuner.pareto_report()
    assert os.path.exists(report["table"]) and open(report["png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert report["front"] and set(report["front"]) <= {"0", "1", "2"}


def test_bayesian_and_hyperband_oracles_run(digits, tmp_path):
    hypermodel = PruningHyperModel(build_mlp, sparsity=(0.5, 0.9), schedule=["oneshot", "gradual"])
    bayes = PruningTuner(
        hypermodel, "bayesian", max_trials=3, num_initial_points=2, seed=1, directory=tmp_path, project_name="b"
    )
    _search(bayes, digits)
    assert len(bayes.results()) == 3
    assert bayes.get_best_models(1)[0] is not None

    band = PruningTuner(hypermodel, "hyperband", max_epochs=2, factor=2, seed=1, directory=tmp_path, project_name="h")
    _search(band, digits)
    results = band.results()
    assert len(results) >= 3
    continued = [r for r in results if "tuner/trial_id" in r["hyperparameters"]]
    assert continued, "Hyperband promoted no trial"
    by_id = {r["trial_id"]: r for r in results}
    for r in continued:
        parent = by_id[r["hyperparameters"]["tuner/trial_id"]]
        run = json.load(open(os.path.join(band.project_dir, f"trial_{r['trial_id']}", "run.json")))
        assert run["initial_epoch"] == parent["hyperparameters"]["tuner/epochs"] and run["epochs"] == 2
        # The continued model keeps its parent's masks: same sparsity.
        assert r["metrics"]["sparsity"] == pytest.approx(parent["metrics"]["sparsity"], abs=1e-12)


def test_at_init_schedule_searches_scores(digits, tmp_path):
    hypermodel = PruningHyperModel(build_mlp, sparsity=0.8, allocation="global", schedule="at_init",
                                   score=["snip", "magnitude"])
    tuner = PruningTuner(hypermodel, max_trials=2, seed=0, directory=tmp_path, project_name="a")
    tuner.search(digits.train.take(4), validation_data=digits.validation, epochs=1, verbose=0)
    results = tuner.results()
    assert sorted(r["hyperparameters"]["pruning/score"] for r in results) == ["magnitude", "snip"]
    for r in results:
        units = r["hyperparameters"]["units"]
        assert abs(r["metrics"]["sparsity"] - 0.8) <= 1.0 / (64 * units + 10 * units) + 1e-12
    with pytest.raises(ValueError, match="unknown name 'saliency'"):
        PruningHyperModel(build_mlp, schedule=["gradual", "at_init"], score="saliency")


def _score_choices(hypermodel):
    hp = kt.HyperParameters()
    hypermodel.declare_pruning(hp)
    (param,) = [p for p in hp.space if p.name == "pruning/score"]
    return list(param.values)


def test_score_search_space_is_the_scorer_registry():
    # Every registered scorer can be searched, in registry order; the default is a subset of it.
    names = SCORERS.names()
    assert {"snip", "grasp", "synflow", "magnitude", "random", "sbp-si"} <= set(names)
    assert _score_choices(PruningHyperModel(build_mlp, schedule="at_init", score=names)) == names
    assert set(_score_choices(PruningHyperModel(build_mlp, schedule="at_init"))) <= set(names)
    # Without "at_init" among the schedules there is no score to search.
    hp = kt.HyperParameters()
    PruningHyperModel(build_mlp, schedule="gradual").declare_pruning(hp)
    assert "pruning/score" not in {p.name for p in hp.space}
    with pytest.raises(ValueError, match="only used with schedule 'at_init'"):
        PruningHyperModel(build_mlp, schedule="gradual", score=names)

    # A scorer registered later is accepted with no other edit, and refused once it is gone.
    @tfprune.scoring.register("test-largest")
    def largest(model, data=None, **options):
        """Magnitude under another name, for this test."""
        return SCORERS.get("magnitude").load()(model, data, **options)

    try:
        hypermodel = PruningHyperModel(build_mlp, schedule="at_init", score=["snip", "test-largest"])
        assert _score_choices(hypermodel) == ["snip", "test-largest"]
    finally:
        SCORERS.unregister("test-largest")
    with pytest.raises(ValueError, match="unknown name 'test-largest'"):
        PruningHyperModel(build_mlp, schedule="at_init", score=["snip", "test-largest"])


# --------------------------------------------------------------------------- constraints


def test_constrained_score_hand_computed():
    c = Constrained("val_accuracy", min_sparsity=0.8)
    # The objective the oracle sees is named after the metric and maximised: among feasible
    # trials the more accurate one scores higher.
    assert c.name == "constrained_val_accuracy" and Constrained("val_auc", max_size_kb=1).name == "constrained_val_auc"
    assert c.direction == "max" and c.evaluate(0.9, 0.85)[0] > c.evaluate(0.8, 0.85)[0]
    assert c.evaluate(0.0, 0.8) == (0.0, True, 0.0)
    score, feasible, violation = c.evaluate(0.99, 0.5)
    assert not feasible and violation == pytest.approx(0.375) and score == pytest.approx(0.99 - 1 - 0.375)
    # One-weight tolerance: 1000 prunable weights -> anything >= 0.799 is feasible.
    assert c.evaluate(0.5, 0.7995, prunable_params=1000)[1]
    assert not c.evaluate(0.5, 0.7985, prunable_params=1000)[1]
    # Any infeasible trial ranks below any feasible one.
    assert c.evaluate(1.0, 0.79)[0] < c.evaluate(0.0, 0.95)[0]

    s = Constrained("val_accuracy", max_size_kb=10)
    assert s.evaluate(0.9, 0.5, size_kb=10.0) == (0.9, True, 0.0)
    score, feasible, violation = s.evaluate(0.9, 0.5, size_kb=12.5)
    assert not feasible and violation == pytest.approx(0.25) and score == pytest.approx(-0.35)
    with pytest.raises(ValueError, match=r"val_accuracy=1\.5"):
        s.evaluate(1.5, 0.5, size_kb=1.0)
    nan_score, nan_feasible, _ = s.evaluate(float("nan"), 0.5, size_kb=1.0)
    assert np.isnan(nan_score) and not nan_feasible
    with pytest.raises(ValueError, match="min_sparsity"):
        Constrained(min_sparsity=1.0)
    with pytest.raises(ValueError, match="max_size_kb"):
        Constrained(max_size_kb=0)
    with pytest.raises(ValueError, match="min_sparsity .* max_size_kb"):
        Constrained()


def test_min_sparsity_constraint_never_picks_a_violating_trial(digits, tmp_path):
    # Exactly two points in the space, so both run: 0.3 violates min_sparsity=0.8, 0.85 does not.
    hypermodel = PruningHyperModel(build_mlp, sparsity=[0.3, 0.85], allocation="lamp", schedule="oneshot")

    def build_fixed_units(hp):
        return build_mlp(kt.HyperParameters())  # units at its default, not in the space

    hypermodel.build_model = build_fixed_units
    tuner = PruningTuner(hypermodel, max_trials=2, min_sparsity=0.8, seed=0, directory=tmp_path, project_name="c")
    assert tuner.objective.name == "constrained_val_accuracy"
    _search(tuner, digits)

    results = {r["hyperparameters"]["pruning/sparsity"]: r for r in tuner.results()}
    assert sorted(results) == [0.3, 0.85]
    bad, good = results[0.3], results[0.85]
    assert bad["metrics"]["feasible"] == 0.0 and bad["score"] < 0
    assert bad["score"] == pytest.approx(bad["metrics"]["val_accuracy"] - 1 - (0.8 - bad["metrics"]["sparsity"]) / 0.8)
    assert good["metrics"]["feasible"] == 1.0 and good["score"] == good["metrics"]["val_accuracy"]

    assert [t.trial_id for t in tuner.get_best_trials(2)] == [good["trial_id"]]
    assert len(tuner.get_best_hyperparameters(2)) == 1
    models = tuner.get_best_models(2)
    assert len(models) == 1 and tfprune.sparsity_summary(models[0])["total"]["sparsity"] >= 0.8 - 1e-3


def test_max_size_constraint_filters_large_trials(digits, tmp_path):
    hypermodel = PruningHyperModel(build_mlp, sparsity=[0.3, 0.9], allocation="uniform", schedule="oneshot")
    hypermodel.build_model = lambda hp: build_mlp(kt.HyperParameters())
    # Dense 64x16 + 16x10 (units=16 default): at 0.3 sparsity ~5.1 KB, at 0.9 ~1.3 KB.
    tuner = PruningTuner(hypermodel, max_trials=2, max_size_kb=3.0, seed=0, directory=tmp_path, project_name="s")
    _search(tuner, digits)
    results = tuner.results()
    assert len(results) == 2
    for r in results:
        assert (r["metrics"]["size_kb"] <= 3.0) == (r["metrics"]["feasible"] == 1.0)
    assert sorted(r["metrics"]["feasible"] for r in results) == [0.0, 1.0]
    (best,) = tuner.get_best_trials(5)
    assert best.metrics.get_last_value("size_kb") <= 3.0


def test_estimate_size_bytes_hand_computed():
    model = keras.Sequential([keras.layers.Input(shape=(10,)), keras.layers.Dense(4)])
    kernel = np.zeros((10, 4), np.float32)
    kernel[[0, 3, 5, 9], [0, 1, 2, 3]] = 1.0
    model.set_weights([kernel, np.ones(4, np.float32)])
    # kernel: CSR 4*4 values + 1*4 uint8 indices + 4*(10+1) row pointers = 64 < dense 160; bias 16.
    assert estimate_size_bytes(model) == 64 + 16
    dense = keras.Sequential([keras.layers.Input(shape=(10,)), keras.layers.Dense(4)])
    assert estimate_size_bytes(dense) == 4 * 44  # no zeros: dense storage is smaller
    pruned = tfprune.prune(dense, 0.9, allocation="uniform")
    assert estimate_size_bytes(pruned) == 64 + 16  # masks, thresholds, step not counted


# --------------------------------------------------------------------------- Pareto front


def test_pareto_front_hand_computed():
    points = [(0.5, 0.9), (0.8, 0.85), (0.6, 0.8), (0.8, 0.7), (0.9, 0.6), (0.5, 0.9)]
    assert pareto.pareto_front(points) == [0, 5, 1, 4]
    assert pareto.pareto_front([]) == []
    assert pareto.pareto_front([(0.5, float("nan")), (0.4, 0.1)]) == [1]


def test_pareto_report_files(tmp_path):
    records = [
        {"trial_id": "0", "hyperparameters": {"pruning/sparsity": 0.5, "pruning/allocation": "lamp",
                                              "pruning/schedule": "oneshot"},
         "metrics": {"sparsity": 0.5, "val_accuracy": 0.9, "size_kb": 3.0, "feasible": 0.0}},
        {"trial_id": "1", "hyperparameters": {"pruning/sparsity": 0.8}, "metrics": {"sparsity": 0.8,
                                                                                   "val_accuracy": 0.95,
                                                                                   "size_kb": 1.0,
                                                                                   "feasible": 1.0}},
        {"trial_id": "2", "hyperparameters": {}, "metrics": {"sparsity": 0.7, "val_accuracy": 0.5}},
    ]
    report = pareto.write_report(records, "val_accuracy", str(tmp_path))
    assert report["front"] == ["1"]
    table = open(report["table"]).read()
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| trial")]
    assert [row.split("|")[1].strip() for row in rows] == ["0", "2", "1"]  # by sparsity
    assert rows[2].rstrip().endswith("| yes | * |") and rows[0].rstrip().endswith("| no |  |")
    assert open(report["png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["pareto.md", "pareto.png"]  # no temporaries left
    with pytest.raises(ValueError, match="directory="):
        pareto.write_report(records, "val_accuracy", str(tmp_path / "missing"))


# --------------------------------------------------------------------------- search space


def test_search_space_and_schedule_layout():
    hypermodel = PruningHyperModel(build_mlp, sparsity=(0.5, 0.9), allocation=["lamp", "erk"],
                                   end_fraction=0.5, rate=[0.5], power=[1, 3])
    hp = kt.HyperParameters()
    values = hypermodel.declare_pruning(hp)
    assert values == {"sparsity": 0.5, "allocation": "lamp", "schedule": "oneshot"}
    names = {p.name for p in hp.space}
    assert names == {"pruning/" + n for n in ("sparsity", "allocation", "schedule", "end_fraction", "power", "rate")}
    assert isinstance(hypermodel.make_schedule(hp, 40), tfprune.schedules.OneShot)

    hp.values["pruning/schedule"] = "gradual"
    hp.values["pruning/sparsity"] = 0.8
    hp.values.update({"pruning/end_fraction": 0.5, "pruning/power": 1.0})
    gradual = hypermodel.make_schedule(hp, 40)
    # end_step = round(0.5 * 40) = 20, frequency = ceil(20 / 10) = 2.
    assert (gradual.end_step, gradual.frequency, gradual.power, gradual.sparsity) == (20, 2, 1.0, 0.8)
    assert gradual.events[-1] == (20, 0.8)

    hp.values["pruning/schedule"] = "iterative"
    hp.values["pruning/sparsity"] = 0.9
    hp.values["pruning/rate"] = 0.5
    iterative = hypermodel.make_schedule(hp, 40)
    # rate 0.5 -> ceil(log 0.1 / log 0.5) = 4 rounds over 20 steps: 5 steps per round.
    assert (iterative.rounds, iterative.steps_per_round, iterative.rate) == (4, 5, 0.5)
    assert iterative.last_step <= 40
    with pytest.raises(ScheduleTooShort, match="4 pruning rounds"):
        hypermodel.make_schedule(hp, 3)

    model = hypermodel.build(hp)
    pruned = hypermodel.prune(hp, model, 40)
    assert tfprune.is_pruned(pruned)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(sparsity=(0.9, 0.5)), ValueError, "low < high"),
        (dict(sparsity=1.0), ValueError, r"sparsity=1\.0: must be in \[0\.0, 1\.0\)"),
        (dict(sparsity="high"), ValueError, "sparsity='high'"),
        (dict(allocation="magnitude"), ValueError, "unknown name 'magnitude'.*'lamp'"),
        (dict(schedule=["cosine"]), ValueError, "unknown name 'cosine'.*'gradual'"),
        (dict(end_fraction=0), ValueError, r"end_fraction=0"),
        (dict(rate=(0.2, 1.0)), ValueError, r"rate=.*\(0\.0, 1\.0\)"),
        (dict(power=[]), ValueError, "power=\\[\\]"),
    ],
)
def test_hypermodel_rejects_bad_specs(kwargs, error, match):
    with pytest.raises(error, match=match):
        PruningHyperModel(build_mlp, **kwargs)


def test_tuner_rejects_bad_arguments(digits, tmp_path):
    where = dict(directory=tmp_path, project_name="bad")
    with pytest.raises(ValueError, match=r"oracle='grid'.*'random', 'bayesian', 'hyperband'"):
        PruningTuner(build_mlp, "grid", **where)
    with pytest.raises(ValueError, match="max_trials=0"):
        PruningTuner(build_mlp, max_trials=0, **where)
    with pytest.raises(ValueError, match="max_epochs=None: oracle='hyperband'"):
        PruningTuner(build_mlp, "hyperband", **where)
    with pytest.raises(ValueError, match="max_epochs=3: only used by oracle='hyperband'"):
        PruningTuner(build_mlp, max_epochs=3, **where)
    with pytest.raises(ValueError, match="size='zip'"):
        PruningTuner(build_mlp, size="zip", **where)
    with pytest.raises(TypeError, match="objective=3"):
        PruningTuner(build_mlp, objective=3, **where)
    with pytest.raises(ValueError, match="objective='val_loss'.*maximise"):
        PruningTuner(build_mlp, objective="val_loss", min_sparsity=0.5, **where)
    with pytest.raises(ValueError, match="objective=.*val_loss.*maximise"):
        PruningTuner(build_mlp, objective=kt.Objective("val_loss", "min"), max_size_kb=5, **where)
    with pytest.raises(ValueError, match="objective='my_metric'.*keras_tuner.Objective"):
        PruningTuner(build_mlp, objective="my_metric", **where)
    with pytest.raises(ValueError, match="min_sparsity=1.5"):
        PruningTuner(build_mlp, min_sparsity=1.5, **where)
    with pytest.raises(TypeError, match="distribution_strategy='mirrored'"):
        PruningTuner(build_mlp, distribution_strategy="mirrored", **where)
    with pytest.raises(ValueError, match="hypermodel=None"):
        PruningTuner(None, **where)

    tuner = PruningTuner(build_mlp, max_trials=1, **where)
    import keras as keras3

    with pytest.raises(TypeError, match="not a tf_keras callback"):
        tuner.search(digits.train, epochs=1, callbacks=[keras3.callbacks.EarlyStopping()])
    # The objective needs validation data: a clear error, not a failed trial.
    with pytest.raises(ValueError, match="objective='val_accuracy' is not among.*validation_data"):
        tuner.search(digits.train, epochs=1, verbose=0)


def test_uncompiled_model_needs_a_loss(digits, tmp_path):
    def build_uncompiled(hp):
        return keras.Sequential([keras.layers.Input(shape=(8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])

    tuner = PruningTuner(build_uncompiled, max_trials=1, directory=tmp_path, project_name="u")
    with pytest.raises(ValueError, match="uncompiled model.*loss="):
        _search(tuner, digits)
    tuner = PruningTuner(
        PruningHyperModel(build_uncompiled, sparsity=0.5, allocation="erk", schedule="oneshot"),
        max_trials=1,
        objective="val_sparse_categorical_accuracy",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
        directory=tmp_path,
        project_name="u2",
    )
    logs = tmp_path / "logs"
    _search(tuner, digits, callbacks=[keras.callbacks.TensorBoard(str(logs))])
    (result,) = tuner.results()
    assert result["score"] == result["metrics"]["val_sparse_categorical_accuracy"]
    # TensorBoard gets a folder per trial, with the per-layer sparsity summaries beside it.
    assert (logs / "0" / "train").is_dir() and os.listdir(logs / "0" / "sparsity")


# --------------------------------------------------------------------------- Keras 3


def test_keras3_model_gets_a_clear_type_error(digits, tmp_path):
    import keras as keras3

    def build_keras3(hp):
        return keras3.Sequential([keras3.layers.Input(shape=(8, 8, 1)), keras3.layers.Flatten(),
                                  keras3.layers.Dense(10)])

    with pytest.raises(TypeError, match="Keras 3 model.*tf_keras"):
        PruningTuner(build_keras3, directory=tmp_path, project_name="k3")

    # A build function that turns to Keras 3 only inside a trial: the search stops with the
    # same error instead of recording a failed trial.
    state = {"keras3": False}

    def build_sometimes(hp):
        return build_keras3(hp) if state["keras3"] else build_mlp(hp)

    tuner = PruningTuner(build_sometimes, max_trials=2, directory=tmp_path, project_name="k3b")
    state["keras3"] = True
    with pytest.raises(ModelTypeError, match="Keras 3 model.*tf_keras") as info:
        _search(tuner, digits)
    assert isinstance(info.value, TypeError)
    assert tuner.results() == []


# --------------------------------------------------------------------------- tf.distribute per trial

_REPLICAS = []


class _RecordReplicas(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        _REPLICAS.append(self.model.distribute_strategy.num_replicas_in_sync)


def test_mirrored_strategy_per_trial(digits, tmp_path, mirrored_strategy):
    # No XLA here: XLA + MirroredStrategy on logical CPUs fails inside TensorFlow itself.
    strategy = mirrored_strategy
    hypermodel = PruningHyperModel(build_mlp, sparsity=0.7, allocation="lamp", schedule="gradual")
    tuner = PruningTuner(hypermodel, max_trials=1, seed=0, distribution_strategy=strategy,
                         directory=tmp_path, project_name="m")
    _REPLICAS.clear()
    tuner.search(digits.train.take(5), validation_data=digits.validation, epochs=1, verbose=0,
                 callbacks=[_RecordReplicas()])
    assert _REPLICAS == [2]
    (result,) = tuner.results()
    assert result["metrics"]["sparsity"] == pytest.approx(0.7, abs=1.0 / (64 * 16 + 16 * 10))
    best = tuner.get_best_models(1)[0]
    assert best.distribute_strategy.num_replicas_in_sync == 2


# --------------------------------------------------------------------------- resume

_RESUME_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    import tfprune
    from tfprune import data
    from tfprune.backend import keras
    from tfprune.tuning import PruningHyperModel, PruningTuner

    def build_mlp(hp):
        model = keras.Sequential([keras.layers.Input(shape=(8, 8, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(hp.Choice("units", [16, 32]), activation="relu"),
                                  keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return model

    class KillInSecondTrial(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            project = os.path.join({directory!r}, "r")
            done = [d for d in os.listdir(project) if os.path.exists(os.path.join(project, d, "run.json"))]
            if len(done) >= 1:
                os.kill(os.getpid(), signal.SIGKILL)

    splits = data.load("digits", batch_size=64, seed=0)
    tuner = PruningTuner(PruningHyperModel(build_mlp, sparsity=(0.5, 0.9), schedule=["oneshot", "gradual"]),
                         max_trials=3, seed=5, directory={directory!r}, project_name="r")
    tuner.search(splits.train, validation_data=splits.validation, epochs=1, verbose=0,
                 callbacks=[KillInSecondTrial()])
    """
)


class _RecordingTuner(PruningTuner):
    def run_trial(self, trial, *args, **kwargs):
        self.ran = getattr(self, "ran", []) + [trial.trial_id]
        return super().run_trial(trial, *args, **kwargs)


def test_resume_after_a_killed_search_does_not_repeat_finished_trials(digits, tmp_path):
    script = tmp_path / "search.py"
    script.write_text(_RESUME_SCRIPT.format(repo=REPO, directory=str(tmp_path)))
    process = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert process.returncode == -signal.SIGKILL, process.stderr[-3000:]
    project = tmp_path / "r"
    first = json.loads((project / "trial_0" / "trial.json").read_text())
    assert first["status"] == "COMPLETED"
    assert json.loads((project / "trial_1" / "trial.json").read_text())["status"] == "RUNNING"
    assert not (project / "trial_1" / "run.json").exists()
    trial0_run = (project / "trial_0" / "run.json").read_text()

    tuner = _RecordingTuner(
        PruningHyperModel(build_mlp, sparsity=(0.5, 0.9), schedule=["oneshot", "gradual"]),
        max_trials=3, seed=5, directory=tmp_path, project_name="r", overwrite=False,
    )
    assert tuner.remaining_trials == 1  # trials 0 and 1 exist; 1 is sent for retry
    _search(tuner, digits)
    assert tuner.ran == ["1", "2"]  # the killed trial is re-run, the finished one is not
    assert (project / "trial_0" / "run.json").read_text() == trial0_run
    results = tuner.results()
    assert [r["trial_id"] for r in results] == ["0", "1", "2"]
    assert results[0]["hyperparameters"] == first["hyperparameters"]["values"]
    assert sorted(d for d in os.listdir(project) if d.startswith("trial_")) == ["trial_0", "trial_1", "trial_2"]

    # A finished search resumed again runs nothing.
    again = _RecordingTuner(
        PruningHyperModel(build_mlp, sparsity=(0.5, 0.9), schedule=["oneshot", "gradual"]),
        max_trials=3, seed=5, directory=tmp_path, project_name="r",
    )
    _search(again, digits)
    assert getattr(again, "ran", []) == []


# --------------------------------------------------------------------------- CLI


def test_tune_command_writes_report_and_best_model_and_resumes(tmp_path):
    out = tmp_path / "out"
    args = ["--output", str(out), "--max-trials", "2", "--epochs", "1", "--min-sparsity", "0.6",
            "--sparsity", "0.5,0.9", "--allocation", "lamp", "--allocation", "erk", "--schedule", "oneshot",
            "--quiet"]
    result = CliRunner().invoke(tune_command, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert sorted(os.listdir(out)) == ["best.json", "best_model.keras", "pareto.md", "pareto.png", "search"]
    best = json.loads((out / "best.json").read_text())
    assert best["objective"] == "constrained_val_accuracy" and best["metrics"]["feasible"] == 1.0
    model = keras.models.load_model(str(out / "best_model.keras"))
    assert not tfprune.is_pruned(model)
    assert tfprune.sparsity_summary(model)["total"]["sparsity"] >= 0.6 - 1e-3
    assert "best trial" in result.output

    again = CliRunner().invoke(tune_command, args[:-1])  # not quiet: says it resumes
    assert again.exit_code == 0, again.output
    assert "resuming with 2 finished trials" in again.output
    assert "Running Trial" not in again.output

    bad = CliRunner().invoke(tune_command, ["--output", str(out), "--oracle", "grid"])
    assert bad.exit_code == 2 and "grid" in bad.output
    bad = CliRunner().invoke(tune_command, ["--output", str(out), "--sparsity", "0.9,0.5"])
    assert (bad.exit_code, bad.stderr) == (1, "Error: --sparsity (0.9, 0.5): a range (low, high) needs low < high\n")
