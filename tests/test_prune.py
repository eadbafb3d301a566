"""prune/strip through model.fit: targets reached, XLA, MirroredStrategy, guard, save/load/resume."""

import warnings

import numpy as np
import pytest

import tfprune
from tfprune.layers import prunable, prunable_weights
from tfprune.allocation import budget
from tfprune.backend import PruneLowMagnitude, keras, tf
from tfprune.pruning_callbacks import RefreshAllocation, rewound_variables
from tfprune.schedules import Gradual, Iterative, OneShot

RNG = np.random.default_rng(0)
X = RNG.normal(size=(128, 8, 8, 1)).astype("float32")
Y = RNG.integers(0, 10, 128)
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def small_cnn():
    return keras.Sequential(
        [
            keras.layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1), name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(10, name="out"),
        ]
    )


def functional_mlp():
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inputs)
    a = keras.layers.Dense(12, activation="relu", name="a")(h)
    b = keras.layers.Dense(12, activation="relu", name="b")(h)
    outputs = keras.layers.Dense(10, name="out")(keras.layers.Concatenate()([a, b]))
    return keras.Model(inputs, outputs)


def kept(model):
    return {r["name"]: r["nonzeros"] for r in tfprune.sparsity_summary(model)["layers"]}


def train(model, steps, jit=False, batch_size=16, callbacks=None):
    model.compile(keras.optimizers.Adam(1e-2), LOSS, jit_compile=jit)
    epochs = steps // (len(X) // batch_size)
    model.fit(X, Y, batch_size=batch_size, epochs=epochs, verbose=0,
              callbacks=tfprune.callbacks(model) + (callbacks or []))
    return model


@pytest.mark.parametrize("build", [small_cnn, functional_mlp])
@pytest.mark.parametrize("method", ["lamp", "global", "uniform", "uniform+", "erk"])
def test_one_shot_realises_the_allocation_exactly(build, method):
    model = build()
    before = [w.copy() for w in model.get_weights()]
    pruned = tfprune.prune(model, sparsity=0.7, allocation=method)
    expected = tfprune.allocate(method, prunable_weights(model), 0.7)
    sizes = {k: w.size for k, w in prunable_weights(model).items()}
    got = kept(pruned)
    for key, s in expected.items():
        assert got[key.split("/")[0]] == round(sizes[key] * (1 - s))
    total = sum(sizes.values())
    assert tfprune.sparsity_summary(pruned)["total"]["nonzeros"] == budget.survivors(total, 0.7)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)  # the user's model is untouched


def test_batchnorm_and_biases_are_never_wrapped_or_pruned():
    pruned = tfprune.prune(small_cnn(), sparsity=0.9)
    wrapped = [layer.layer.name for layer in pruned.layers if isinstance(layer, PruneLowMagnitude)]
    assert wrapped == ["conv", "hidden", "out"]
    for layer in pruned.layers:
        if isinstance(layer, PruneLowMagnitude):
            assert np.count_nonzero(layer.layer.bias.numpy() == 0) == layer.layer.bias.shape[0]  # zero-init, untouched
            assert [w.name.split("/")[-1] for w, _, _ in layer.pruning_vars] == ["kernel:0"]


def test_exclude_by_name_and_predicate():
    pruned = tfprune.prune(small_cnn(), sparsity=0.5, exclude=["conv"])
    assert not isinstance(pruned.layers[0], PruneLowMagnitude)
    pruned = tfprune.prune(small_cnn(), sparsity=0.5, exclude=lambda layer: layer.name == "out")
    assert not isinstance(pruned.layers[-1], PruneLowMagnitude)
    assert kept(pruned)["out"] == 160  # excluded layers are reported, dense
    with pytest.raises(ValueError, match=r"exclude=\['nope'\]: no layer named \['nope'\]"):
        tfprune.prune(small_cnn(), sparsity=0.5, exclude=["nope"])


def test_masks_stay_fixed_through_fit_after_one_shot():
    pruned = tfprune.prune(small_cnn(), sparsity=0.8, allocation="lamp")
    masks = {k: w.mask.numpy().copy() for k, w in prunable(pruned).items()}
    train(pruned, 16)
    for key, weight in prunable(pruned).items():
        np.testing.assert_array_equal(weight.mask.numpy(), masks[key])
        assert np.all(weight.variable.numpy()[masks[key] == 0] == 0)


@pytest.mark.parametrize("method", ["lamp", "uniform", "erk"])
def test_gradual_reaches_target_at_end_step(method):
    schedule = Gradual(0.85, end_step=24, begin_step=1, frequency=8)
    pruned = tfprune.prune(small_cnn(), allocation=method, schedule=schedule)
    train(pruned, 16)  # steps 1..16: events at 1, 9 only
    assert tfprune.sparsity_summary(pruned)["total"]["sparsity"] < 0.85 - 0.05
    train(pruned, 8)  # steps 17..24: the last event is at 24
    total = tfprune.sparsity_summary(pruned)["total"]
    layers = len(tfprune.sparsity_summary(pruned)["layers"])
    assert abs(total["nonzeros"] - budget.survivors(total["params"], 0.85)) <= layers


def test_lamp_and_global_reallocate_when_weights_change():
    schedule = Gradual(0.8, end_step=20, begin_step=1, frequency=10)
    pruned = tfprune.prune(small_cnn(), allocation="global", schedule=schedule)
    step, refresh = tfprune.callbacks(pruned)[:2]
    assert isinstance(refresh, RefreshAllocation)
    for callback in (step, refresh):  # in the bundle's order, as fit calls them
        callback.set_model(pruned)
        callback.on_train_begin()
    first = refresh.refresh(20)
    hidden = pruned.layers[3].layer.kernel
    hidden.assign(hidden * 1000.0)  # the hidden layer now dominates every magnitude
    second = refresh.refresh(20)
    assert second["hidden/kernel"] < first["hidden/kernel"]
    assert float(pruned.layers[3].pruning_schedule.target.numpy()[0]) == pytest.approx(second["hidden/kernel"])
    weights = prunable_weights(pruned)
    assert second == tfprune.allocate("global", weights, 0.8)


def test_uniform_targets_stay_fixed_without_reallocation():
    schedule = Gradual(0.8, end_step=20, begin_step=1, frequency=10)
    pruned = tfprune.prune(small_cnn(), allocation="uniform", schedule=schedule, reallocate=False)
    assert [type(c).__name__ for c in tfprune.callbacks(pruned)] == ["UpdatePruningStep", "UpdateMasks", "ScheduleEndCheck"]
    default = tfprune.prune(small_cnn(), allocation="uniform", schedule=schedule)
    assert [type(c).__name__ for c in tfprune.callbacks(default)] == [
        "UpdatePruningStep", "RefreshAllocation", "ScheduleEndCheck"]


def test_xla_reaches_scheduled_sparsity():
    schedule = Gradual(0.75, end_step=16, begin_step=1, frequency=4)
    pruned = train(tfprune.prune(small_cnn(), allocation="lamp", schedule=schedule), 16, jit=True)
    total = tfprune.sparsity_summary(pruned)["total"]
    assert abs(total["nonzeros"] - budget.survivors(total["params"], 0.75)) <= 3


def test_mirrored_strategy_reaches_scheduled_sparsity(mirrored_strategy):
    with mirrored_strategy.scope():
        pruned = tfprune.prune(small_cnn(), allocation="lamp", schedule=Gradual(0.75, end_step=16, frequency=4))
        pruned.compile(keras.optimizers.Adam(1e-2), LOSS)
    pruned.fit(X, Y, batch_size=16, epochs=2, verbose=0, callbacks=tfprune.callbacks(pruned))
    total = tfprune.sparsity_summary(pruned)["total"]
    assert abs(total["nonzeros"] - budget.survivors(total["params"], 0.75)) <= 3
    # strip works outside the scope too (mirrored weights): the same masked kernels. (Outputs are
    # not compared: each replica keeps its own BatchNorm moving statistics; strip takes their mean.)
    stripped = tfprune.strip(pruned)
    assert kept(stripped) == kept(pruned)
    for name in ("conv", "hidden", "out"):
        np.testing.assert_array_equal(stripped.get_layer(name).kernel.numpy(),
                                      pruned.get_layer(f"prune_low_magnitude_{name}").layer.kernel.numpy())


@pytest.mark.parametrize("jit", [False, True])
def test_training_without_callbacks_fails_loudly(jit):
    pruned = tfprune.prune(small_cnn(), schedule=Gradual(0.8, end_step=10, frequency=2))
    pruned.compile("adam", LOSS, jit_compile=jit)
    with pytest.raises(tfprune.MissingPruningCallbacks, match="callbacks=tfprune.callbacks"):
        pruned.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    pruned.fit(X, Y, batch_size=16, epochs=1, verbose=0, callbacks=tfprune.callbacks(pruned))
    with pytest.raises(tfprune.MissingPruningCallbacks):  # a later fit must bring them again
        pruned.fit(X, Y, batch_size=16, epochs=1, verbose=0)


def test_the_callback_bundle_without_tfmots_step_callback_is_refused():
    """TF-MOT's UpdatePruningStep (first in the bundle) sets the pruning step from -1 to 0 before the
    first batch; without it, or after tfprune's callbacks, every step would be one off."""
    pruned = tfprune.prune(small_cnn(), schedule=Gradual(0.8, end_step=10, frequency=2))
    pruned.compile("adam", LOSS)
    bundle = tfprune.callbacks(pruned)
    for partial in (bundle[1:], bundle[1:] + bundle[:1]):
        with pytest.raises(tfprune.MissingPruningCallbacks, match=r"still unset \(-1\).*UpdatePruningStep"):
            pruned.fit(X, Y, batch_size=16, epochs=1, verbose=0, callbacks=partial)
    assert all(int(layer.pruning_step.numpy()) == -1 for layer in pruned.layers if hasattr(layer, "pruning_step"))
    pruned.fit(X, Y, batch_size=16, epochs=1, verbose=0, callbacks=bundle)
    assert all(int(layer.pruning_step.numpy()) == len(X) // 16 for layer in pruned.layers if hasattr(layer, "pruning_step"))


def test_strip_preserves_outputs_exactly_and_shares_nothing():
    pruned = train(tfprune.prune(small_cnn(), schedule=Gradual(0.8, end_step=8, frequency=4)), 16)
    stripped = tfprune.strip(pruned)
    assert not tfprune.is_pruned(stripped)
    np.testing.assert_array_equal(stripped.predict(X, verbose=0), pruned.predict(X, verbose=0))
    assert kept(stripped) == kept(pruned)
    stripped.layers[0].kernel.assign(tf.zeros_like(stripped.layers[0].kernel))
    assert np.count_nonzero(pruned.layers[0].layer.kernel.numpy()) > 0


@pytest.mark.parametrize("suffix", [".keras", ".h5", "_savedmodel"])
def test_save_load_resume_continues_schedule(tmp_path, suffix):
    schedule = Gradual(0.8, end_step=24, begin_step=1, frequency=8)
    pruned = train(tfprune.prune(small_cnn(), allocation="lamp", schedule=schedule), 8)
    path = str(tmp_path / f"model{suffix}")
    pruned.save(path)
    loaded = keras.models.load_model(path)  # no custom objects
    for key, weight in prunable(loaded).items():
        original = prunable(pruned)[key]
        np.testing.assert_array_equal(weight.mask.numpy(), original.mask.numpy())
        packed = [layer.pruning_vars[w.index][1].numpy() for layer, w in ((weight.layer, weight), (original.layer, original))]
        assert packed[0].dtype == np.int64  # the bit-packed mask round-trips in every format
        np.testing.assert_array_equal(*packed)
        assert int(weight.layer.pruning_step.numpy()) == 8
        assert weight.layer.pruning_schedule.allocation == "lamp"
    np.testing.assert_allclose(loaded.predict(X, verbose=0), pruned.predict(X, verbose=0), atol=1e-6)
    resumed = tfprune.load_model(path)
    with pytest.raises(tfprune.MissingPruningCallbacks):
        resumed.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    resumed.fit(X, Y, batch_size=16, epochs=2, verbose=0, callbacks=tfprune.callbacks(resumed))
    assert int(resumed.layers[0].pruning_step.numpy()) == 24
    total = tfprune.sparsity_summary(resumed)["total"]
    assert abs(total["nonzeros"] - budget.survivors(total["params"], 0.8)) <= 3


def test_iterative_rounds_and_weight_rewinding():
    schedule = Iterative(0.5, steps_per_round=4, rate=0.3, begin_step=3, rewind_step=2)
    pruned = tfprune.prune(small_cnn(), allocation="lamp", schedule=schedule)
    seen = {}

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            step = int(self.model.layers[0].pruning_step.numpy()) + 1
            if step == 4:  # right after round one (step 3): rewound, then masked in the step itself
                seen["weights"] = self.model.layers[3].layer.kernel.numpy().copy()
                seen["mask"] = prunable(self.model)["hidden/kernel"].mask.numpy().copy()

    train(pruned, 8, callbacks=[Record()])
    rewind = pruned._tfprune_rewind_values
    variables = rewound_variables(pruned)
    assert len(variables) == len(pruned.get_weights()) - 3 * 3  # 3 wrappers: mask, threshold, step
    snapshot = next(v for v, var in zip(rewind, variables) if var is pruned.layers[3].layer.kernel)
    np.testing.assert_array_equal(seen["weights"], snapshot * seen["mask"])
    assert 0 < seen["mask"].mean() < 1
    total = tfprune.sparsity_summary(pruned)["total"]
    # two rounds: 30%, then 1 - 0.7^2 = 51% capped at the 50% target
    assert abs(total["nonzeros"] - budget.survivors(total["params"], 0.5)) <= 3


def test_bad_models_and_arguments():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    with pytest.raises(TypeError, match="subclassed model Sub is not supported"):
        tfprune.prune(Sub(), sparsity=0.5)
    import keras as keras3

    k3 = keras3.Sequential([keras3.Input((4,)), keras3.layers.Dense(2)])
    with pytest.raises(TypeError, match="Keras 3 model.*tf_keras"):
        tfprune.prune(k3, sparsity=0.5)
    no_prunable = keras.Sequential([keras.layers.BatchNormalization(input_shape=(4,))])
    with pytest.raises(ValueError, match="no prunable layers"):
        tfprune.prune(no_prunable, sparsity=0.5)
    with pytest.raises(ValueError, match="overrides: no prunable layer named 'ghost'"):
        tfprune.prune(small_cnn(), sparsity=0.5, overrides={"ghost": 0.5})
    with pytest.raises(ValueError, match="disagrees with schedule"):
        tfprune.prune(small_cnn(), sparsity=0.5, schedule=OneShot(0.6))
    with pytest.raises(ValueError, match="already wrapped"):
        tfprune.prune(tfprune.prune(small_cnn(), sparsity=0.5), sparsity=0.5)
    with pytest.raises(ValueError, match=r"allocation='best'.*choose one of"):
        tfprune.prune(small_cnn(), sparsity=0.5, allocation="best")
    with pytest.raises(TypeError, match="schedule="):
        tfprune.prune(small_cnn(), schedule="gradual")


def test_steps_per_execution_is_refused():
    pruned = tfprune.prune(small_cnn(), schedule=Gradual(0.5, end_step=8, frequency=2))
    pruned.compile("adam", LOSS, steps_per_execution=4)
    with pytest.raises(ValueError, match="steps_per_execution=4"):
        pruned.fit(X, Y, batch_size=16, epochs=1, verbose=0, callbacks=tfprune.callbacks(pruned))


def test_sparsity_summaries_write_tensorboard_events(tmp_path):
    pruned = tfprune.prune(small_cnn(), sparsity=0.6)
    pruned.compile("adam", LOSS)
    pruned.fit(X, Y, batch_size=32, epochs=2, verbose=0, callbacks=tfprune.callbacks(pruned, log_dir=str(tmp_path)))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0}).Reload()
    tags = events.Tags()["tensors"]
    assert "sparsity/overall" in tags and "sparsity/hidden/kernel" in tags
    values = [tf.make_ndarray(e.tensor_proto) for e in events.Tensors("sparsity/overall")]
    assert len(values) == 2 and float(values[-1]) == pytest.approx(0.6, abs=1e-3)


def test_fit_shorter_than_the_schedule_warns_that_the_target_was_not_reached():
    pruned = tfprune.prune(small_cnn(), allocation="lamp", schedule=Iterative(0.9, steps_per_round=2, rate=0.5))
    pruned.compile("adam", LOSS)
    with pytest.warns(tfprune.SparsityNotReachedWarning) as caught:
        pruned.fit(X, Y, batch_size=32, epochs=1, verbose=0, callbacks=tfprune.callbacks(pruned))
    assert len(caught) == 1
    assert str(caught[0].message) == (
        "training ended at pruning step 4, before the schedule's last pruning event at step 7: the model is at "
        "sparsity 0.75, not the target 0.9; train 3 more steps (another fit continues the schedule) or fit the "
        "schedule to the run with for_run(sparsity, total_steps)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", tfprune.SparsityNotReachedWarning)
        pruned.fit(X, Y, batch_size=32, epochs=1, verbose=0, callbacks=tfprune.callbacks(pruned))


def _two_dense():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"), keras.layers.Dense(2, name="b")])


# uniform+ never empties a layer: it refuses such a target (last layer at most 80% sparse).
@pytest.mark.parametrize("name", sorted(set(tfprune.ALLOCATIONS.names()) - {"uniform+"}))
def test_an_allocation_that_empties_a_layer_warns(name):
    with pytest.warns(tfprune.EmptyLayerWarning) as caught:
        tfprune.prune(_two_dense(), 0.999, allocation=name)
    assert [str(w.message) for w in caught] == [
        f"sparsity=0.999 with allocation {name!r} leaves no weight in 2 of 2 weights (a/kernel, b/kernel; "
        "0 of 18 weights kept in all): an emptied layer cuts the network; lower the sparsity"
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", tfprune.EmptyLayerWarning)
        tfprune.prune(_two_dense(), 0.5, allocation=name)


def test_uniform_plus_refuses_instead_of_emptying():
    with pytest.raises(ValueError, match=r"^sparsity=0.999: unreachable with uniform\+"):
        tfprune.prune(_two_dense(), 0.999, allocation="uniform+")
