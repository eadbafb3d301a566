"""Model surgery: exact outputs, coupled channels, hand-computed parameter and FLOP counts."""

import numpy as np
import pytest

from tfprune.backend import keras
from tfprune.structured import Selection, channel_groups, count_flops, count_params, masked_model, surgery

L = keras.layers
RNG = np.random.RandomState(0)


def randomize_batchnorm(model):
    """Non-trivial BatchNorm statistics, so that slicing the wrong channel shows."""
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([RNG.uniform(0.5, 2, c), RNG.randn(c), RNG.randn(c), RNG.uniform(0.5, 2, c)])
    return model


def mlp():
    x = keras.Input((6,))
    h = L.Dense(5, activation="relu", name="h")(x)
    return keras.Model(x, L.Dense(3, name="out")(h))


def conv_bn():
    x = keras.Input((8, 8, 2))
    y = L.Conv2D(6, 3, padding="same", name="c1")(x)
    y = L.ReLU()(L.BatchNormalization(name="bn")(y))
    y = L.Conv2D(4, 3, padding="same", activation="relu", name="c2")(y)
    y = L.Flatten()(L.MaxPooling2D(2)(y))
    return randomize_batchnorm(keras.Model(x, L.Dense(3, name="out")(y)))


def residual():
    x = keras.Input((8, 8, 3))
    h = L.Conv2D(8, 3, padding="same", name="stem")(x)
    y = L.ReLU()(L.BatchNormalization()(L.Conv2D(4, 1, name="inner")(h)))
    y = L.Conv2D(8, 3, padding="same", name="back")(y)
    z = L.ReLU()(L.Add()([h, y]))
    z = L.GlobalAveragePooling2D()(z)
    return randomize_batchnorm(keras.Model(x, L.Dense(3, name="out")(z)))


def inverted_residual():
    """MobileNetV2 block: 1x1 expand, depthwise 3x3, 1x1 linear projection, Add."""
    x = keras.Input((8, 8, 4))
    h = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(8, 1, name="stem")(x)))
    y = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(24, 1, use_bias=False, name="expand")(h)))
    y = L.ReLU(6.0)(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same", name="dw")(y)))
    y = L.BatchNormalization()(L.Conv2D(8, 1, use_bias=False, name="project")(y))
    z = L.GlobalAveragePooling2D()(L.Add()([h, y]))
    return randomize_batchnorm(keras.Model(x, L.Dense(3, name="out")(z)))


def concat():
    x = keras.Input((6, 6, 2))
    a = L.Conv2D(3, 1, activation="relu", name="a")(x)
    b = L.Conv2D(5, 3, padding="same", activation="relu", name="b")(x)
    y = L.Conv2D(4, 1, name="mix")(L.Concatenate()([a, b]))
    return keras.Model(x, L.Dense(2, name="out")(L.Flatten()(y)))


def inputs(model, n=7):
    return RNG.randn(n, *model.input_shape[1:]).astype("float32")


CASES = {
    "conv_bn": (conv_bn, {"c1": Selection([0, 2, 3], [1.0, 2.0, 0.5]), "c2": [1, 3]}),
    "residual": (residual, {"stem": [0, 3, 4, 7], "inner": Selection([1, 2], [1.5, 0.5])}),
    "inverted_residual": (inverted_residual, {"expand": list(range(0, 24, 2)), "stem": [1, 2, 6]}),
    "concat": (concat, {"a": [2], "b": Selection([0, 4], [3.0, -1.0]), "mix": [0, 3]}),
}


@pytest.mark.parametrize("name", sorted(CASES) + ["mlp"])
def test_keeping_every_channel_gives_the_same_outputs(name):
    model = mlp() if name == "mlp" else CASES[name][0]()
    groups = [g for g in channel_groups(model).values() if g.prunable]
    full = surgery(model, {g.name: list(range(g.width)) for g in groups})
    x = inputs(model)
    np.testing.assert_allclose(full(x).numpy(), model(x).numpy(), atol=1e-6)
    assert count_params(full) == count_params(model)


@pytest.mark.parametrize("name", sorted(CASES))
def test_surgery_equals_the_masked_model(name):
    build, selection = CASES[name]
    model = build()
    small, masked = surgery(model, selection), masked_model(model, selection)
    x = inputs(model)
    np.testing.assert_allclose(small(x).numpy(), masked(x).numpy(), atol=1e-5)
    assert count_params(small) < count_params(model) == count_params(masked)
    # the removed channels matter: outputs differ from the unpruned model
    assert np.abs(small(x).numpy() - model(x).numpy()).max() > 1e-3


def test_dense_surgery_matches_numpy_with_folded_scales():
    model = mlp()
    w1, b1, w2, b2 = model.get_weights()
    keep, scale = np.array([1, 4]), np.array([2.0, 0.25])
    small = surgery(model, {"h": Selection([4, 1], [0.25, 2.0])})
    x = inputs(model)
    hidden = np.maximum(x @ w1[:, keep] + b1[keep], 0)
    np.testing.assert_allclose(small(x).numpy(), hidden @ (w2[keep] * scale[:, None]) + b2, atol=1e-6)
    assert count_params(small) == 6 * 2 + 2 + 2 * 3 + 3
    assert count_flops(small) == 2 * (6 * 2 + 2 * 3)


def test_conv_counts_and_flatten_rows():
    model = conv_bn()
    assert count_flops(model) == 2 * (9 * 2 * 6 * 64 + 9 * 6 * 4 * 64 + 16 * 4 * 3)
    small = surgery(model, CASES["conv_bn"][1])
    # c1: 3 filters, bn: 4 x 3, c2: 2 filters of 3 channels, Dense: 16 positions x 2 channels
    assert count_params(small) == (9 * 2 * 3 + 3) + 4 * 3 + (9 * 3 * 2 + 2) + (16 * 2 * 3 + 3)
    assert count_flops(small) == 2 * (9 * 2 * 3 * 64 + 9 * 3 * 2 * 64 + 16 * 2 * 3)
    rows = small.get_layer("out").get_weights()[0]
    expected = model.get_layer("out").get_weights()[0].reshape(16, 4, 3)[:, [1, 3]].reshape(32, 3)
    np.testing.assert_array_equal(rows, expected)


def test_channels_tied_by_add_form_one_group_and_are_removed_together():
    model = residual()
    groups = channel_groups(model)
    assert groups["stem"].producers == ("stem", "back")
    assert set(groups["stem"].consumers) == {"inner", "out"}
    assert not groups["out"].prunable and "model output" in groups["out"].reason
    small = surgery(model, {"back": [0, 3, 4, 7]})  # any producer names the group
    assert small.get_layer("stem").filters == small.get_layer("back").filters == 4
    # stem 9*3*4+4, inner 4*4+4, bn 4*4, back 9*4*4+4, out 4*3+3
    assert count_params(small) == 112 + 20 + 16 + 148 + 15


def test_inverted_residual_depthwise_follows_the_expansion():
    model = inverted_residual()
    groups = channel_groups(model)
    assert groups["stem"].producers == ("stem", "project")
    assert groups["expand"].consumers == ("project",)
    small = surgery(model, CASES["inverted_residual"][1])
    assert small.get_layer("dw").get_weights()[0].shape == (3, 3, 12, 1)
    # stem 4*3+3 + bn 4*3, expand 3*12 + bn 4*12, dw 9*12+12 + bn 4*12, project 12*3 + bn 4*3, out 3*3+3
    assert count_params(small) == 15 + 12 + 36 + 48 + 120 + 48 + 36 + 12 + 12
    assert count_flops(small) == 2 * (64 * (4 * 3 + 3 * 12 + 9 * 12 + 12 * 3) + 3 * 3)


def test_multiset_selection_scales_are_counts():
    sel = Selection.from_picks([4, 1, 4, 4], width=8)
    np.testing.assert_array_equal(sel.indices, [1, 4])
    np.testing.assert_array_equal(sel.scale, [8 * 1 / 4, 8 * 3 / 4])


def test_narrow_model_trains_saves_reloads_and_exports(tmp_path):
    from tfprune.export import to_tflite

    small = surgery(conv_bn(), CASES["conv_bn"][1])
    small.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = inputs(small, 32), RNG.randint(0, 3, 32)
    before = small.evaluate(x, y, verbose=0)
    small.fit(x, y, epochs=5, verbose=0)
    assert small.evaluate(x, y, verbose=0) < before
    path = str(tmp_path / "small.keras")
    small.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x).numpy(), small(x).numpy(), atol=1e-6)
    result = to_tflite(loaded, str(tmp_path / "small.tflite"), sparse=False, verify_data=x, dense_reference=False)
    assert result.max_abs_error < 1e-4


@pytest.mark.parametrize("selection, error, match", [
    ({"nope": [0]}, ValueError, r"'nope'.*prunable groups are \['stem', 'inner'\]"),
    ({"out": [0]}, ValueError, r"group 'out' cannot be pruned \(reaches a model output\)"),
    ({"inner": [0, 4]}, ValueError, r"must be in \[0, 4\)"),
    ({"inner": [1, 1]}, ValueError, "must be distinct"),
    ({"inner": []}, ValueError, "non-empty"),
    ({"inner": 2}, TypeError, r"selection\['inner'\]=2"),
    ({"stem": [0], "back": [1]}, ValueError, "twice"),
    ([0, 1], TypeError, "expected a dict"),
])
def test_bad_selections_are_refused(selection, error, match):
    with pytest.raises(error, match=match):
        surgery(residual(), selection)


def test_bad_scale_is_refused():
    with pytest.raises(ValueError, match="scale="):
        Selection([0, 1], [1.0])
    with pytest.raises(ValueError, match="scale="):
        Selection([0], [np.nan])
