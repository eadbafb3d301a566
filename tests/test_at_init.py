"""prune_at_init: masks from scores (exact counts, ties, allocations, guard), frozen masks through fit
(XLA too), SBP-SI vs magnitude collapse at 99%, collapse reports and warnings, the CLI, bad input."""

import json
import os
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

import tfprune
from tfprune import allocation, data, scoring
from tfprune.layers import prunable, prunable_weights
from tfprune.allocation import budget
from tfprune.at_init import prune_at_init
from tfprune.collapse import CollapseWarning, collapse_report, is_connected
from tfprune.score_masks import select_masks
from tfprune.cli.prune_at_init import prune_at_init_command
from tfprune.backend import PruneLowMagnitude, keras
from tfprune.scoring import synflow as synflow_mod

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 8, 8, 1)).astype("float32")
Y = np.arange(64) % 10


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", batch_size=128)


def small_cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Flatten(),
            keras.layers.Dense(24, activation="relu", name="hidden"),
            keras.layers.Dense(10, name="out"),
        ]
    )


def mlp(seed=0):
    """64 -> 300 -> 100 -> 10 (glorot): magnitude at 99% keeps nothing of the middle layer."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(300, activation="relu", name="d1"),
            keras.layers.Dense(100, activation="relu", name="d2"),
            keras.layers.Dense(10, activation="softmax", name="d3"),
        ]
    )


def wrapper_masks(model):
    return {
        k: weight.mask.numpy().copy()
        for k, weight in prunable(model).items()
        if isinstance(weight.layer, PruneLowMagnitude)
    }


# --------------------------------------------------------------------------- select_masks


def test_global_selection_exact_count_and_tie_rule():
    scores = {"a/kernel": np.array([[3.0, 1.0], [2.0, 1.0]]), "b/kernel": np.array([[1.0, 5.0], [1.0, 0.0]])}
    masks = select_masks(scores, 0.5)  # keep 4: 5, 3, 2 and the FIRST of the four 1s (layer a, row-major)
    np.testing.assert_array_equal(masks["a/kernel"], [[1, 1], [1, 0]])
    np.testing.assert_array_equal(masks["b/kernel"], [[0, 1], [0, 0]])
    largest = select_masks(scores, 0.5, prune_largest=True)  # keep the 4 smallest: 0 and three of the 1s
    np.testing.assert_array_equal(largest["a/kernel"], [[0, 1], [0, 1]])
    np.testing.assert_array_equal(largest["b/kernel"], [[1, 0], [0, 1]])


@pytest.mark.parametrize("method", ["lamp", "uniform", "uniform+", "erk"])
def test_per_layer_allocations_decide_counts_and_layers_keep_their_top_k(method):
    rng = np.random.default_rng(1)
    scores = {"c/kernel": rng.random((3, 3, 2, 4)), "d/kernel": rng.random((40, 10)), "e/kernel": rng.random((10, 3))}
    masks = select_masks(scores, 0.7, method)
    expected = allocation.allocate(method, scores, 0.7)
    for key, mask in masks.items():
        count = int(round(scores[key].size * (1 - expected[key])))
        assert int(mask.sum()) == count
        np.testing.assert_array_equal(mask, tfprune.masks.top_k_mask(scores[key], count))


def test_collapse_guard_keeps_weights_per_layer_and_unit_with_exact_total():
    scores = {"a/kernel": np.full((4, 3), 10.0), "b/kernel": np.full((3, 2), 0.01)}
    assert select_masks(scores, 0.5)["b/kernel"].sum() == 0  # layer b collapses without the guard
    guarded = select_masks(scores, 0.5, min_per_layer=1)
    assert guarded["b/kernel"].sum() == 1 and guarded["a/kernel"].sum() == 8
    per_unit = select_masks(scores, 0.5, min_per_unit=1)
    assert per_unit["b/kernel"].sum(axis=0).tolist() == [1, 1]  # every output unit fed
    assert per_unit["a/kernel"].sum(axis=0).min() >= 1
    assert sum(int(m.sum()) for m in per_unit.values()) == 9
    wide = {"a/kernel": np.full((8, 5), 10.0), "b/kernel": np.full((3, 2), 0.01)}
    # uniform at 90% keeps 5 of 46: a 4, b 1; the guard raises b to 2 and takes the surplus from a
    assert {k: int(m.sum()) for k, m in select_masks(wide, 0.9, "uniform").items()} == {"a/kernel": 4, "b/kernel": 1}
    uniform = select_masks(wide, 0.9, "uniform", min_per_layer=2)
    assert {k: int(m.sum()) for k, m in uniform.items()} == {"a/kernel": 3, "b/kernel": 2}
    with pytest.raises(ValueError, match="min_per_layer=0, min_per_unit=1: the collapse guard reserves 5 weights but sparsity=0.9 keeps only 2 of 18"):
        select_masks(scores, 0.9, min_per_unit=1)


# --------------------------------------------------------------------------- prune_at_init


@pytest.mark.parametrize("jit", [False, True])
def test_masks_are_frozen_through_fit_and_strip(jit, digits):
    model = small_cnn()
    original = [w.copy() for w in model.get_weights()]
    pruned, pruned_info = prune_at_init(model, 0.8, score="snip", data=digits)
    before = wrapper_masks(pruned)
    assert sum(int(m.sum()) for m in before.values()) == budget.survivors(sum(m.size for m in before.values()), 0.8)
    pruned.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   jit_compile=jit)
    pruned.fit(digits.train.take(4), epochs=2, verbose=0, callbacks=tfprune.callbacks(pruned))
    after = wrapper_masks(pruned)
    for key in before:
        assert before[key].tobytes() == after[key].tobytes()  # bit-identical
    weights = prunable_weights(pruned)
    assert any(not np.array_equal(weights[k], prunable_weights(model)[k] * before[k]) for k in weights)
    stripped = tfprune.strip(pruned)
    for key, value in prunable_weights(stripped).items():
        assert np.all(value[before[key] == 0] == 0)
    for old, new in zip(original, model.get_weights()):  # the input model is untouched
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("score", ["snip", "grasp", "magnitude", "random"])
def test_masks_are_the_scorers_global_top_k(score, digits):
    model = small_cnn()
    pruned, pruned_info = prune_at_init(model, 0.9, score=score, data=digits, seed=3)
    options = {"seed": 3} if score != "magnitude" else {}
    scores = scoring.get(score)(model, digits, **options)
    expected = select_masks(scores, 0.9, prune_largest=score == "grasp")
    got = wrapper_masks(pruned)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    values = prunable_weights(pruned)
    dense = prunable_weights(model)
    for key in values:  # not rescaled: surviving weights keep their initial values
        np.testing.assert_array_equal(values[key], dense[key] * expected[key])


def test_synflow_at_init_uses_its_iterative_masks_and_per_layer_schedules():
    model = small_cnn()
    options = {"iterations": 10, "jit_compile": False}
    pruned, pruned_info = prune_at_init(model, 0.95, score="synflow", score_options=options)
    expected = synflow_mod.run(model, 0.95, **options).masks
    got = wrapper_masks(pruned)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])
    erk, erk_info = prune_at_init(model, 0.95, score="synflow", allocation="erk", score_options=options)
    sizes = {k: m.size for k, m in got.items()}
    counts = tfprune.masks.keep_counts(tfprune.allocate("erk", prunable_weights(model), 0.95), sizes)
    assert {k: int(m.sum()) for k, m in wrapper_masks(erk).items()} == counts


def test_synflow_at_init_keeps_the_official_count():
    """N - int(S N), as the official loop, where survivors(N, S) differs: 21 weights at 60% keep 9, not 8."""
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(3, use_bias=False, name="d")])
    pruned, _ = prune_at_init(model, 0.6, score="synflow", score_options={"iterations": 4}, warn=False)
    assert int(wrapper_masks(pruned)["d/kernel"].sum()) == 9 and budget.survivors(21, 0.6) == 8


def test_exclude_overrides_and_custom_scorer():
    model = small_cnn()
    pruned, pruned_info = prune_at_init(model, 0.7, score="magnitude", exclude=["out"], overrides={"conv": 0.5}, warn=False)
    assert not isinstance(prunable(pruned)["out/kernel"].layer, PruneLowMagnitude)  # left dense
    masks = wrapper_masks(pruned)
    assert set(masks) == {"conv/kernel", "hidden/kernel"} and int(masks["conv/kernel"].sum()) == 27
    total = sum(m.size for m in masks.values())
    assert sum(int(m.sum()) for m in masks.values()) == budget.survivors(total, 0.7)

    def negative_magnitude(model, data):
        return {k: -np.abs(w) for k, w in prunable_weights(model).items()}

    custom, custom_info = prune_at_init(model, 0.7, score=negative_magnitude, warn=False)
    smallest = select_masks(scoring.magnitude_scores(model), 0.7, prune_largest=True)
    for key, mask in wrapper_masks(custom).items():
        np.testing.assert_array_equal(mask, smallest[key])


def test_sbp_si_keeps_every_layer_connected_at_99_where_magnitude_collapses(digits):
    model = mlp()
    with pytest.warns(CollapseWarning, match="disconnected the network"):
        magnitude, magnitude_info = prune_at_init(model, 0.99, score="magnitude")
    report = magnitude_info["report"]
    assert report["collapsed"] == ["d2"] and not report["connected"]
    assert tfprune.sparsity_summary(magnitude)["collapsed"] == ["d2"]

    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        sbp, sbp_info = prune_at_init(model, 0.99, score="sbp-si", data=digits)
    report = sbp_info["report"]
    assert report["collapsed"] == [] and report["connected"]
    assert sbp_info["activation"] == "relu" and sbp_info["rescaled"]
    summary = tfprune.sparsity_summary(sbp)
    assert summary["total"]["nonzeros"] == budget.survivors(summary["total"]["params"], 0.99)
    assert all(row["nonzeros"] > 0 for row in summary["layers"])

    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        guarded, guarded_info = prune_at_init(model, 0.99, score="magnitude", min_per_layer=1, min_per_unit=1)
    assert guarded_info["report"]["connected"]
    assert all(row["nonzeros"] >= row["shape"][-1] for row in tfprune.sparsity_summary(guarded)["layers"])


def test_sbp_si_is_eoc_then_snip_then_rescaling(digits):
    model = mlp()
    pruned, pruned_info = prune_at_init(model, 0.9, score="sbp-si", data=digits, seed=7)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    reference = tfprune.init.edge_of_chaos(copy, "relu", seed=7)
    dense = prunable_weights(reference)
    masks = select_masks(scoring.snip_scores(reference, digits, seed=7), 0.9)
    got = wrapper_masks(pruned)
    for key, weight in prunable(pruned).items():
        np.testing.assert_array_equal(got[key], masks[key])
        expected, _ = tfprune.init.rescale_weight(dense[key], masks[key])
        np.testing.assert_allclose(weight.variable.numpy(), expected, rtol=1e-6)


def test_collapse_report_dead_units_and_connectivity():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="a"), keras.layers.Dense(2, name="b")]
    )
    pruned = tfprune.prune(model, 0.0)
    tfprune.masks.apply_masks(pruned, {"a/kernel": np.array([[1, 0, 0]] * 4), "b/kernel": np.array([[0, 0], [1, 1], [0, 0]])})
    report = collapse_report(pruned)
    assert report["dead_units"] == {"a": [1, 2]} and report["units"] == {"a": 3, "b": 2}
    assert report["collapsed"] == [] and not report["connected"]  # b reads only the dead unit 1
    pruned = tfprune.prune(model, 0.0)  # (apply_masks zeroes the weights: start again)
    tfprune.masks.apply_masks(pruned, {"a/kernel": np.array([[1, 0, 0]] * 4), "b/kernel": np.array([[1, 0], [0, 0], [0, 0]])})
    assert is_connected(pruned) and collapse_report(pruned)["dead_units"] == {"a": [1, 2], "b": [1]}
    assert is_connected(model)
    tokens = keras.Sequential(
        [keras.Input((5,), dtype="int32"), keras.layers.Embedding(20, 4, name="emb"), keras.layers.Flatten(),
         keras.layers.Dense(3, name="fc")]
    )
    report = prune_at_init(tokens, 0.5, score="magnitude").report["report"]
    assert report["connected"] is None and report["units"] == {"fc": 3}  # token ids: not checkable


def test_bad_input_is_refused_clearly(digits):
    model = small_cnn()
    with pytest.raises(ValueError, match=r"score='obd': unknown; choose one of \['grasp', 'magnitude', 'random', 'sbp-si', 'snip', 'synflow'\]"):
        prune_at_init(model, 0.5, score="obd")
    with pytest.raises(ValueError, match=r"sparsity=1.0: must be in \[0, 1\)"):
        prune_at_init(model, 1.0, score="magnitude")
    with pytest.raises(TypeError, match="sparsity='0.5': expected a number"):
        prune_at_init(model, "0.5", score="magnitude")
    for score in ("snip", "grasp", "sbp-si"):
        with pytest.raises(ValueError, match=f"data=None: score='{score}' is data-driven"):
            prune_at_init(model, 0.5, score=score)
    with pytest.raises(ValueError, match=r"data: x has shape \(64, 64\) but the model expects inputs of shape"):
        prune_at_init(model, 0.5, score="snip", data=(X.reshape(64, 64), Y))
    with pytest.raises(ValueError, match="allocation='best': unknown; choose one of"):
        prune_at_init(model, 0.5, score="magnitude", allocation="best")
    with pytest.raises(ValueError, match="min_per_layer=-1: must be an integer >= 0"):
        prune_at_init(model, 0.5, score="magnitude", min_per_layer=-1)
    with pytest.raises(ValueError, match="activation='gelu': no Edge-of-Chaos values known"):
        prune_at_init(model, 0.5, score="sbp-si", data=digits, activation="gelu")
    with pytest.raises(ValueError, match="already wrapped for pruning"):
        prune_at_init(tfprune.prune(model, 0.5), 0.5, score="magnitude")
    with pytest.raises(TypeError, match="score_options=3: expected a dict"):
        prune_at_init(model, 0.5, score="magnitude", score_options=3)
    with pytest.raises(ValueError, match="cannot infer the Edge-of-Chaos activation"):
        tanh_and_relu = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(3, activation="relu"),
             keras.layers.Dense(2)]
        )
        prune_at_init(tanh_and_relu, 0.5, score="sbp-si", data=(np.ones((4, 4), "float32"), np.array([0, 1, 0, 1])))


# --------------------------------------------------------------------------- CLI


def test_cli_prune_at_init_writes_the_usual_output_folder(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        prune_at_init_command,
        ["--score", "synflow", "--iterations", "5", "--sparsity", "0.9", "--epochs", "1", "--output", str(out),
         "--quiet", "--export", str(out / "model.tflite")],
    )
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["model.keras", "model.tflite", "report.json", "report.md", "sparsity.png"]
    report = json.loads((out / "report.json").read_text())
    total = report["summary"]["total"]
    assert total["nonzeros"] == budget.survivors(total["params"], 0.9)
    assert report["settings"]["score"] == "synflow" and report["settings"]["connected"] is True
    assert not tfprune.is_pruned(tfprune.load_model(str(out / "model.keras")))
    bad = CliRunner().invoke(prune_at_init_command, ["--sparsity", "1.5", "--output", str(out)])
    assert bad.exit_code != 0 and "--sparsity=1.5: must be in [0, 1)" in bad.output
