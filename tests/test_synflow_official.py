"""SynFlow's iterative masks equal the official procedure (Tanaka et al., ganguli-lab/Synaptic-Flow).

The reference below is written from the paper's algorithm and the official loop's counting, in
NumPy: the |w| network on an all-ones input, scores |w * dR/dw|, and at iteration k (of n)
``k_prune = int((1 - rho**((k+1)/n)) * N)`` over all N prunable weights together, every weight
whose score is <= the k_prune-th smallest score zeroed (ties together), no change when k_prune < 1.
The MLP's gradient is computed in NumPy; the CNN's with tf.GradientTape on a float64 model built
here (only the gradient: the selection loop is NumPy).
"""

import numpy as np
import pytest

from tfprune.backend import keras, tf
from tfprune.scoring import synflow as synflow_mod

ITERATIONS = 100
SPARSITIES = (0.9, 0.99, 0.999)


def official_loop(weights, gradient, sparsity, iterations=ITERATIONS):
    """Masks of the official loop and the last iteration's scores. ``gradient(effective) -> [dR/dW]`` for the masked |w| kernels."""
    weights = [np.abs(w.astype(np.float64)) for w in weights]
    masks = [np.ones_like(w) for w in weights]
    total = sum(w.size for w in weights)
    density = 1.0 - sparsity
    for k in range(iterations):
        grads = gradient([w * m for w, m in zip(weights, masks)])
        last = [np.abs(g * m * w) for g, m, w in zip(grads, masks, weights)]
        scores = np.concatenate([s.ravel() for s in last])
        k_prune = int((1.0 - density ** ((k + 1) / iterations)) * total)
        if k_prune < 1:
            continue
        threshold = np.partition(scores, k_prune - 1)[k_prune - 1]  # torch.kthvalue(scores, k_prune)
        flat = np.where(scores <= threshold, 0.0, 1.0)
        masks = np.split(flat, np.cumsum([w.size for w in weights])[:-1])
        masks = [m.reshape(w.shape) for m, w in zip(masks, weights)]
    return masks, last


def mlp_gradient(effective):
    """dR/dW of a bias-free ReLU MLP (last layer linear) on one all-ones input, in NumPy."""
    activations, pre = [np.ones(effective[0].shape[0])], []
    for i, w in enumerate(effective):
        z = activations[-1] @ w
        pre.append(z)
        activations.append(z if i == len(effective) - 1 else np.maximum(z, 0.0))
    grads = [None] * len(effective)
    upstream = np.ones(effective[-1].shape[1])
    for i in reversed(range(len(effective))):
        delta = upstream if i == len(effective) - 1 else upstream * (pre[i] > 0)
        grads[i] = np.outer(activations[i], delta)
        upstream = effective[i] @ delta
    return grads


def mlp(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((40,))]
        + [keras.layers.Dense(w, activation="relu", use_bias=False, name=f"d{i}") for i, w in enumerate((100, 100))]
        + [keras.layers.Dense(10, use_bias=False, name="out")]
    )


def cnn(seed=0, dtype="float32"):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="c1", dtype=dtype),
            keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="c2", dtype=dtype),
            keras.layers.Flatten(dtype=dtype),
            keras.layers.Dense(10, name="out", dtype=dtype),
        ]
    )


def tape_gradient(model):
    """dR/dW of a float64 copy of ``model`` on one all-ones input (biases |b|; Keras's are 0)."""
    twin = cnn(dtype="float64")
    kernels = [layer.kernel for layer in twin.layers if hasattr(layer, "kernel")]
    twin.set_weights([np.abs(w.astype(np.float64)) for w in model.get_weights()])
    ones = tf.ones((1,) + tuple(model.input_shape[1:]), tf.float64)

    def gradient(effective):
        for kernel, value in zip(kernels, effective):
            kernel.assign(value)
        with tf.GradientTape() as tape:
            r = tf.reduce_sum(twin(ones, training=False))
        return [g.numpy() for g in tape.gradient(r, kernels)]

    return gradient


def kernels(model):
    return [layer.kernel.numpy() for layer in model.layers if hasattr(layer, "kernel")]


@pytest.mark.parametrize("dtype", ["auto", "float64"])
@pytest.mark.parametrize("build", [mlp, cnn], ids=["mlp-40-100-100-10", "cnn"])
def test_masks_equal_the_official_loop(build, dtype):
    """Both precisions: "auto" computes these in float32 (the official code's precision)."""
    model = build()
    gradient = mlp_gradient if build is mlp else tape_gradient(model)
    scorer = synflow_mod.SynFlowScorer(model, jit_compile=False, dtype=dtype)
    total = sum(scorer.sizes)
    precision = "float32" if dtype == "auto" else dtype
    rtol = {"float32": 1e-5, "float64": 1e-9}[precision]  # ~100 terms per gradient entry
    try:
        for sparsity in SPARSITIES:
            expected, expected_scores = official_loop(kernels(model), gradient, sparsity)
            result = scorer(sparsity, ITERATIONS)
            assert result.dtype == precision
            got = result.masks
            for key, mask, score in zip(got, expected, expected_scores):
                np.testing.assert_array_equal(got[key], mask, err_msg=f"{key} at {sparsity}")
                np.testing.assert_allclose(result.scores[key], score, rtol=rtol, atol=1e-300)
            # no ties at these thresholds: the official count N - int(sparsity * N) (MLP: 1500, 150, 15)
            assert sum(int(m.sum()) for m in got.values()) == total - int(sparsity * total)
    finally:
        scorer.close()


def test_official_count_relates_to_survivors():
    """The official rule keeps N - int(S N): survivors(N, S) = floor(N (1 - S) + 1/2) or one more."""
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(3, use_bias=False, name="d")])
    scorer = synflow_mod.SynFlowScorer(model, jit_compile=False)
    try:
        # N = 21: at 0.5, N (1 - S) = 10.5 -> 11 both ways; at 0.6 it is 8.4: survivors 8, official 9
        assert scorer.prune_counts(0.5, 4).tolist() == [3, 6, 8, 10]
        assert scorer.prune_counts(0.6, 4).tolist() == [4, 7, 10, 12]
        assert sum(int(m.sum()) for m in scorer(0.6, 4).masks.values()) == 9
    finally:
        scorer.close()


def test_ties_at_the_threshold_are_pruned_together():
    """All-equal scores: the official rule zeroes every weight tied at the k-th smallest score."""
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(4, use_bias=False, kernel_initializer="ones", name="d")]
    )
    for iterations in (1, 2):  # k_prune = 8, then 4 at the first of two iterations: all 16 tie
        result = synflow_mod.run(model, 0.5, iterations=iterations, jit_compile=False)
        assert sum(int(m.sum()) for m in result.masks.values()) == 0


def test_fast_selection_keeps_the_official_final_count():
    model = mlp()
    official = synflow_mod.run(model, 0.99, iterations=20, jit_compile=False)
    fast = synflow_mod.run(model, 0.99, iterations=20, jit_compile=False, selection="fast")
    count = lambda masks: sum(int(m.sum()) for m in masks.values())
    assert count(fast.masks) == count(official.masks) == 150
    with pytest.raises(ValueError, match=r"selection='approx': must be one of \['official', 'fast'\]"):
        synflow_mod.run(model, 0.99, selection="approx")


# --------------------------------------------------------------------------- saturating activations


def inverted_residual(relu=lambda: keras.layers.ReLU(6.0)):
    """A MobileNetV2-style block (ReLU6 by default); 32 input channels saturate ReLU6 at |w|."""
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((6, 6, 32))
    x = relu()(keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(x)))
    y = relu()(keras.layers.BatchNormalization()(keras.layers.Conv2D(24, 1, use_bias=False, name="expand")(x)))
    y = relu()(keras.layers.BatchNormalization()(keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(y)))
    y = keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 1, use_bias=False, name="project")(y))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Add()([x, y]))
    return keras.Model(inputs, keras.layers.Dense(10, name="out")(x))


def test_relu6_is_scored_as_relu_and_saturation_is_reported_without_it():
    model = inverted_residual()
    zero = r"every score of \['stem/kernel', 'expand/kernel'\] is 0 in the dense \|w\| network.*unclip=True turns ReLU6"
    with pytest.warns(UserWarning, match=zero + r".*the official rule prunes them first"):
        masks = synflow_mod.run(model, 0.9, iterations=3, jit_compile=False, unclip=False).masks
    assert masks["stem/kernel"].sum() == masks["expand/kernel"].sum() == 0
    keep = {"stem/kernel": 100, "expand/kernel": 20, "project/kernel": 20, "out/kernel": 8}
    with pytest.raises(ValueError, match=zero + r".*would choose their survivors by position"):
        synflow_mod.run(model, 0.9, iterations=3, jit_compile=False, unclip=False, keep=keep)
    relu = inverted_residual(relu=keras.layers.ReLU)
    relu.set_weights(model.get_weights())
    expected = synflow_mod.run(relu, 0.9, iterations=10, jit_compile=False)
    got = synflow_mod.run(model, 0.9, iterations=10, jit_compile=False)
    for key in expected.masks:
        np.testing.assert_array_equal(got.masks[key], expected.masks[key])
        np.testing.assert_allclose(got.scores[key], expected.scores[key], rtol=1e-12)
    assert all(got.masks[key].sum() > 0 for key in got.masks)
    assert [layer.max_value for layer in model.layers if isinstance(layer, keras.layers.ReLU)] == [6.0] * 3


def test_the_relu6_of_hard_sigmoid_stays_clipped():
    """tf_keras's MobileNetV3 builds hard-swish as x * ReLU6(x + 3) / 6: unclipped it would square
    magnitudes at every block; saturated, it passes x (its form for x >= 3). A ReLU6 after the sum of
    two tensors is an activation like any other."""
    x = inputs = keras.Input((4, 4, 8))
    x = keras.layers.Conv2D(8, 1, name="c1")(x) + keras.layers.Conv2D(8, 1, name="c0")(x)
    x = keras.layers.ReLU(6.0, name="relu6")(x)  # after a sum of two tensors: unclipped
    x = keras.layers.Conv2D(8, 1, name="c2")(x)
    x = keras.layers.Multiply()([x, keras.layers.ReLU(6.0, name="gate")(x + 3.0) * (1.0 / 6.0)])
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(keras.layers.GlobalAveragePooling2D()(x)))
    scorer = synflow_mod.SynFlowScorer(model, jit_compile=False)
    try:
        assert scorer.unclipped == ["relu6"]
        assert all(s.sum() > 0 for s in scorer().scores.values())
    finally:
        scorer.close()


def test_all_zero_scores_are_refused():
    """Every prunable weight before a saturated ReLU6 (as tf.nn.relu6): R = 24 but every score is 0."""
    inputs = keras.Input((8,))
    outputs = tf.nn.relu6(keras.layers.Dense(4, use_bias=False, kernel_initializer="ones", name="d")(inputs))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match=r"SynFlow: every score is 0 \(R = 24\.0 on the all-ones input\)"):
        synflow_mod.run(model, None, jit_compile=False, unclip=False)
    np.testing.assert_array_equal(synflow_mod.run(model, None, jit_compile=False).scores["d/kernel"], np.ones((8, 4)))
