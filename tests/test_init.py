"""Edge-of-Chaos initialisation, rescaling after pruning, stable-ResNet branch scaling."""

import math

import numpy as np
import pytest

import tfprune  # noqa: F401
from tfprune import init
from tfprune.layers import prunable, prunable_weights
from tfprune.at_init import prune_at_init
from tfprune.backend import keras


# --------------------------------------------------------------------------- edge of chaos


@pytest.mark.parametrize("activation", ["relu", "tanh", "elu"])
def test_eoc_variances_on_a_large_layer(activation):
    model = keras.Sequential(
        [keras.Input((1000,)), keras.layers.Dense(2000, name="big"), keras.layers.Dense(3, name="small")]
    )
    returned = init.edge_of_chaos(model, activation.upper(), seed=0)
    assert returned is model  # in place
    sigma_w, sigma_b = init.EOC[activation]
    kernel = model.get_layer("big").kernel.numpy().astype(np.float64)
    bias = model.get_layer("big").bias.numpy().astype(np.float64)
    # 2e6 draws: the sample variance is within 0.5% (5 standard errors: sqrt(2/n) = 0.1%)
    assert kernel.var() == pytest.approx(sigma_w ** 2 / 1000, rel=5e-3)
    assert abs(kernel.mean()) < 5 * sigma_w / math.sqrt(1000) / math.sqrt(kernel.size)
    if sigma_b == 0:
        assert not bias.any()
    else:  # 2000 draws: standard error of the variance sqrt(2/2000) = 3.2%
        assert bias.var() == pytest.approx(sigma_b ** 2, rel=0.16)
    small = model.get_layer("small").kernel.numpy()
    assert small.var() == pytest.approx(sigma_w ** 2 / 2000, rel=0.2)  # output layer included


def test_eoc_fan_in_of_convolutions_and_reproducibility():
    model = keras.Sequential(
        [
            keras.Input((16, 16, 8)),
            keras.layers.Conv2D(64, 3, name="conv"),
            keras.layers.DepthwiseConv2D(3, depth_multiplier=4, name="dw"),
            keras.layers.BatchNormalization(name="bn"),
        ]
    )
    bn = [w.copy() for w in model.get_layer("bn").get_weights()]
    init.edge_of_chaos(model, "relu", seed=1)
    conv = model.get_layer("conv").kernel.numpy()
    assert conv.var() == pytest.approx(2.0 / (3 * 3 * 8), rel=0.05)
    dw = model.get_layer("dw").depthwise_kernel.numpy()
    assert dw.var() == pytest.approx(2.0 / 9, rel=0.15)
    for old, new in zip(bn, model.get_layer("bn").get_weights()):
        np.testing.assert_array_equal(old, new)
    first = conv.copy()
    init.edge_of_chaos(model, "relu", seed=1)
    np.testing.assert_array_equal(first, model.get_layer("conv").kernel.numpy())


def test_eoc_and_activation_bad_input():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"activation='swish': no Edge-of-Chaos values known; choose one of \['elu', 'relu', 'tanh'\]"):
        init.edge_of_chaos(model, "swish")
    with pytest.raises(TypeError, match="activation=None: expected one of"):
        init.edge_of_chaos(model, None)
    with pytest.raises(ValueError, match="seed=1.5: must be an int or None"):
        init.edge_of_chaos(model, "relu", seed=1.5)
    assert init.infer_activation(model) == "relu"
    mixed = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(3, activation="tanh"),
         keras.layers.Dense(2, activation="softmax")]
    )
    with pytest.raises(ValueError, match=r"cannot infer .* found: \['relu', 'tanh'\]"):
        init.infer_activation(mixed)
    separate = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.ELU(), keras.layers.Dense(2), keras.layers.Softmax()]
    )
    assert init.infer_activation(separate) == "elu"


# --------------------------------------------------------------------------- rescaling


def test_rescale_weight_hand_example():
    weight = np.array([[3.0, 1.0], [4.0, 2.0]], np.float32)  # units are columns: [3, 4] and [1, 2]
    mask = np.array([[1, 0], [0, 0]], np.float32)
    new, dead = init.rescale_weight(weight, mask)
    np.testing.assert_allclose(new, [[5.0, 0.0], [0.0, 0.0]], rtol=1e-6)  # rho = sqrt(25 / 9)
    assert dead.tolist() == [1]
    assert new.dtype == np.float32


@pytest.mark.parametrize("shape,axis", [((20, 7), -1), ((3, 3, 5, 6), -1), ((3, 3, 6, 5), -2)])
def test_rescaling_restores_every_unit_squared_norm(shape, axis):
    rng = np.random.default_rng(0)
    weight = rng.normal(size=shape)
    mask = (rng.random(shape) < 0.3).astype(np.float32)
    dead_unit = 2
    index = [slice(None)] * len(shape)
    index[axis] = dead_unit
    mask[tuple(index)] = 0
    new, dead = init.rescale_weight(weight, mask, axis)
    reduce = tuple(i for i in range(len(shape)) if i != len(shape) + axis)
    before = np.square(weight).sum(axis=reduce)
    after = np.square(new).sum(axis=reduce)
    alive = np.ones(shape[axis], bool)
    alive[dead_unit] = False
    np.testing.assert_allclose(after[alive], before[alive], rtol=1e-10)
    assert after[dead_unit] == 0 and dead.tolist() == [dead_unit]
    np.testing.assert_array_equal(new == 0, (mask == 0) | (weight == 0))


def test_rescale_on_a_wrapped_model_after_masking():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3, name="conv"), keras.layers.Flatten(),
         keras.layers.Dense(5, name="out")]
    )
    dense = prunable_weights(model)
    pruned, _ = prune_at_init(model, 0.6, score="magnitude", rescale=True, warn=False)
    for key, weight in prunable(pruned).items():
        kernel = weight.variable.numpy().astype(np.float64)
        mask = weight.mask.numpy()
        np.testing.assert_array_equal(kernel == 0, mask == 0)
        reduce = tuple(range(kernel.ndim - 1))
        alive = mask.sum(axis=reduce) > 0
        np.testing.assert_allclose(
            np.square(kernel).sum(axis=reduce)[alive], np.square(dense[key].astype(np.float64)).sum(axis=reduce)[alive],
            rtol=1e-5,
        )
    with pytest.raises(ValueError, match="no wrapped prunable layer"):
        init.rescale(model, dense)


# --------------------------------------------------------------------------- stable ResNet


def test_stable_resnet_branch_scaling(tmp_path):
    assert init.stable_resnet_scale(4) == 0.5
    with pytest.raises(ValueError, match="num_blocks=0: must be an integer >= 1"):
        init.stable_resnet_scale(0)
    blocks = 4
    inputs = keras.Input((8,))
    x = inputs
    for i in range(blocks):
        branch = keras.layers.Dense(8, activation="relu", name=f"f{i}")(x)
        x = keras.layers.Add()([x, init.scale_branch(branch, blocks, name=f"scale{i}")])
    model = keras.Model(inputs, x)
    sample = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    expected = sample
    for i in range(blocks):
        f = model.get_layer(f"f{i}")
        expected = expected + 0.5 * np.maximum(expected @ f.kernel.numpy() + f.bias.numpy(), 0)
    np.testing.assert_allclose(model(sample).numpy(), expected, rtol=1e-5)
    path = str(tmp_path / "stable.keras")
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom objects needed
    np.testing.assert_allclose(loaded(sample).numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="scale=nan: must be a finite number"):
        init.BranchScale(float("nan"))
