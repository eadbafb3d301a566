"""Mode connectivity (Zhou et al. 2023): mc on hand-built paths, end points, BatchNorm recomputation."""

import numpy as np
import pytest

import tfprune
from tfprune.backend import keras
from tfprune.diagnostics.connectivity import connectivity, mode_connectivity, recompute_batchnorm


def test_mc_formula_on_given_errors():
    # mean of the ends 0.1; largest deviation at the barrier 0.4 -> mc = 0.1 - 0.4
    assert connectivity([0.1, 0.2, 0.4, 0.1]) == (pytest.approx(-0.3), 2)
    # a path better in the middle than at its ends: mc > 0
    assert connectivity([0.3, 0.1, 0.2]) == (pytest.approx(0.15), 1)
    assert connectivity([0.2, 0.2, 0.2]) == (0.0, 0)
    with pytest.raises(ValueError, match="at least 3"):
        connectivity([0.1, 0.2])


# A symmetric problem with two hand-built solutions: class 1 iff |x1 - x2| > 0.5. Hidden units
# h1 = relu(x1 - x2), h2 = relu(x2 - x1) give |x1 - x2| = h1 + h2; the second solution has the two
# hidden units swapped. At t on the line the first layer is (1 - 2t) W1, so an example with
# d = |x1 - x2| > 0.5 is misclassified exactly when |1 - 2t| d <= 0.5.
D = np.array([0.1, 0.3, 0.4, 0.6, 0.8, 1.2, 2.0, 3.0])
X = np.stack([D, np.zeros_like(D)], axis=1).astype(np.float32)
X = np.concatenate([X, X[:, ::-1]])  # both signs of x1 - x2
Y = (np.abs(X[:, 0] - X[:, 1]) > 0.5).astype(np.int64)


def solution(swap):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="relu"), keras.layers.Dense(2)])
    w1 = np.array([[1.0, -1.0], [-1.0, 1.0]], np.float32)
    w2 = np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)  # logit 0 = 0.5 (bias), logit 1 = h1 + h2
    order = [1, 0] if swap else [0, 1]
    model.set_weights([w1[:, order], np.zeros(2, np.float32), w2[order], np.array([0.5, 0.0], np.float32)])
    return model


def expected_error(t):
    d = np.abs(X[:, 0] - X[:, 1])
    return float(np.mean((Y == 1) & (abs(1 - 2 * t) * d <= 0.5)))


def test_planted_barrier_gives_the_hand_computed_path_and_negative_mc():
    result = mode_connectivity(solution(False), solution(True), (X, Y), points=11)
    assert result.errors == pytest.approx([expected_error(t) for t in np.linspace(0, 1, 11)], abs=1e-12)
    assert result.errors[0] == result.errors[-1] == 0.0
    assert result.errors[5] == np.mean(Y)  # the midpoint predicts class 0 everywhere
    assert result.mc == -np.mean(Y) and result.t_star == 0.5 and result.barrier
    assert not result.bn_recomputed


def test_identical_models_give_exactly_zero():
    model = solution(False)
    model.set_weights([w + 0.1 * np.random.default_rng(0).normal(size=w.shape).astype(np.float32)
                       for w in model.get_weights()])
    result = mode_connectivity(model, tfprune.pruning.copy_model(model), (X, Y), points=5)
    assert result.mc == 0.0 and len(set(result.errors)) == 1 and len(set(result.losses)) == 1


def _mlp(seed):
    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(6, activation="relu", kernel_initializer=init),
                             keras.layers.Dense(2, kernel_initializer=init)])


def _own(model, x, y):
    logits = model(x).numpy()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits).numpy()
    return float(np.mean(np.argmax(logits, 1) != y)), float(loss)


def test_end_points_are_the_models_own_errors_and_losses():
    a, b = _mlp(1), _mlp(2)
    result = mode_connectivity(a, b, [(X[:10], Y[:10]), (X[10:], Y[10:])], points=4)
    assert result.t == pytest.approx((0, 1 / 3, 2 / 3, 1))
    for index, model in ((0, a), (-1, b)):
        error, loss = _own(model, X, Y)
        assert result.errors[index] == error
        assert result.losses[index] == pytest.approx(loss, rel=1e-6)
    assert result.errors[0] != result.errors[-1] or result.losses[0] != result.losses[-1]


def _bn_model():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(2, name="proj")(inputs)
    normed = keras.layers.BatchNormalization(name="bn")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(normed))
    model.get_layer("proj").set_weights([np.array([[1.0, 0.0], [2.0, 1.0], [0.0, -1.0]], np.float32),
                                         np.array([0.5, -1.0], np.float32)])
    return model


def test_batchnorm_statistics_become_the_exact_mean_and_variance_of_the_inputs():
    x = np.arange(30, dtype=np.float32).reshape(10, 3) % 7
    data = [(x[:4], np.zeros(4)), (x[4:8], np.zeros(4)), (x[8:], np.zeros(2))]  # unequal batches
    model = _bn_model()
    bn = model.get_layer("bn")
    bn.moving_mean.assign([5.0, 5.0])
    inputs = x @ np.array([[1.0, 0.0], [2.0, 1.0], [0.0, -1.0]]) + np.array([0.5, -1.0])  # by hand
    assert recompute_batchnorm(model, data) == 1
    np.testing.assert_allclose(bn.moving_mean.numpy(), inputs.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), inputs.var(axis=0), rtol=1e-6)
    # a mean of per-batch variances would differ here (the batch means differ)
    within = np.mean([inputs[s].var(axis=0) for s in (slice(0, 4), slice(4, 8), slice(8, 10))], axis=0)
    assert np.all(np.abs(within - inputs.var(axis=0)) > 0.1)
    assert "call" not in vars(bn)  # the recording hook is removed


def test_path_recomputes_batchnorm_at_each_point():
    a, b = _bn_model(), _bn_model()
    b.get_layer("out").set_weights([w * 2 for w in b.get_layer("out").get_weights()])
    for model in (a, b):  # statistics far from the data's
        model.get_layer("bn").moving_mean.assign([100.0, -100.0])
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    result = mode_connectivity(a, b, (x, y), points=3)
    assert result.bn_recomputed
    fixed = tfprune.pruning.copy_model(a)
    recompute_batchnorm(fixed, (x, y))
    assert result.errors[0] == _own(fixed, x, y)[0]
    kept = mode_connectivity(a, b, (x, y), points=3, bn_data=None)
    assert not kept.bn_recomputed and kept.errors[0] == _own(a, x, y)[0]


def test_pruned_models_with_the_same_masks_are_stripped_and_different_masks_refused():
    a = tfprune.prune(_mlp(1), 0.5, allocation="uniform")
    b = tfprune.prune(_mlp(1), 0.5, allocation="uniform")
    assert mode_connectivity(a, b, (X, Y), points=3).mc == 0.0
    other = tfprune.prune(_mlp(2), 0.5, allocation="uniform")
    with pytest.raises(ValueError, match="masks differ"):
        mode_connectivity(a, other, (X, Y))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="points=2"):
        mode_connectivity(_mlp(1), _mlp(2), (X, Y), points=2)
    wide = keras.Sequential([keras.Input((2,)), keras.layers.Dense(7), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="different architectures"):
        mode_connectivity(_mlp(1), wide, (X, Y))
    with pytest.raises(TypeError, match="model_b"):
        mode_connectivity(_mlp(1), None, (X, Y))
    with pytest.raises(TypeError, match="loss=3"):
        mode_connectivity(_mlp(1), _mlp(2), (X, Y), loss=3)
    with pytest.raises(TypeError, match="data=dict"):
        mode_connectivity(_mlp(1), _mlp(2), {"x": X})


def test_connectivity_plot_is_a_png(tmp_path):
    from tfprune.diagnostics.plots import plot_connectivity

    result = mode_connectivity(solution(False), solution(True), (X, Y), points=5)
    path = plot_connectivity(result, str(tmp_path / "mc.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="path='mc.pdf'"):
        plot_connectivity(result, "mc.pdf")
    with pytest.raises(TypeError, match="result=dict"):
        plot_connectivity({}, str(tmp_path / "x.png"))
