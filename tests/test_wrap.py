"""tfprune.wrap: layer schedules by path onto a copy of the model; every bad input named."""

import numpy as np
import pytest

import tfprune
from tfprune.backend import PruneLowMagnitude, keras
from tfprune.layers import prunable
from tfprune.pruning import layer_schedules
from tfprune.schedules import OneShot


def mlp():
    return keras.Sequential([keras.layers.Dense(6, input_shape=(4,), name="a"), keras.layers.Dense(3, name="b")])


def schedules_for(model, paths, sparsity=0.5):
    found = {k: w for k, w in prunable(model).items() if w.path in paths}
    return layer_schedules(found, OneShot(sparsity), {k: sparsity for k in found})


def test_wrap_wraps_exactly_the_given_paths_on_a_copy():
    model = mlp()
    before = [w.copy() for w in model.get_weights()]
    wrapped = tfprune.wrap(model, schedules_for(model, {"b"}))
    assert [type(layer).__name__ for layer in wrapped.layers] == ["Dense", "PruneLowMagnitude"]
    assert isinstance(wrapped.layers[1], PruneLowMagnitude) and wrapped.layers[1].layer.name == "b"
    shared = {id(v) for v in model.variables} & {id(v) for v in wrapped.variables}
    assert not shared  # no variable of the user's model is reused
    wrapped.layers[0].kernel.assign(np.zeros((4, 6), np.float32))
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_a_wrapped_copy_computes_what_the_model_computes_masks_all_ones():
    model = mlp()
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    wrapped = tfprune.wrap(model, schedules_for(model, {"a", "b"}))
    np.testing.assert_allclose(wrapped.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("schedules, error, match", [
    ({"dens": None}, ValueError, r"schedules: \['dens'\] are not paths of prunable layers; the prunable layers are "
                                 r"\['a', 'b'\]"),
    ({"a": 0.5}, TypeError, r"schedules: \{'a': 'float'\}: expected tfprune.schedules.LayerSchedule values"),
    ([("a", None)], TypeError, "schedules=list: expected a mapping"),
])
def test_bad_schedules_are_refused(schedules, error, match):
    with pytest.raises(error, match=match):
        tfprune.wrap(mlp(), schedules)


def test_a_wrapped_model_or_a_non_model_is_refused():
    pruned = tfprune.prune(mlp(), 0.5)
    with pytest.raises(ValueError, match="already wrapped for pruning"):
        tfprune.wrap(pruned, {})
    with pytest.raises((TypeError, ValueError), match="model"):
        tfprune.wrap("model.keras", {})
