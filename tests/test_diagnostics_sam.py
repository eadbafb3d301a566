"""SAM (Foret et al. 2021): the two-step rule, exactly; rho = 0 is the base optimizer; pruning masks."""

import numpy as np
import pytest

import tfprune
from tfprune.backend import keras, tf
from tfprune.diagnostics.sam import sam_perturbation, use_sam

# A quadratic L(w) = (x.w - y)^2 whose numbers are all dyadic (exact in float32): ||x|| = 1.
X = np.array([[0.5, -0.5, 0.5, 0.5]], np.float32)
Y = np.array([[1.25]], np.float32)
W0 = np.array([0.25, 0.5, -0.25, 1.0], np.float32)


def grad(w):
    return 2.0 * (X[0] @ w - Y[0, 0]) * X[0]


def two_step_rule(w, rho, lr, steps):
    for _ in range(steps):
        g = grad(w)
        e = rho * g / np.linalg.norm(g)
        w = w - lr * grad(w + e)
    return w


def linear_model(jit_compile=False, lr=0.25):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
    model.set_weights([W0.reshape(4, 1)])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse", jit_compile=jit_compile)
    return model


@pytest.mark.parametrize("jit_compile", [False, True])
def test_update_is_the_two_step_rule_exactly(jit_compile):
    expected = two_step_rule(W0.astype(np.float64), rho=0.5, lr=0.25, steps=2)
    # by hand: step 1: r = -1, g = -2x, e = -x/2, r(w + e) = -1.5, w1 = w0 + 0.75x = (0.625, 0.125, 0.125, 1.375);
    # step 2: r = -0.25, g = -x/2, e = -x/2, r(w1 + e) = -0.75, w2 = w1 + 0.375x
    np.testing.assert_array_equal(expected, [0.8125, -0.0625, 0.3125, 1.5625])
    model = use_sam(linear_model(jit_compile), rho=0.5)
    history = model.fit(X, Y, epochs=2, batch_size=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0][:, 0], expected)
    assert history.history["loss"] == [1.0, 0.0625]  # the loss at w, not at w + e


def test_rho_zero_equals_the_base_optimizer():
    def build():
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8), keras.layers.BatchNormalization(),
                                  keras.layers.Activation("relu"), keras.layers.Dense(3)])
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return model

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 5)).astype(np.float32), rng.integers(0, 3, 64)
    plain, sam = build(), use_sam(build(), rho=0.0)
    h_plain = plain.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    h_sam = sam.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    for a, b in zip(plain.get_weights(), sam.get_weights()):  # BatchNorm statistics included
        np.testing.assert_array_equal(a, b)
    assert h_plain == h_sam


def test_perturbation_respects_masks():
    g = [tf.constant([[3.0, 100.0], [4.0, -50.0]]), tf.constant([0.0, 12.0]), None]
    masks = [tf.constant([[1.0, 0.0], [1.0, 0.0]]), None, None]
    e = sam_perturbation(g, masks, rho=2.6)  # masked g: (3, 0, 4, 0), (0, 12): norm 13
    np.testing.assert_allclose(e[0].numpy(), [[0.6, 0.0], [0.8, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(e[1].numpy(), [0.0, 2.4], rtol=1e-6)
    assert e[2] is None
    zero = sam_perturbation([tf.zeros((2,))], [None], rho=1.0)
    np.testing.assert_array_equal(zero[0].numpy(), [0.0, 0.0])


def test_sam_trains_a_pruned_model_under_xla_with_the_pruning_callbacks():
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
    pruned = tfprune.prune(dense, 0.5, allocation="uniform")
    masks = {k: w.mask.numpy().copy() for k, w in tfprune.layers.prunable(pruned).items()}
    pruned.compile(optimizer=keras.optimizers.SGD(0.1),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    use_sam(pruned, rho=0.1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    with pytest.raises(tfprune.MissingPruningCallbacks):
        pruned.fit(x, y, epochs=1, verbose=0)
    before = [w.copy() for w in pruned.get_weights()]
    pruned.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=tfprune.callbacks(pruned))
    assert any(not np.array_equal(a, b) for a, b in zip(before, pruned.get_weights()))
    for key, weight in tfprune.layers.prunable(pruned).items():
        np.testing.assert_array_equal(weight.mask.numpy(), masks[key])
        assert np.all(weight.variable.numpy()[masks[key] == 0] == 0)


@pytest.mark.parametrize("rho, message", [(-0.1, "rho=-0.1"), (float("inf"), "rho=inf"), ("0.1", "rho='0.1'")])
def test_bad_rho_is_named(rho, message):
    with pytest.raises(ValueError, match=message):
        use_sam(linear_model(), rho)
    with pytest.raises(TypeError, match="model: expected a tf_keras Model"):
        use_sam("model", 0.1)
