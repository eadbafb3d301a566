"""Scorers: conformance (keys, purity, determinism), hand-computed SNIP/GraSP/SynFlow, bad input."""

import numpy as np
import pytest

import tfprune
from tfprune import data, scoring
from tfprune.layers import prunable, prunable_weights
from tfprune.backend import keras, tf
from tfprune.scoring import _common
from tfprune.scoring import synflow as synflow_mod

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 8, 8, 1)).astype("float32")
Y = np.repeat(np.arange(10), 4)
FAST = {"synflow": {"sparsity": 0.5, "iterations": 4, "jit_compile": False}}


def cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )


def tiny(activation="softmax"):
    """4 -> 3 (relu) -> 3 classes, with non-zero biases."""
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="relu", name="h"),
            keras.layers.Dense(3, activation=activation, name="out"),
        ]
    )
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


TX = np.random.default_rng(2).normal(size=(6, 4)).astype("float32")
TY = np.array([0, 1, 2, 0, 1, 2])


def reference_gradients(model, temperature=1.0, second_order=False):
    """dL/dW (and H g) for the tiny model, from its weights alone (independent of tfprune)."""
    w1, b1, w2, b2 = (tf.Variable(w) for w in model.get_weights())
    kernels = [w1, w2]

    def loss():
        logits = (tf.nn.relu(TX @ w1 + b1) @ w2 + b2) / temperature
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=TY, logits=logits))

    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            value = loss()
        g = inner.gradient(value, kernels)
        z = tf.reduce_sum(tf.stop_gradient(g[0]) * g[0]) + tf.reduce_sum(tf.stop_gradient(g[1]) * g[1])
    hg = outer.gradient(z, kernels) if second_order else None
    return [k.numpy() for k in kernels], [x.numpy() for x in g], None if hg is None else [x.numpy() for x in hg]


# --------------------------------------------------------------------------- conformance


@pytest.mark.parametrize("name", sorted(scoring.SCORERS))
def test_every_scorer_keys_shapes_purity_determinism(name):
    model = cnn()
    model(X[:2], training=True)  # non-trivial BatchNorm statistics are not needed; just build
    before = [w.copy() for w in model.get_weights()]
    trainable = [v.trainable for v in model.variables]
    scorer = scoring.get(name)
    scores = scorer(model, (X, Y), **FAST.get(name, {}))
    expected = prunable_weights(model)
    assert list(scores) == list(expected) == ["conv/kernel", "out/kernel"]
    for key in expected:
        assert scores[key].shape == expected[key].shape
        assert np.all(np.isfinite(scores[key]))
    for old, new in zip(before, model.get_weights()):  # kernels, biases, BN gamma/beta/moving stats
        np.testing.assert_array_equal(old, new)
    assert [v.trainable for v in model.variables] == trainable
    again = scorer(model, (X, Y), **FAST.get(name, {}))
    for key in scores:
        np.testing.assert_array_equal(scores[key], again[key])


def test_exclude_drops_keys():
    model = cnn()
    for name in ("magnitude", "random", "snip"):
        assert list(scoring.get(name)(model, (X, Y), exclude=["conv"])) == ["out/kernel"]


def test_magnitude_and_random():
    model = cnn()
    scores = scoring.magnitude_scores(model)
    np.testing.assert_array_equal(scores["out/kernel"], np.abs(model.get_layer("out").kernel.numpy()))
    a = scoring.random_scores(model, seed=3)
    b = scoring.random_scores(model, seed=3)
    c = scoring.random_scores(model, seed=4)
    np.testing.assert_array_equal(a["conv/kernel"], b["conv/kernel"])
    assert not np.array_equal(a["conv/kernel"], c["conv/kernel"])
    assert all(0 <= s.min() and s.max() < 1 for s in a.values())


# --------------------------------------------------------------------------- SNIP / GraSP


def test_snip_equals_hand_computed_value():
    model = tiny()
    kernels, grads, _ = reference_gradients(model)
    scores = scoring.snip_scores(model, (TX, TY))
    for key, w, g in zip(["h/kernel", "out/kernel"], kernels, grads):
        np.testing.assert_allclose(scores[key], np.abs(g * w), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("head", ["linear", "softmax", "layer"])
def test_snip_uses_logits_whatever_the_output_head(head):
    base = tiny("linear")
    if head == "layer":
        model = keras.Model(base.inputs, keras.layers.Activation("softmax")(base.outputs[0]))
    else:
        model = tiny(head)
        model.set_weights(base.get_weights())
    _, grads, _ = reference_gradients(base)
    scores = scoring.snip_scores(model, (TX, TY))
    np.testing.assert_allclose(scores["out/kernel"], np.abs(grads[1] * base.get_weights()[2]), rtol=1e-5, atol=1e-7)


def test_grasp_equals_hand_computed_value():
    model = tiny()
    kernels, _, hg = reference_gradients(model, temperature=200.0, second_order=True)
    scores = scoring.grasp_scores(model, (TX, TY))
    for key, w, h in zip(["h/kernel", "out/kernel"], kernels, hg):
        np.testing.assert_allclose(scores[key], -w * h, rtol=1e-4, atol=1e-12)


def test_grasp_hessian_vector_product_matches_finite_differences():
    """H g by central differences of the gradient along g, in float64 (no nested tape)."""
    model = tiny()
    temperature = 2.0
    kernels, grads, _ = reference_gradients(model, temperature=temperature)
    w1, b1, w2, b2 = (w.astype(np.float64) for w in model.get_weights())

    def gradient(k1, k2):
        v1, v2 = tf.Variable(k1), tf.Variable(k2)
        with tf.GradientTape() as tape:
            logits = (tf.nn.relu(TX.astype(np.float64) @ v1 + b1) @ v2 + b2) / temperature
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=TY, logits=logits))
        return [g.numpy() for g in tape.gradient(loss, [v1, v2])]

    eps = 1e-4
    g1, g2 = (g.astype(np.float64) for g in grads)
    plus = gradient(w1 + eps * g1, w2 + eps * g2)
    minus = gradient(w1 - eps * g1, w2 - eps * g2)
    hg = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
    scores = scoring.grasp_scores(model, (TX, TY), temperature=temperature)
    np.testing.assert_allclose(scores["h/kernel"], -w1 * hg[0], rtol=2e-3, atol=1e-7)
    np.testing.assert_allclose(scores["out/kernel"], -w2 * hg[1], rtol=2e-3, atol=1e-7)


def test_data_forms_give_class_balanced_batches():
    model = cnn()
    x = np.concatenate([X, X]).astype("float32")
    y = np.concatenate([Y, Y])
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(7)
    bx, by = _common.scoring_batch(model, dataset, "snip", samples_per_class=3)
    assert bx.shape == (30, 8, 8, 1) and np.bincount(by, minlength=10).tolist() == [3] * 10
    splits = data.load("digits")
    bx, by = _common.scoring_batch(model, splits, "snip", samples_per_class=2, seed=5)
    assert np.bincount(by, minlength=10).tolist() == [2] * 10
    one_hot = np.eye(10, dtype="float32")[Y]
    np.testing.assert_allclose(
        scoring.snip_scores(model, (X, one_hot))["out/kernel"], scoring.snip_scores(model, (X, Y))["out/kernel"],
        rtol=1e-6,
    )


# --------------------------------------------------------------------------- SynFlow


def chain(widths=(5, 4, 3, 2), activation="relu", seed=0, initializer=None):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((widths[0],))]
    for i, width in enumerate(widths[1:]):
        layers.append(
            keras.layers.Dense(width, activation=activation, use_bias=False, name=f"d{i}",
                               kernel_initializer=initializer or "glorot_uniform")
        )
    return keras.Sequential(layers)


#: relative tolerance of SynFlow's float64 arithmetic, and of the default's float32 on these small nets
SYNFLOW_RTOL = {"auto": 2e-6, "float64": 1e-12}


@pytest.mark.parametrize("dtype", sorted(SYNFLOW_RTOL))
def test_synflow_single_pass_equals_hand_computed_path_counts(dtype):
    model = chain((5, 4, 3))
    a, b = (np.abs(w.astype(np.float64)) for w in model.get_weights())
    expected_a = a * (b @ np.ones(3))[None, :]  # |a_ij| * (paths from unit j to the output)
    expected_b = (np.ones(5) @ a)[:, None] * b  # (paths from the input to unit j) * |b_jk|
    scores = scoring.synflow_scores(model, jit_compile=False, dtype=dtype)
    np.testing.assert_allclose(scores["d0/kernel"], expected_a, rtol=SYNFLOW_RTOL[dtype])
    np.testing.assert_allclose(scores["d1/kernel"], expected_b, rtol=SYNFLOW_RTOL[dtype])


@pytest.mark.parametrize("dtype", sorted(SYNFLOW_RTOL))
def test_synflow_conserves_total_score_per_layer(dtype):
    model = chain((12, 10, 8, 6, 4))
    result = synflow_mod.run(model, None, jit_compile=False, dtype=dtype)
    totals = [s.sum() for s in result.scores.values()]
    np.testing.assert_allclose(totals, result.path_mass[0], rtol=SYNFLOW_RTOL[dtype])
    # still conserved on the pruned network the last iteration scores
    result = synflow_mod.run(model, 0.8, iterations=5, jit_compile=False, dtype=dtype)
    totals = [s.sum() for s in result.scores.values()]
    np.testing.assert_allclose(totals, totals[0], rtol=SYNFLOW_RTOL[dtype])


def test_synflow_xla_and_graph_agree():
    model = chain((16, 12, 8, 4))
    xla = synflow_mod.run(model, 0.95, iterations=8, jit_compile=True)
    graph = synflow_mod.run(model, 0.95, iterations=8, jit_compile=False)
    for key in xla.masks:
        np.testing.assert_array_equal(xla.masks[key], graph.masks[key])
        np.testing.assert_allclose(xla.scores[key], graph.scores[key], rtol=1e-9)


def test_synflow_uses_xla_by_default_only_where_a_gpu_or_tpu_is_visible(monkeypatch):
    model = chain()
    devices = {"GPU": [], "TPU": []}
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: devices.get(kind, []))
    chosen = {}
    for visible in ([], ["/device:GPU:0"]):
        devices["GPU"] = visible
        for option in (None, True, False):
            scorer = synflow_mod.SynFlowScorer(model, jit_compile=option)
            chosen[(bool(visible), option)] = scorer.jit_compile
            scorer.close()
    assert chosen == {(False, None): False, (False, True): True, (False, False): False,
                      (True, None): True, (True, True): True, (True, False): False}
    with pytest.raises(ValueError, match=r"jit_compile='yes': must be one of \[None, True, False\]"):
        synflow_mod.SynFlowScorer(model, jit_compile="yes")


def test_synflow_range_check_reads_float32_bits_exactly():
    """``dtype="auto"``'s float32 range rule at its edges: non-zero scores finite and >= the floor,
    R finite with |R| >= the floor; zeros allowed (pruned weights), subnormals, infinities and NaN not."""
    scorer = synflow_mod.SynFlowScorer(chain(), jit_compile=False)
    floor = np.float32(synflow_mod.FLOAT32_FLOOR)
    below = np.nextafter(floor, np.float32(0))
    big = np.finfo(np.float32).max

    def in_range(r, scores):
        return bool(scorer._in_range(tf.constant(r, tf.float32), tf.constant(scores, tf.float32)).numpy())

    assert in_range(1.0, [0.0, floor, 1.0, big])
    assert in_range(-floor, [0.0, 0.0])  # R may be negative
    for bad in (below, 1e-45, np.inf, np.nan):
        assert not in_range(1.0, [0.0, 1.0, bad]), bad
        assert not in_range(bad, [1.0]), bad
    assert not in_range(0.0, [1.0]) and not in_range(-below, [1.0])
    forced = synflow_mod.SynFlowScorer(chain(), dtype="float32", jit_compile=False)
    assert bool(forced._in_range(tf.constant(np.inf, tf.float32), tf.constant([np.nan], tf.float32)).numpy())  # unwatched


def test_synflow_scores_an_embedding_through_its_sparse_gradient():
    """The all-ones input reads row 1 of the embedding only (its gradient is an ``IndexedSlices``):
    the other rows score 0 on non-zero weights, so ``auto`` reruns in float64; hand-computed scores."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(20, 4, name="emb"),
                              keras.layers.Flatten(), keras.layers.Dense(3, name="fc")])
    table, kernel, bias = (np.abs(w.astype(np.float64)) for w in model.get_weights())
    x = np.tile(table[1], 5)  # the flattened embedding of five tokens 1
    expected_kernel = kernel * x[:, None]  # dR/dW_ij = x_i
    expected_table = np.zeros_like(table)
    expected_table[1] = table[1] * kernel.sum(axis=1).reshape(5, 4).sum(axis=0)
    result = synflow_mod.run(model, None, jit_compile=False)
    assert result.dtype == "float64"
    np.testing.assert_allclose(result.scores["fc/kernel"], expected_kernel, rtol=1e-12)
    np.testing.assert_allclose(result.scores["emb/embeddings"], expected_table, rtol=1e-12)
    assert result.path_mass[0] == pytest.approx(x @ kernel.sum(axis=1) + bias.sum(), rel=1e-12)


def test_synflow_per_layer_counts_are_exact():
    model = chain((10, 8, 6, 4))
    keep = {"d0/kernel": 7, "d1/kernel": 5, "d2/kernel": 3}
    result = synflow_mod.run(model, 0.8, iterations=5, keep=keep, jit_compile=False)
    assert {k: int(m.sum()) for k, m in result.masks.items()} == keep


def test_synflow_is_robust_to_float32_overflow():
    """30 layers of width 32, weights in [0.5, 1.5): R ~ 32**31 ~ 1e46 > float32 max.

    (Not all-equal weights: the official rule prunes tied scores together, which would empty it.)
    The default ("auto") runs float32, sees the overflow and reruns in float64.
    """
    model = chain((32,) * 31, activation=None, initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=0))
    with pytest.raises(FloatingPointError, match="overflowed in float32"):
        synflow_mod.run(model, None, dtype="float32", jit_compile=False)
    result = synflow_mod.run(model, 0.5, iterations=3, jit_compile=False)
    assert result.dtype == "float64"
    expected = np.ones(32)
    for w in model.get_weights():
        expected = expected @ w.astype(np.float64)
    assert expected.sum() > 1e40 and result.path_mass[0] == pytest.approx(expected.sum(), rel=1e-12)
    totals = [s.sum() for s in result.scores.values()]
    np.testing.assert_allclose(totals, totals[0], rtol=1e-9)
    total = sum(m.size for m in result.masks.values())
    assert sum(int(m.sum()) for m in result.masks.values()) == total - int(0.5 * total) == 15360
    explicit = synflow_mod.run(model, 0.5, iterations=3, jit_compile=False, dtype="float64")
    for key, mask in explicit.masks.items():
        np.testing.assert_array_equal(result.masks[key], mask)


@pytest.mark.parametrize("low", [5e-4, 1.2e-3])
def test_synflow_is_robust_to_float32_underflow(low):
    """30 layers of width 32, weights in [low, 2 low): R ~ 1e-43 (below float32's normal range) and
    ~ 2e-36 (in it, but the products summed in the last layers are not, and TensorFlow flushes
    them to 0: float32 gets R = 0 both times). "auto" sees it and reruns in float64."""
    model = chain((32,) * 31, activation=None, initializer=keras.initializers.RandomUniform(low, 2 * low, seed=0))
    expected = np.ones(32)
    for w in model.get_weights():
        expected = expected @ w.astype(np.float64)
    assert 0 < expected.sum() < 1e-35
    with pytest.raises(ValueError, match="every score is 0 .*in float32 it may also be underflow"):
        synflow_mod.run(model, None, jit_compile=False, dtype="float32")
    scorer = synflow_mod.SynFlowScorer(model, jit_compile=False)
    try:
        result = scorer(0.9, iterations=4)
        assert result.dtype == "float64" and scorer.dtype == tf.float64  # later calls stay in float64
        assert result.path_mass[0] == pytest.approx(expected.sum(), rel=1e-12)
        totals = [s.sum() for s in result.scores.values()]
        np.testing.assert_allclose(totals, totals[0], rtol=1e-9)
        assert scorer(None).dtype == "float64"
    finally:
        scorer.close()


def test_synflow_reruns_in_float64_when_float32_underflows_inside_the_loop():
    """16 layers of width 16, weights in [1e-3, 2e-3): the dense R ~ 2e-25 is in float32's range,
    but after the first pruning R is ~2e-42 and float32 flushes it, and every score, to 0 (its loop
    then prunes everything). "auto" stops there and reruns in float64, also with per-layer counts."""
    model = chain((16,) * 17, activation=None, initializer=keras.initializers.RandomUniform(1e-3, 2e-3, seed=0))
    forced = synflow_mod.run(model, 0.99, iterations=2, jit_compile=False, dtype="float32")
    assert forced.path_mass[0] > 2.0 ** -102 and forced.path_mass[1] == 0.0
    assert sum(int(m.sum()) for m in forced.masks.values()) == 0
    result = synflow_mod.run(model, 0.99, iterations=2, jit_compile=False)
    explicit = synflow_mod.run(model, 0.99, iterations=2, jit_compile=False, dtype="float64")
    assert result.dtype == "float64" and result.path_mass == explicit.path_mass and explicit.path_mass[1] > 0
    for key, mask in explicit.masks.items():
        np.testing.assert_array_equal(result.masks[key], mask)
    assert 0 < sum(int(m.sum()) for m in result.masks.values()) <= 4096 - int(0.99 * 4096)
    keep = {key: 10 for key in result.masks}
    per_layer = synflow_mod.run(model, 0.99, iterations=2, jit_compile=False, keep=keep)
    assert per_layer.dtype == "float64" and {k: int(m.sum()) for k, m in per_layer.masks.items()} == keep


def test_synflow_float64_rerun_scores_the_weights_the_model_had_when_the_scorer_was_built():
    model = gate_model()
    scorer = synflow_mod.SynFlowScorer(model, jit_compile=False)
    try:
        model.get_layer("gate").kernel.assign(np.full((8, 4), 0.1, np.float32))  # changed after building
        result = scorer(None)
        assert result.dtype == "float64"
        np.testing.assert_allclose(result.scores["gate/kernel"], gate_scores(model), rtol=1e-9)
    finally:
        scorer.close()


def test_synflow_starts_in_float64_for_a_float64_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, use_bias=False, dtype="float64", name="d")])
    model.get_layer("d").kernel.assign(np.full((6, 4), 1e-20))
    scorer = synflow_mod.SynFlowScorer(model, jit_compile=False)
    try:
        assert scorer.dtype == tf.float64
        np.testing.assert_allclose(scorer(None).scores["d/kernel"], np.full((6, 4), 1e-20), rtol=1e-12)
    finally:
        scorer.close()


def gate_model():
    """A sigmoid whose |w| input is 24 (8 inputs x 3.0) before a linear layer."""
    return keras.Sequential([
        keras.Input((8,)),
        keras.layers.Dense(4, activation="sigmoid", use_bias=False, name="gate",
                           kernel_initializer=keras.initializers.Constant(3.0)),
        keras.layers.Dense(3, use_bias=False, name="out"),
    ])


def gate_scores(model, w=3.0):
    """The gate kernel's SynFlow scores in float64: w * sigmoid'(8 w) * sum_k |out_jk|."""
    s = 1 / (1 + np.exp(-8 * w))
    expected = w * s * (1 - s) * np.abs(model.get_layer("out").kernel.numpy().astype(np.float64)).sum(axis=1)
    return np.tile(expected, (8, 1))


def test_synflow_reruns_in_float64_where_float32_flushes_a_score_to_zero():
    """A sigmoid whose |w| input is 24 has derivative ~4e-11 in float64 and exactly 0 in float32
    (the sigmoid rounds to 1): the weights before it score 0 in float32 only. "auto" reruns them."""
    model = gate_model()
    with pytest.warns(UserWarning, match=r"every score of \['gate/kernel'\] is 0 in the dense"):
        forced = synflow_mod.run(model, None, jit_compile=False, dtype="float32")
    assert not np.any(forced.scores["gate/kernel"])
    result = synflow_mod.run(model, None, jit_compile=False)
    assert result.dtype == "float64"
    assert 0 < gate_scores(model).max() < 1e-9
    np.testing.assert_allclose(result.scores["gate/kernel"], gate_scores(model), rtol=1e-9)


@pytest.mark.parametrize("dtype", sorted(SYNFLOW_RTOL))
def test_synflow_bypasses_softmax_and_keeps_biases_as_abs(dtype):
    base = tiny("linear")
    soft = tiny("softmax")
    soft.set_weights(base.get_weights())
    a = scoring.synflow_scores(base, jit_compile=False, dtype=dtype)
    b = scoring.synflow_scores(soft, jit_compile=False, dtype=dtype)
    np.testing.assert_array_equal(a["out/kernel"], b["out/kernel"])
    w1, b1, w2, _ = (np.abs(w.astype(np.float64)) for w in base.get_weights())
    hidden = np.ones(4) @ w1 + b1  # |b| kept in the linearised network
    np.testing.assert_allclose(a["out/kernel"], hidden[:, None] * w2, rtol=SYNFLOW_RTOL[dtype])


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_clearly():
    model = cnn()
    with pytest.raises(ValueError, match=r"score='nope': unknown; choose one of \['grasp', 'magnitude'"):
        scoring.get("nope")
    for name in ("snip", "grasp"):
        with pytest.raises(ValueError, match=f"data=None: score='{name}' is data-driven"):
            scoring.get(name)(model)
    with pytest.raises(ValueError, match=r"data: x has shape \(40, 8, 8\) but the model expects"):
        scoring.snip_scores(model, (X[..., 0], Y))
    with pytest.raises(ValueError, match=r"labels range over \[0, 12\] but the model has 10 classes"):
        scoring.snip_scores(model, (X, np.where(Y == 9, 12, Y)))
    with pytest.raises(ValueError, match="x has 40 examples but y has 39"):
        scoring.snip_scores(model, (X, Y[:-1]))
    with pytest.raises(TypeError, match="expected \\(x, y\\) arrays, a tfprune.data.Splits"):
        scoring.snip_scores(model, X)
    with pytest.raises(ValueError, match="temperature=0: must be a positive number"):
        scoring.grasp_scores(model, (X, Y), temperature=0)
    with pytest.raises(ValueError, match="samples_per_class=0: must be an integer >= 1"):
        scoring.snip_scores(model, data.load("digits"), samples_per_class=0)
    with pytest.raises(ValueError, match="wrapped for pruning"):
        scoring.magnitude_scores(tfprune.prune(model, 0.5))
    with pytest.raises(ValueError, match="dtype='float16': must be one of"):
        scoring.synflow_scores(model, dtype="float16")
    with pytest.raises(ValueError, match=r"sparsity=1.0: must be in \[0, 1\)"):
        scoring.synflow_scores(model, sparsity=1.0, jit_compile=False)
    with pytest.raises(ValueError, match="iterations=0: must be an integer >= 1"):
        scoring.synflow_scores(model, sparsity=0.5, iterations=0, jit_compile=False)
    with pytest.raises(ValueError, match="seed='a': must be an int"):
        scoring.random_scores(model, seed="a")
    with pytest.raises(ValueError, match="no prunable layers .* left after exclude"):
        scoring.magnitude_scores(model, exclude=["conv", "out"])


def test_synflow_scores_a_model_that_adds_its_raw_input():
    def build(merge):
        keras.utils.set_random_seed(5)
        i = keras.Input((6, 6, 4))
        y = merge(keras.layers.Conv2D(4, 3, padding="same", name="c")(i), i)
        return keras.Model(i, keras.layers.Dense(2, name="d")(keras.layers.Flatten()(y)))

    with_op = synflow_mod.synflow_scores(build(lambda a, b: a + b), iterations=3, sparsity=0.5)
    with_layer = synflow_mod.synflow_scores(build(lambda a, b: keras.layers.Add()([a, b])), iterations=3, sparsity=0.5)
    for key in ("c/kernel", "d/kernel"):
        assert np.count_nonzero(with_op[key]) > 0
        np.testing.assert_allclose(with_op[key], with_layer[key], rtol=1e-12)
