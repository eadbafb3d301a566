"""Every weight TF-MOT can prune is pruned: RNNs, attention, custom PrunableLayers, nested and
shared layers, names with "/" -- with exact survivor counts, and the layers left dense listed."""

import numpy as np
import pytest

import tfprune
from tfprune.allocation import budget
from tfprune.backend import keras, tf
from tfprune.layers import calls_per_step, dense_layers, iter_layers, prunable, prunable_weights
from tfprune.schedules import Gradual, Iterative
from tensorflow_model_optimization.python.core.sparsity.keras import prunable_layer

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def lstm_model():
    i = keras.Input((6, 5))
    x = keras.layers.LSTM(8, name="lstm")(i)
    return keras.Model(i, keras.layers.Dense(3, name="out")(x))


def gru_model():
    i = keras.Input((6, 5))
    x = keras.layers.GRU(7, name="gru")(i)
    return keras.Model(i, keras.layers.Dense(3, name="out")(x))


def attention_model():
    i = keras.Input((4, 6))
    a = keras.layers.MultiHeadAttention(2, 4, name="mha")(i, i)
    x = keras.layers.GlobalAveragePooling1D()(a)
    return keras.Model(i, keras.layers.Dense(3, name="out")(x))


class Scaled(keras.layers.Layer, prunable_layer.PrunableLayer):
    """A user layer that declares its prunable weight the TF-MOT way."""

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1], 5))
        self.v = self.add_weight("v", (5,))

    def call(self, x):
        return x @ self.w * self.v

    def get_prunable_weights(self):
        return [self.w]


def custom_model():
    i = keras.Input((7,))
    return keras.Model(i, keras.layers.Dense(3, name="out")(Scaled(name="scaled")(i)))


EXPECTED_KEYS = {
    lstm_model: ["lstm/kernel", "lstm/recurrent_kernel", "out/kernel"],
    gru_model: ["gru/kernel", "gru/recurrent_kernel", "out/kernel"],
    attention_model: ["mha/query/kernel", "mha/key/kernel", "mha/value/kernel", "mha/attention_output/kernel",
                      "out/kernel"],
    custom_model: ["scaled/w", "out/kernel"],
}


@pytest.mark.parametrize("build", list(EXPECTED_KEYS), ids=lambda b: b.__name__)
@pytest.mark.parametrize("method", ["lamp", "uniform", "erk"])
def test_every_tfmot_prunable_weight_is_pruned_to_the_exact_count(build, method):
    model = build()
    assert list(prunable(model)) == EXPECTED_KEYS[build]
    weights = prunable_weights(model)
    pruned = tfprune.prune(model, 0.9, allocation=method)
    summary = tfprune.sparsity_summary(pruned)
    total = summary["total"]
    assert total["params"] == sum(w.size for w in weights.values())
    assert total["nonzeros"] == budget.survivors(total["params"], 0.9)
    expected = tfprune.allocate(method, weights, 0.9)  # each weight at its own allocated sparsity
    for row in summary["layers"]:
        assert row["nonzeros"] == round(row["params"] * (1 - expected[row["key"]]))
    assert summary["dense"] == []


@pytest.mark.parametrize("build", [lstm_model, attention_model], ids=lambda b: b.__name__)
def test_gradual_lamp_on_multi_weight_layers_reaches_the_target_and_strips_equal(build):
    model = build()
    x = np.random.default_rng(0).random((32, *model.input_shape[1:])).astype("float32")
    y = np.arange(32) % 3
    pruned = tfprune.prune(model, allocation="lamp", schedule=Gradual(0.8, end_step=6, frequency=2))
    pruned.compile("adam", LOSS)
    pruned.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=tfprune.callbacks(pruned))
    total = tfprune.sparsity_summary(pruned)["total"]
    assert total["nonzeros"] == budget.survivors(total["params"], 0.8)
    np.testing.assert_allclose(tfprune.strip(pruned).predict(x, verbose=0), pruned.predict(x, verbose=0), atol=1e-6)


def test_weights_of_one_layer_get_different_sparsities(tmp_path):
    model = lstm_model()
    kernel = model.get_layer("lstm").cell.kernel
    kernel.assign(10.0 + np.abs(kernel.numpy()))  # larger than every other weight
    pruned = tfprune.prune(model, 0.5, allocation="global")
    rows = {r["key"]: r for r in tfprune.sparsity_summary(pruned)["layers"]}
    assert rows["lstm/kernel"]["nonzeros"] == 160  # the large kernel keeps everything
    assert rows["lstm/recurrent_kernel"]["nonzeros"] < 256
    path = str(tmp_path / "lstm.keras")
    pruned.save(path)
    loaded = keras.models.load_model(path)  # no custom objects
    for key, weight in prunable(loaded).items():
        np.testing.assert_array_equal(weight.mask.numpy(), prunable(pruned)[key].mask.numpy())
    np.testing.assert_allclose(loaded.get_layer("prune_low_magnitude_lstm").pruning_schedule.target.numpy(),
                               pruned.get_layer("prune_low_magnitude_lstm").pruning_schedule.target.numpy())


def block(name):
    """Two sub-models built by one factory: their layers have the same names."""
    return keras.Sequential([keras.layers.Dense(6, activation="relu", name="dense")], name=name)


def test_duplicate_names_in_nested_models_get_unique_keys_and_are_all_pruned():
    i = keras.Input((5,))
    model = keras.Model(i, keras.layers.Dense(2, name="out")(block("b2")(block("b1")(i))))
    assert list(prunable(model)) == ["b1/dense/kernel", "b2/dense/kernel", "out/kernel"]
    pruned = tfprune.prune(model, 0.9, allocation="lamp")
    summary = tfprune.sparsity_summary(pruned)
    assert summary["total"]["nonzeros"] == budget.survivors(summary["total"]["params"], 0.9)
    stripped = tfprune.strip(pruned)
    kernels = [stripped.get_layer("b1").get_layer("dense").kernel, stripped.get_layer("b2").get_layer("dense").kernel]
    counted = sum(int(np.count_nonzero(k.numpy())) for k in kernels) + int(np.count_nonzero(
        stripped.get_layer("out").kernel.numpy()))
    assert counted == summary["total"]["nonzeros"]  # the real weights, not only the report


def test_layer_names_with_a_slash():
    i = keras.Input((4,))
    x = keras.layers.Dense(6, name="expanded_conv/expand")(i)
    model = keras.Model(i, keras.layers.Dense(2, name="head/logits")(x))
    assert list(prunable(model)) == ["expanded_conv/expand/kernel", "head/logits/kernel"]
    pruned = tfprune.prune(model, 0.5, allocation="uniform", overrides={"expanded_conv/expand": 0.75})
    rows = {r["name"]: r for r in tfprune.sparsity_summary(pruned)["layers"]}
    assert rows["expanded_conv/expand"]["nonzeros"] == 6 and rows["expanded_conv/expand"]["weight"] == "kernel"
    assert "expanded_conv/expand/kernel" in tfprune.format_summary(tfprune.sparsity_summary(pruned))


def test_shared_layer_is_one_weight():
    shared = keras.layers.Dense(4, name="shared")
    i = keras.Input((4,))
    model = keras.Model(i, keras.layers.Dense(2, name="out")(shared(shared(i))))
    assert list(prunable(model)) == ["shared/kernel", "out/kernel"]
    pruned = tfprune.prune(model, 0.5, allocation="uniform")
    assert tfprune.sparsity_summary(pruned)["total"]["nonzeros"] == 12


class SubclassedDense(keras.layers.Dense):
    pass


def test_layers_left_dense_are_listed_with_the_reason():
    i = keras.Input((8, 8, 3))
    x = keras.layers.DepthwiseConv2D(3, name="dw")(i)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten()(x)
    x = SubclassedDense(4, name="mine")(x)
    model = keras.Model(i, keras.layers.Dense(2, name="out")(x))
    dense = {d["path"]: d for d in dense_layers(model)}
    assert set(dense) == {"dw", "bn", "mine"}
    assert "prunes no weight of this layer type" in dense["dw"]["reason"]
    assert "not in its PruneRegistry" in dense["mine"]["reason"] and dense["mine"]["params"] == 108 * 4 + 4
    pruned = tfprune.prune(model, 0.5)
    summary = tfprune.sparsity_summary(pruned)
    assert [r["key"] for r in summary["layers"]] == ["out/kernel"]
    assert {d["path"] for d in summary["dense"]} == {"dw", "bn", "mine"}
    assert "left dense:" in tfprune.format_summary(summary) and "mine (SubclassedDense" in tfprune.format_summary(summary)
    assert {d["path"]: d["reason"] for d in dense_layers(model, exclude=["out"])}["out"] == "excluded"


def test_set_masks_by_hand():
    model = custom_model()
    pruned = tfprune.prune(model, 0.0, allocation="uniform")
    mask = np.zeros((7, 5), "float32")
    mask[0] = 1
    tfprune.set_masks(pruned, {"scaled/w": mask})
    np.testing.assert_array_equal(prunable_weights(pruned)["scaled/w"] != 0, mask.astype(bool))
    with pytest.raises(ValueError, match=r"masks\['scaled/w'\]: shape \(2, 2\) does not match"):
        tfprune.set_masks(pruned, {"scaled/w": np.ones((2, 2))})
    with pytest.raises(ValueError, match="must hold only 0 and 1"):
        tfprune.set_masks(pruned, {"scaled/w": mask * 0.5})
    with pytest.raises(ValueError, match=r"no prunable weight named \['nope'\]"):
        tfprune.set_masks(pruned, {"nope": mask})


def prunable_layer_paths(model):
    return {w.path for w in prunable(model).values()}


def shared_and_reused_block():
    """A layer used twice and a sub-model called twice: both run twice per training step."""
    keras.utils.set_random_seed(0)
    shared = keras.layers.Dense(16, activation="relu", name="shared")
    block = keras.Sequential([keras.Input((16,)), keras.layers.Dense(16, activation="relu", name="inner")], name="blk")
    i = keras.Input((16,))
    h = keras.layers.Dense(16, name="first")(i)
    return keras.Model(i, keras.layers.Dense(4, name="out")(block(block(shared(shared(h))))))


@pytest.mark.parametrize("method", ["lamp", "global", "erk"])
@pytest.mark.parametrize("schedule", [Gradual(0.9, end_step=20, frequency=5), Iterative(0.9, steps_per_round=2)],
                         ids=["gradual", "iterative"])
def test_layers_running_twice_per_step_follow_the_same_schedule(method, schedule):
    model = shared_and_reused_block()
    counts = calls_per_step(model)
    by_path = {path: counts[id(layer)] for path, layer in iter_layers(model) if path in prunable_layer_paths(model)}
    assert by_path == {"first": 1, "shared": 2, "blk/inner": 2, "out": 1}
    pruned = tfprune.prune(model, allocation=method, schedule=schedule)
    pruned.compile("adam", LOSS)
    x, y = np.random.default_rng(0).random((64, 16)).astype("float32"), np.arange(64) % 4
    steps = max(schedule.last_step, 20)
    pruned.fit(x[: 2 * steps], y[: 2 * steps], batch_size=2, epochs=1, verbose=0, callbacks=tfprune.callbacks(pruned))
    total = tfprune.sparsity_summary(pruned)["total"]
    assert total["nonzeros"] == budget.survivors(total["params"], 0.9)


def test_snip_and_grasp_score_an_embedding():
    keras.utils.set_random_seed(0)
    i = keras.Input((5,), dtype="int32")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(20, 4, name="emb")(i))
    model = keras.Model(i, keras.layers.Dense(3, name="out")(x))
    ids, labels = np.arange(30).reshape(6, 5) % 20, np.arange(6) % 3
    scores = tfprune.scoring.snip_scores(model, (ids, labels))
    table = model.get_layer("emb").embeddings
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, model(ids), from_logits=True))
    grad = tf.convert_to_tensor(tape.gradient(loss, table)).numpy()
    np.testing.assert_allclose(scores["emb/embeddings"], np.abs(grad * table.numpy()), rtol=1e-5, atol=1e-12)
    assert np.count_nonzero(scores["emb/embeddings"][np.unique(ids)]) > 0
    grasp = tfprune.scoring.grasp_scores(model, (ids, labels))
    assert grasp["emb/embeddings"].shape == (20, 4) and np.all(np.isfinite(grasp["emb/embeddings"]))
    pruned, _ = tfprune.prune_at_init(model, 0.5, score="snip", data=(ids, labels), warn=False)
    total = tfprune.sparsity_summary(pruned)["total"]
    assert total["nonzeros"] == budget.survivors(total["params"], 0.5)
