"""Allocations: brute-force LAMP scores, exact targets, closed-form ERK, uniform+ rules, errors."""

import math

import numpy as np
import pytest

from tfprune import allocation
from tfprune.allocation import budget, erk_densities, lamp_scores


def _model_weights(rng, scale_first=1.0):
    return {
        "conv1/kernel": rng.normal(size=(3, 3, 1, 8)) * scale_first,
        "conv2/kernel": rng.normal(size=(3, 3, 8, 16)),
        "dense/kernel": rng.normal(size=(256, 64)),
        "out/kernel": rng.normal(size=(64, 10)),
    }


def _kept(weights, sparsities):
    return {k: round(weights[k].size * (1 - s)) for k, s in sparsities.items()}


@pytest.mark.parametrize("shape", [(7,), (5, 6), (3, 3, 2, 4)])
def test_lamp_scores_match_brute_force(shape):
    w = np.random.default_rng(1).normal(size=shape)
    flat = w.reshape(-1)
    expected = np.array([v * v / sum(u * u for u in flat if u * u >= v * v) for v in flat])
    np.testing.assert_allclose(lamp_scores(w).reshape(-1), expected, rtol=1e-6)


def test_lamp_scores_hand_computed():
    # sorted squares 1, 4, 9: scores 1/14, 4/13, 9/9
    np.testing.assert_allclose(lamp_scores(np.array([3.0, -1.0, 2.0])), [1.0, 1 / 14, 4 / 13], rtol=1e-7)


def test_largest_weight_of_every_layer_scores_one():
    rng = np.random.default_rng(2)
    for w in _model_weights(rng).values():
        scores = lamp_scores(w)
        assert scores.max() == pytest.approx(1.0)
        assert scores.flat[np.argmax(np.abs(w))] == pytest.approx(1.0)


def test_pruned_entries_score_zero():
    w = np.array([0.0, 0.0, 1.0, -2.0])
    np.testing.assert_allclose(lamp_scores(w), [0.0, 0.0, 1 / 5, 1.0])


@pytest.mark.parametrize("method", sorted(allocation.ALLOCATIONS))
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9, 0.97])
def test_every_allocation_hits_the_target_exactly(method, sparsity):
    weights = _model_weights(np.random.default_rng(3))
    result = allocation.allocate(method, weights, sparsity)
    assert list(result) == list(weights)
    total = sum(w.size for w in weights.values())
    kept = _kept(weights, result)
    assert sum(kept.values()) == math.floor(total * (1 - sparsity) + 0.5)
    for key, s in result.items():
        assert 0.0 <= s <= 1.0
        # the per-layer sparsity is an exact count of weights
        assert weights[key].size * (1 - s) == pytest.approx(kept[key], abs=1e-6)


@pytest.mark.parametrize("method", sorted(allocation.ALLOCATIONS))
def test_allocations_are_deterministic(method):
    weights = _model_weights(np.random.default_rng(4))
    assert allocation.allocate(method, weights, 0.8) == allocation.allocate(method, weights, 0.8)


def test_uniform_is_within_one_weight_per_layer():
    weights = _model_weights(np.random.default_rng(5))
    result = allocation.uniform(weights, 0.9)
    for key, s in result.items():
        assert abs(weights[key].size * (s - 0.9)) <= 1.0


def test_lamp_never_empties_a_layer_where_global_magnitude_does():
    weights = _model_weights(np.random.default_rng(6), scale_first=1e-3)
    global_result = allocation.global_magnitude(weights, 0.99)
    lamp_result = allocation.lamp(weights, 0.99)
    assert global_result["conv1/kernel"] == 1.0  # the tiny layer is wiped out
    assert all(_kept(weights, lamp_result)[k] >= 1 for k in weights)


def test_lamp_equals_global_threshold_on_scores():
    """Per-layer counts from LAMP = counts of entries above the global LAMP-score threshold."""
    weights = _model_weights(np.random.default_rng(7))
    result = allocation.lamp(weights, 0.9)
    scores = {k: lamp_scores(w).reshape(-1) for k, w in weights.items()}
    everything = np.sort(np.concatenate(list(scores.values())))[::-1]
    keep = math.floor(everything.size * 0.1 + 0.5)
    threshold = everything[keep - 1]
    for key, s in result.items():
        assert _kept(weights, {key: s})[key] == int(np.sum(scores[key] >= threshold))


def test_global_magnitude_tie_rule_prefers_earlier_layers():
    weights = {"a/kernel": np.array([1.0, 2.0, 3.0]), "b/kernel": np.array([2.0, 2.0, 5.0])}
    # keep 3 of 6: 5 and 3 are above the threshold 2; the one tied place goes to layer a
    assert allocation.global_magnitude(weights, 0.5) == {"a/kernel": 1 - 2 / 3, "b/kernel": 1 - 1 / 3}


def test_erk_closed_form_two_dense_layers():
    shapes = {"a/kernel": (10, 20), "b/kernel": (20, 5)}
    eps = 150 / (0.15 * 200 + 0.25 * 100)
    densities = erk_densities(shapes, 0.5)
    assert densities["a/kernel"] == pytest.approx(0.15 * eps)
    assert densities["b/kernel"] == pytest.approx(0.25 * eps)
    weights = {k: np.ones(s) for k, s in shapes.items()}
    assert _kept(weights, allocation.erk(weights, 0.5)) == {"a/kernel": 82, "b/kernel": 68}


def test_erk_makes_small_conv_dense_and_resolves():
    shapes = {"conv/kernel": (3, 3, 1, 8), "dense/kernel": (100, 100)}
    densities = erk_densities(shapes, 0.5)
    assert densities["conv/kernel"] == 1.0  # eps * 15/72 > 1 on the first pass
    assert densities["dense/kernel"] == pytest.approx((5036 - 72) / 200 * 0.02)


def test_uniform_plus_rules():
    weights = _model_weights(np.random.default_rng(8))
    result = allocation.uniform_plus(weights, 0.9)
    assert result["conv1/kernel"] == 0.0
    assert result["out/kernel"] <= 0.8
    assert result["conv2/kernel"] == pytest.approx(result["dense/kernel"], abs=1 / 1152)
    assert result["conv2/kernel"] > 0.9  # raised to make up for the dense first layer


def test_uniform_plus_last_layer_keeps_round_of_20_percent_as_the_lamp_code():
    """112 weights in the last layer: the LAMP code keeps round(22.4) = 22 of them (not ceil: 23)."""
    weights = {"conv1/kernel": np.ones((3, 3, 1, 8)), "dense/kernel": np.ones((100, 100)), "out/kernel": np.ones((16, 7))}
    # 10184 weights at 98%: 204 kept; conv1 dense (72), the last layer held at 22, the rest 110
    assert _kept(weights, allocation.uniform_plus(weights, 0.98)) == {"conv1/kernel": 72, "dense/kernel": 110, "out/kernel": 22}
    with pytest.raises(ValueError, match=r"sparsity=0\.993: unreachable with uniform\+ .*keeping round\(0\.2 n\) = 22 weights"):
        allocation.uniform_plus(weights, 0.993)


def test_uniform_plus_first_dense_layer_is_pruned():
    weights = {"d1/kernel": np.ones((64, 32)), "d2/kernel": np.ones((32, 10))}
    result = allocation.uniform_plus(weights, 0.5)
    assert result["d1/kernel"] > 0.0


def test_uniform_plus_unreachable_target():
    weights = _model_weights(np.random.default_rng(9))
    with pytest.raises(ValueError, match=r"sparsity=0\.995.*uniform\+.*below"):
        allocation.uniform_plus(weights, 0.995)


def test_overrides_fix_layers_and_keep_the_total():
    weights = _model_weights(np.random.default_rng(10))
    result = allocation.allocate("lamp", weights, 0.9, overrides={"out": 0.5})
    assert result["out/kernel"] == 0.5
    total = sum(w.size for w in weights.values())
    assert sum(_kept(weights, result).values()) == math.floor(total * 0.1 + 0.5)


def test_override_by_key_and_errors():
    weights = _model_weights(np.random.default_rng(11))
    assert allocation.allocate("uniform", weights, 0.9, overrides={"conv1/kernel": 0.0})["conv1/kernel"] == 0.0
    with pytest.raises(ValueError, match="overrides: no prunable layer named 'nope'"):
        allocation.allocate("uniform", weights, 0.9, overrides={"nope": 0.5})
    with pytest.raises(TypeError, match=r"overrides=\[\('out', 0.5\)\]: expected a mapping"):
        allocation.allocate("uniform", weights, 0.9, overrides=[("out", 0.5)])
    with pytest.raises(ValueError, match=r"overrides\[.dense.\]"):
        allocation.allocate("uniform", weights, 0.9, overrides={"dense": 1.5})
    with pytest.raises(ValueError, match="cannot be reached"):
        allocation.allocate("uniform", weights, 0.9, overrides={"dense": 0.0})


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), float("inf")])
def test_bad_sparsity_values(bad):
    with pytest.raises(ValueError, match=r"sparsity=.*\[0, 1\)"):
        allocation.allocate("lamp", _model_weights(np.random.default_rng(0)), bad)


@pytest.mark.parametrize("bad", ["0.5", None, True])
def test_bad_sparsity_types(bad):
    with pytest.raises(TypeError, match="sparsity="):
        allocation.allocate("lamp", _model_weights(np.random.default_rng(0)), bad)


def test_unknown_allocation_lists_choices():
    with pytest.raises(ValueError, match=r"allocation='magic'.*\['erk', 'global', 'lamp', 'uniform', 'uniform\+'\]"):
        allocation.allocate("magic", _model_weights(np.random.default_rng(0)), 0.5)


def test_non_finite_and_empty_weights():
    weights = _model_weights(np.random.default_rng(0))
    weights["dense/kernel"][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"weights\['dense/kernel'\] holds non-finite"):
        allocation.allocate("lamp", weights, 0.5)
    with pytest.raises(ValueError, match="no prunable weights"):
        allocation.allocate("uniform", {}, 0.5)


def test_apportion_respects_limits_and_total():
    counts = budget.apportion({"a": 2.5, "b": 2.5, "c": 1.0}, 6, lower={"c": 1}, upper={"a": 3, "b": 3, "c": 1})
    assert counts == {"a": 3, "b": 2, "c": 1}


def test_overrides_keeping_more_than_the_whole_budget_say_so():
    weights = {"a/kernel": np.ones((16, 16)), "b/kernel": np.ones((16, 4))}
    with pytest.raises(ValueError) as error:
        allocation.allocate("uniform", weights, 0.9, overrides={"a": 0.0})
    assert str(error.value) == (
        "overrides={'a': 0.0}: with these layers fixed, sparsity=0.9 cannot be reached by the other layers "
        "(the fixed layers alone keep 256 weights, more than the 32 the target keeps in all)"
    )
