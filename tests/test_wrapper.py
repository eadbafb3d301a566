"""The pruning wrapper: bit-packed masks equal to TF-MOT's float masks, step for step; their
storage size; older float-mask files; per-replica masking under MirroredStrategy."""

import numpy as np
import pytest

import tfprune
from tfprune import mask_storage
from tfprune import wrapper as wrapper_module
from tfprune.allocation import budget
from tfprune.backend import PruneLowMagnitude as TFMOTWrapper
from tfprune.backend import keras, tf, tfmot
from tfprune.layers import prunable
from tfprune.schedules import Gradual, LayerSchedule
from tfprune.wrapper import PruneLowMagnitude
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 6, 6, 1)).astype("float32")
Y = RNG.integers(0, 5, 64)
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def cnn(wrapper, schedules):
    """A conv + dense model, each layer in ``wrapper`` with its schedule; deterministic weights."""
    keras.utils.set_random_seed(1)
    return keras.Sequential([
        wrapper(keras.layers.Conv2D(3, 3, input_shape=(6, 6, 1), name="conv"), pruning_schedule=schedules[0]),
        keras.layers.Flatten(),
        wrapper(keras.layers.Dense(5, name="out"), pruning_schedule=schedules[1]),
    ])


@pytest.mark.parametrize("shape", [(1,), (13,), (8, 8), (3, 3, 2, 5)])
def test_pack_round_trips_and_matches_numpy_packbits(shape):
    mask = RNG.random(shape) < 0.4
    bits = mask_storage.pack(tf.constant(mask, tf.float32))
    assert bits.dtype == tf.int64 and bits.shape == (mask_storage.packed_size(mask.size),)
    # bit j of word i is element 64 i + j: the words' little-endian bytes are NumPy's packbits
    as_bytes = bits.numpy().astype("<i8").view(np.uint8)
    expected = np.packbits(mask.reshape(-1), bitorder="little")
    np.testing.assert_array_equal(as_bytes[: expected.size], expected)
    assert not as_bytes[expected.size:].any()
    np.testing.assert_array_equal(mask_storage.pack_numpy(mask), bits.numpy())
    np.testing.assert_array_equal(mask_storage.unpack(bits, shape).numpy(), mask)
    compiled = tf.function(lambda b: mask_storage.unpack(b, shape), jit_compile=True)
    np.testing.assert_array_equal(compiled(bits).numpy(), mask)
    as_numbers = mask_storage.unpack(bits, shape, tf.float16)
    assert as_numbers.dtype == tf.float16
    np.testing.assert_array_equal(as_numbers.numpy(), mask.astype(np.float16))
    # the NumPy reader: the same bits, whatever byte order the words come in
    for words in (bits.numpy(), bits.numpy().astype(">i8")):
        np.testing.assert_array_equal(mask_storage.unpack_numpy(words, shape), mask)
    as_numbers = mask_storage.unpack_numpy(bits.numpy(), shape, np.float16)
    assert as_numbers.dtype == np.float16 and as_numbers.shape == shape
    np.testing.assert_array_equal(as_numbers, mask.astype(np.float16))


@pytest.mark.parametrize("dtype", [tf.bool, tf.float32])
def test_unpack_by_byte_table_equals_bit_tests(monkeypatch, dtype):
    """The byte-table lookup (little-endian machines) and the elementwise bit tests (the other
    byte order) read the same mask, eagerly and under XLA."""
    mask = RNG.random((7, 19)) < 0.5
    bits = mask_storage.pack(tf.constant(mask))
    lookup = mask_storage.unpack(bits, mask.shape, dtype).numpy()
    monkeypatch.setattr(mask_storage, "_LITTLE_ENDIAN", False)
    tests = mask_storage.unpack(bits, mask.shape, dtype).numpy()
    compiled = tf.function(lambda b: mask_storage.unpack(b, mask.shape, dtype), jit_compile=True)(bits).numpy()
    for got in (lookup, tests, compiled):
        np.testing.assert_array_equal(got, mask.astype(dtype.as_numpy_dtype))


@pytest.mark.parametrize("driver", ["tfmot callback", "tfprune callbacks"])
def test_masks_and_weights_equal_tfmot_at_every_step(monkeypatch, driver):
    """Same weights, data order and schedules (tfprune's per-weight one and TF-MOT's own): the
    packed masks equal TF-MOT's float masks after every step, and so do the weights. With TF-MOT's
    callback alone the wrapper updates its masks in the graph, as TF-MOT does; with
    ``tfprune.callbacks`` the callbacks update the conv's masks (its schedule is tfprune's) before the
    batches of its pruning steps and the graph never does, while the TF-MOT-scheduled layer keeps its
    in-graph update."""

    def schedules():
        return (LayerSchedule(Gradual(0.8, end_step=12, begin_step=2, frequency=2), [0.6]),
                tfmot.sparsity.keras.PolynomialDecay(0.0, 0.7, begin_step=1, end_step=9, frequency=2))

    computed = []  # (layer, step or "graph") of every mask computation of tfprune's wrapper
    in_graph, between_steps = wrapper_module._Pruning._maybe_update_block_mask, wrapper_module._Pruning.update_masks

    def spy_graph(self, weights):
        if not tf.executing_eagerly():
            computed.append((weights.name.split("/")[0], "graph"))
        return in_graph(self, weights)

    def spy_callbacks(self, step):
        computed.append((self._pruning_vars[0][0].name.split("/")[0], step))
        return between_steps(self, step)

    tfmot_call, fitting = TFMOTWrapper.call, []
    traced_tfmot_call = []  # tfprune wrappers whose fit step TF-MOT's call (schedule, assert) traced

    def spy_call(self, *args, **kwargs):
        if fitting and isinstance(self, PruneLowMagnitude):
            traced_tfmot_call.append(self.layer.name)
        return tfmot_call(self, *args, **kwargs)

    monkeypatch.setattr(wrapper_module._Pruning, "_maybe_update_block_mask", spy_graph)
    monkeypatch.setattr(wrapper_module._Pruning, "update_masks", spy_callbacks)
    monkeypatch.setattr(TFMOTWrapper, "call", spy_call)
    runs = {}
    for name, wrapper in (("tfmot", TFMOTWrapper), ("tfprune", PruneLowMagnitude)):
        model = cnn(wrapper, schedules())
        model.compile(keras.optimizers.Adam(0.05), LOSS)
        seen = []

        class Record(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                found = prunable(self.model).values()
                seen.append([w.mask.numpy().copy() for w in found] + [w.variable.numpy().copy() for w in found])

        pruning = [tfmot.sparsity.keras.UpdatePruningStep()]
        if name == "tfprune" and driver == "tfprune callbacks":
            pruning = tfprune.callbacks(model)
        fitting.append(True)
        model.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=pruning + [Record()])
        fitting.clear()
        runs[name] = (model, seen)
    tfmot_model, tfmot_seen = runs["tfmot"]
    model, seen = runs["tfprune"]
    assert all(v.dtype == tf.int64 for layer in (model.layers[0], model.layers[2]) for _, v, _ in layer.pruning_vars)
    assert len(seen) == len(tfmot_seen) == 16
    for step, (ours, theirs) in enumerate(zip(seen, tfmot_seen), start=1):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b, err_msg=f"step {step}")
    conv_mask, out_mask = seen[-1][:2]
    assert conv_mask.sum() == round(conv_mask.size * (1 - 0.6))  # the per-weight target, reached
    assert out_mask.sum() == round(out_mask.size * (1 - 0.7))
    conv = [step for layer, step in computed if layer.endswith("conv")]
    out = [step for layer, step in computed if layer.endswith("out")]
    if driver == "tfprune callbacks":
        assert conv == [2, 4, 6, 8, 10, 12]  # before the batch of each pruning step, never in the graph
        assert set(traced_tfmot_call) == {"out"}  # the conv's step leaves out TF-MOT's update branch
    else:
        assert conv and set(conv) == {"graph"}
        assert set(traced_tfmot_call) == {"conv", "out"}
    assert out and set(out) == {"graph"}
    stripped = tfmot.sparsity.keras.strip_pruning(model)  # TF-MOT's own strip: weights already masked
    np.testing.assert_array_equal(stripped.layers[0].kernel.numpy() != 0, conv_mask.astype(bool))
    np.testing.assert_array_equal(stripped.predict(X, verbose=0), tfmot_model.predict(X, verbose=0))


@pytest.mark.parametrize("size", [1, 7, 100, 4099])
def test_numpy_magnitude_mask_equals_tfmot_update_mask(size):
    """The callbacks' NumPy rule against TF-MOT's own ``_update_mask`` (top_k) on the same weights:
    the same threshold and mask at every sparsity, with ties (weights rounded to a coarse grid, signs
    mixed) and without, including sparsities whose float32 keep count is a rounding tie."""
    rng = np.random.default_rng(size)
    smooth = rng.normal(size=size).astype(np.float32)
    tied = (np.round(smooth * 4) / 4).astype(np.float32)  # many equal magnitudes
    sparsities = [s for s in (0.0, 0.5, 0.9, 0.99, 1.0, 1 - 0.5 / size, 1 - 1.5 / size, 1 - 2.5 / size) if s >= 0]
    for weights in (smooth, tied):
        for sparsity in sparsities:
            sparsity = np.float32(sparsity)
            pruning = pruning_impl.Pruning(lambda: tf.constant(1, tf.int64), [],
                                           lambda step: (tf.constant(True), tf.constant(sparsity)), [1, 1], "AVG")
            threshold, mask = pruning._update_mask(tf.constant(weights))
            ours_threshold, ours_mask = wrapper_module.magnitude_mask(weights, sparsity)
            assert ours_threshold == threshold.numpy(), (size, sparsity)
            np.testing.assert_array_equal(ours_mask, mask.numpy().astype(bool), err_msg=f"{size} {sparsity}")


def test_mask_storage_is_one_bit_per_weight():
    pruned = tfprune.prune(cnn(lambda layer, pruning_schedule: layer, (None, None)), 0.5, allocation="uniform")
    found = prunable(pruned)
    weights = sum(w.variable.shape.num_elements() for w in found.values())
    bookkeeping = {id(v): v for w in found.values() for v in w.layer.pruning_vars[w.index][1:]}
    bookkeeping.update({id(w.layer.pruning_step): w.layer.pruning_step for w in found.values()})
    sizes = [v.shape.num_elements() * v.dtype.size for v in bookkeeping.values()]
    # conv: 3*3*1*3 = 27 weights -> one int64 word, 8 bytes; out: 48*5 = 240 -> 4 words, 32 bytes;
    # a float32 threshold per weight, an int64 pruning step per layer
    assert weights == 267
    assert sorted(sizes) == [4, 4, 8, 8, 8, 32]
    assert sum(sizes) / weights == pytest.approx(64 / 267)
    for weight in found.values():
        assert weight.layer.pruning_vars[weight.index][1].dtype == tf.int64
        assert weight.mask.dtype == weight.variable.dtype and weight.mask.shape == weight.variable.shape


def test_a_model_saved_with_float_masks_loads_with_float_masks():
    layer = PruneLowMagnitude(keras.layers.Dense(3, input_shape=(4,), name="d"),
                              pruning_schedule=LayerSchedule(Gradual(0.5, end_step=4), [0.5]))
    config = layer.get_config()
    assert config.pop("packed_masks") is True
    old = PruneLowMagnitude.from_config(config)  # a config written before masks were packed
    model = keras.Sequential([keras.Input((4,)), old])
    assert old.packed_masks is False and old.pruning_vars[0][1].dtype == tf.float32
    mask = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 1, 0]], np.float32)
    tfprune.set_masks(model, {"d/kernel": mask})
    np.testing.assert_array_equal(prunable(model)["d/kernel"].mask.numpy(), mask)
    np.testing.assert_array_equal(old.pruning_vars[0][1].numpy(), mask)
    weight = prunable(model)["d/kernel"]
    np.testing.assert_array_equal(weight.value(), weight.variable.numpy() * mask)


def test_masked_value_is_the_weight_times_its_packed_mask():
    """``PrunableWeight.value`` unpacks in NumPy; it equals the weight times the mask TensorFlow
    unpacks, bit for bit (signed zeros included), on shapes that do and do not fill their last word."""
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(13, name="a"), keras.layers.Dense(64, name="b")])
    pruned = tfprune.prune(model, 0.5, allocation="uniform")
    for key, weight in prunable(pruned).items():
        masked = weight.variable.numpy() * weight.mask.numpy()  # TensorFlow's unpacking
        assert masked.size in (130, 832) and np.count_nonzero(masked == 0) >= masked.size // 2, key
        np.testing.assert_array_equal(np.signbit(weight.value()), np.signbit(masked))
        np.testing.assert_array_equal(weight.value(), masked)


def test_a_custom_training_loop_keeps_the_in_graph_mask_update():
    """Only fit's guarded train step leaves the masks to the callbacks: a training step of the
    user's own (before and after a fit) still prunes at the schedule's steps, in the graph."""
    schedule = Gradual(0.75, end_step=8, begin_step=2, frequency=2)  # events at steps 2, 4, 6, 8
    pruned = tfprune.prune(cnn(lambda layer, pruning_schedule: layer, (None, None)), allocation="uniform",
                           schedule=schedule, reallocate=False)  # fixed targets: no callback needed to set them
    optimizer = keras.optimizers.SGD(0.01)
    for layer in pruned.layers:
        if hasattr(layer, "pruning_step"):
            layer.pruning_step.assign(0)  # what TF-MOT's UpdatePruningStep does before training

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = LOSS(y, pruned(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, pruned.trainable_variables), pruned.trainable_variables))

    def kept():
        return sum(int(np.count_nonzero(w.mask.numpy())) for w in prunable(pruned).values())

    def expected(step):  # each layer follows the ramp: round(n * (1 - target * s(step) / s_final))
        ramp = schedule.sparsity_at(step) / schedule.sparsity
        return sum(round(w.variable.shape.num_elements() * (1 - float(w.layer.pruning_schedule.target[0]) * ramp))
                   for w in prunable(pruned).values())

    def custom_loop(steps):
        for index in range(steps):
            step(X[4 * index:4 * index + 4], Y[4 * index:4 * index + 4])

    total = sum(w.variable.shape.num_elements() for w in prunable(pruned).values())
    custom_loop(4)  # steps 1-4: the event at step 4, in the graph
    assert kept() == expected(4) < total
    pruned.compile(keras.optimizers.SGD(0.01), LOSS)
    with pytest.warns(tfprune.SparsityNotReachedWarning):  # fit ends at step 6, before the last event
        pruned.fit(X[:8], Y[:8], batch_size=4, verbose=0, callbacks=tfprune.callbacks(pruned))  # steps 5-6
    assert expected(4) > kept() == expected(6)
    custom_loop(2)  # steps 7-8: the last event in the graph again
    assert int(pruned.layers[0].pruning_step.numpy()) == 8
    assert kept() == budget.survivors(total, 0.75)  # the target, reached


def test_mirrored_replicas_keep_identical_weights_and_masks(mirrored_strategy):
    with mirrored_strategy.scope():
        pruned = tfprune.prune(cnn(lambda layer, pruning_schedule: layer, (None, None)), allocation="lamp",
                               schedule=Gradual(0.75, end_step=8, frequency=4))
        pruned.compile(keras.optimizers.Adam(0.05), LOSS)
    pruned.fit(X, Y, batch_size=8, epochs=2, verbose=0, callbacks=tfprune.callbacks(pruned))
    for weight in prunable(pruned).values():
        _, mask, _ = weight.layer.pruning_vars[weight.index]
        for variable in (weight.variable, mask):
            first, *others = [v.numpy() for v in variable.values]
            assert len(others) == 1
            for other in others:
                np.testing.assert_array_equal(other, first)
        np.testing.assert_array_equal(weight.variable.numpy() != 0, weight.mask.numpy() != 0)
    total = tfprune.sparsity_summary(pruned)["total"]
    assert abs(total["nonzeros"] - budget.survivors(total["params"], 0.75)) <= 2
