"""Keras 3 models: ``tfprune.from_keras3`` rebuilds the zoo's models, built with the Keras 3
package, in tf_keras with the same outputs and the same prunable weights; the result prunes to
the exact survivor count and exports; ``tfprune.to_keras3`` takes the pruned, stripped model back
to a Keras 3 file with the same outputs; the command line reads Keras 3 files; what cannot be
translated is refused with the names of the layers.

The zoo's builders (``zoo_cases.py``) are run with their global ``keras`` bound to Keras 3, so
the same code builds each architecture in both packages. The large applications run under the
``zoo`` marker (``python -m pytest -m zoo``).
"""

import os
import re
import types

import numpy as np
import pytest
from click.testing import CliRunner

import tfprune
from tfprune.allocation import budget
from tfprune.backend import keras
from tfprune.cli import main

import zoo_cases as zoo
from test_zoo import EXPECTED

keras3 = pytest.importorskip("keras")
assert keras3.__version__.startswith("3"), keras3.__version__


def in_keras3(build):
    """``build`` (a zoo builder) with its global ``keras`` bound to the Keras 3 package."""
    return types.FunctionType(build.__code__, {**build.__globals__, "keras": keras3}, build.__name__,
                              build.__defaults__, build.__closure__)


def embedding():
    """Token ids -> Embedding -> average -> logits (an integer input)."""
    i = keras3.Input((7,), dtype="int32")
    x = keras3.layers.Embedding(50, 8, name="embedding")(i)
    x = keras3.layers.GlobalAveragePooling1D()(x)
    return keras3.Model(i, keras3.layers.Dense(zoo.CLASSES, name="logits")(x))


def mobilenet_v2():
    return keras3.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=zoo.CLASSES, alpha=0.35,
                                           classifier_activation=None)


FAST = {name: in_keras3(zoo.BY_NAME[name].build) for name in (
    "transformer", "lstm", "gru", "conv1d", "conv2d_transpose", "separable_depthwise", "nested_sequential",
    "shared_layer")}
FAST.update(embedding=embedding, mobilenet_v2=mobilenet_v2)
LARGE = ["ResNet50", "MobileNetV3Small"]


def inputs(model, n=4, seed=1):
    """Random inputs: N(0, 1) floats, or ids in [0, 50) for the integer input."""
    rng = np.random.default_rng(seed)
    shape = (n, *model.inputs[0].shape[1:])
    if "int" in str(model.inputs[0].dtype):
        return rng.integers(0, 50, shape).astype("int32")
    return rng.standard_normal(shape).astype("float32")


def outputs(model, x):
    return np.asarray(model(x, training=False))


def weight_shapes(model):
    return sorted(tuple(w.shape) for w in tfprune.layers.prunable_weights(model).values())


def check_conversion(build, tf_keras_build=None):
    """Build in Keras 3, convert, compare outputs (<= 1e-5) and prunable weights; back to Keras 3."""
    keras3.utils.set_random_seed(0)
    source = build()
    converted = tfprune.from_keras3(source)
    assert isinstance(converted, keras.Model)
    x = inputs(source)
    expected = outputs(source, x)
    assert np.max(np.abs(outputs(converted, x) - expected)) <= 1e-5
    assert len(converted.weights) == len(source.weights)
    assert sum(int(np.prod(w.shape)) for w in converted.weights) == source.count_params()
    if tf_keras_build is not None:  # the same prunable weights as the zoo's own tf_keras model
        assert weight_shapes(converted) == weight_shapes(tf_keras_build())
    back = tfprune.to_keras3(converted)
    assert type(back).__module__.split(".")[0] == "keras"
    assert np.max(np.abs(outputs(back, x) - expected)) <= 1e-5
    return converted


@pytest.mark.parametrize("name", sorted(FAST))
def test_a_keras3_model_converts_with_the_same_outputs(name):
    tf_keras_build = zoo.BY_NAME[name].build if name in zoo.BY_NAME else None
    check_conversion(FAST[name], tf_keras_build)


@pytest.mark.zoo
@pytest.mark.parametrize("name", LARGE)
def test_a_keras3_application_converts_with_the_same_outputs(name):
    converted = check_conversion(in_keras3(zoo.BY_NAME[name].build), zoo.BY_NAME[name].build)
    assert zoo.totals(converted)[0] == EXPECTED[name][1]


def test_the_converted_model_prunes_exports_and_goes_back_to_a_keras3_file(tmp_path):
    case = zoo.BY_NAME["separable_depthwise"]
    keras3.utils.set_random_seed(0)
    source = in_keras3(case.build)()
    converted = tfprune.from_keras3(source)
    pruned = zoo.fresh_pruned(converted, "lamp")
    params = EXPECTED[case.name][1]
    assert zoo.totals(pruned) == (params, budget.survivors(params, zoo.SPARSITY))
    result = zoo.export(pruned, str(tmp_path))
    assert result.max_abs_error <= 1e-5 and result.warnings == []
    assert result.layers and all(row.zeros_kept for row in result.layers)
    stripped = tfprune.strip(pruned)
    path = tmp_path / "pruned.keras"
    back = tfprune.to_keras3(stripped, str(path))
    assert sorted(os.listdir(tmp_path)) == ["model.tflite", "pruned.keras"]  # no temporary left
    loaded = keras3.saving.load_model(str(path))
    x = inputs(source)
    for model in (back, loaded):
        np.testing.assert_allclose(outputs(model, x), outputs(stripped, x), atol=1e-5)
    # the zeros survive the trip: the same survivors, counted in the Keras 3 model's kernels
    kernels = {w.path.split("/")[-2] + "/" + w.path.split("/")[-1]: np.asarray(w) for w in loaded.weights}
    nonzeros = sum(int(np.count_nonzero(kernels[k])) for k in ("sep/pointwise_kernel", "logits/kernel"))
    assert nonzeros == budget.survivors(params, zoo.SPARSITY)
    with pytest.raises(ValueError, match=r"^model: still wrapped for pruning; strip it first: "
                                         r"tfprune\.to_keras3\(tfprune\.strip\(model\)\)$"):
        tfprune.to_keras3(pruned)


def digits_model():
    """A small Keras 3 CNN for the 8x8 digits."""
    keras3.utils.set_random_seed(0)
    return keras3.Sequential([keras3.Input((8, 8, 1)), keras3.layers.Conv2D(4, 3, activation="relu", name="conv"),
                              keras3.layers.BatchNormalization(name="bn"), keras3.layers.Flatten(),
                              keras3.layers.Dense(10, name="logits")], name="k3_digits")


def test_keras3_files_load_through_the_command_line(tmp_path):
    model = digits_model()
    model.save(str(tmp_path / "k3.keras"))
    model.save(str(tmp_path / "k3.h5"))
    x = inputs(model)
    for name in ("k3.keras", "k3.h5"):
        loaded = tfprune.load_model(str(tmp_path / name))
        assert isinstance(loaded, keras.Model)
        assert np.max(np.abs(outputs(loaded, x) - outputs(model, x))) <= 1e-5
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["prune", "--model", str(tmp_path / "k3.keras"), "--schedule", "oneshot",
                                       "--sparsity", "0.5", "--epochs", "1", "--output", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"note: --model {str(tmp_path / 'k3.keras')!r}: saved by Keras 3, rebuilt in tf_keras\n" in result.stderr
    assert tfprune.sparsity_summary(tfprune.load_model(str(out / "model.keras")))["total"]["sparsity"] == \
        pytest.approx(0.5, abs=1e-3)
    result = CliRunner().invoke(main, ["export", str(tmp_path / "k3.h5"), str(tmp_path / "k3.tflite")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "k3.tflite").stat().st_size > 0


class Doubling(keras3.layers.Layer):
    """A custom Keras 3 layer: x -> 2 x."""

    def call(self, x):
        return 2.0 * x


def test_what_cannot_be_translated_is_refused_with_the_layer_names(tmp_path):
    i = keras3.Input((6,))
    x = keras3.layers.Dense(6, name="dense")(i)
    x = Doubling(name="doubling")(x)
    x = keras3.layers.RMSNormalization(name="rms")(x)
    x = keras3.layers.Dense(6, activation="hard_silu", name="hard")(x)
    x = keras3.ops.mean(x, axis=-1, keepdims=True) + x  # the mean is refused, the addition converted
    model = keras3.Model(i, keras3.layers.Dense(2, name="logits")(x), name="odd")
    with pytest.raises(ValueError) as error:
        tfprune.from_keras3(model)
    message = str(error.value)
    assert message.startswith("model_or_path: cannot rebuild 4 layer(s) of the Keras 3 model 'odd' in tf_keras: ")
    assert "Doubling 'doubling': not a layer tf_keras has" in message
    assert "RMSNormalization 'rms': not a layer tf_keras has" in message
    assert "Dense 'hard': activation 'hard_silu' has no tf_keras equivalent" in message
    assert re.search(r"Mean 'mean(_\d+)?': a Keras 3 operation \(keras\.src\.ops\.numpy\.Mean\), not a layer", message)
    assert "Add" not in message
    assert "'dense'" not in message and "'logits'" not in message
    # the command line: one line, naming the file
    keras3.Sequential([keras3.Input((8, 8, 1)), keras3.layers.Flatten(), keras3.layers.Dense(10),
                       keras3.layers.RMSNormalization(name="rms")]).save(str(tmp_path / "rms.keras"))
    result = CliRunner().invoke(main, ["prune", "--model", str(tmp_path / "rms.keras"), "--output",
                                       str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: --model {str(tmp_path / 'rms.keras')!r}: cannot rebuild 1 layer(s) of "
                                    "the Keras 3 model")
    assert result.stderr.count("\n") == 1 and "RMSNormalization 'rms': not a layer tf_keras has" in result.stderr
    assert not (tmp_path / "out").exists()


def test_wrong_arguments_are_named(tmp_path):
    tf_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    tf_model.save(str(tmp_path / "tf.keras"))
    with pytest.raises(ValueError, match=r"^model_or_path='.*tf\.keras': not a file saved by Keras 3 \(load tf_keras "
                                         r"files with tfprune\.load_model\)$"):
        tfprune.from_keras3(str(tmp_path / "tf.keras"))
    unbuilt = keras3.Sequential([keras3.layers.Dense(2)], name="unbuilt")
    with pytest.raises(ValueError, match=r"Sequential 'unbuilt': not built \(its input shape is unknown\); give it an "
                                         r"Input first$"):
        tfprune.from_keras3(unbuilt)
    with pytest.raises(TypeError, match=r"^model_or_path: expected a Keras 3 model or the path of a Keras 3 file, "
                                        r"got tf_keras\..*Sequential$"):
        tfprune.from_keras3(tf_model)
    with pytest.raises(ValueError, match=r"^model_or_path='nowhere\.keras': no such file$"):
        tfprune.from_keras3("nowhere.keras")
    with pytest.raises(TypeError, match=r"^model: expected a tf_keras model, got keras\..*Sequential$"):
        tfprune.to_keras3(digits_model())
    with pytest.raises(ValueError, match=r"^path='m\.h5': must end in \.keras"):
        tfprune.to_keras3(tf_model, "m.h5")
    class Sub(keras3.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.dense = keras3.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    subclassed = Sub()
    subclassed(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"^model_or_path: cannot rebuild 1 layer\(s\) of the Keras 3 model 'sub' in "
                                         r"tf_keras: Sub 'sub': a subclassed model; only Sequential and Functional"):
        tfprune.from_keras3(subclassed)
    lambda_model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 3.0, name="times3")])
    with pytest.raises(ValueError, match=r"^model: cannot rebuild 1 layer\(s\) of the tf_keras model .* in Keras 3: "
                                         r"Lambda 'times3': "):
        tfprune.to_keras3(lambda_model)


def test_activations_keep_their_keras3_meaning():
    """Keras 3's hard_sigmoid is relu6(x + 3) / 6 (tf_keras's of that name is clip(0.2 x + 0.5)):
    the converted model computes Keras 3's, by hand on five points; tf_keras's is refused back."""
    i = keras3.Input((5,))
    model = keras3.Model(i, [keras3.layers.Activation(name, name=name)(i) for name in ("hard_sigmoid", "hard_silu")])
    x = np.array([[-4.0, -1.0, 0.0, 1.0, 4.0]], "float32")
    sigmoid, silu = tfprune.from_keras3(model)(x)
    np.testing.assert_allclose(sigmoid.numpy(), [[0.0, 1 / 3, 0.5, 2 / 3, 1.0]], atol=1e-7)
    np.testing.assert_allclose(silu.numpy(), x * [[0.0, 1 / 3, 0.5, 2 / 3, 1.0]], atol=1e-6)
    tf_keras_model = keras.Sequential([keras.Input((5,)), keras.layers.Activation("hard_sigmoid", name="hs")])
    with pytest.raises(ValueError, match=r"Activation 'hs': activation 'hard_sigmoid' has no Keras 3 equivalent$"):
        tfprune.to_keras3(tf_keras_model)


def test_config_values_are_translated():
    """Regularizers, constraints, initializers, renamed options and mixed dtype policies reach tf_keras."""
    i = keras3.Input((4,))
    x = keras3.layers.Dense(3, kernel_regularizer=keras3.regularizers.L2(0.01), name="d",
                            kernel_constraint=keras3.constraints.MaxNorm(2.0),
                            kernel_initializer=keras3.initializers.RandomNormal(stddev=0.5, seed=3))(i)
    x = keras3.layers.LeakyReLU(negative_slope=0.1, name="leaky")(x)
    x = keras3.layers.Dense(2, dtype="mixed_float16", name="half")(x)
    model = keras3.Model(i, x)
    converted = tfprune.from_keras3(model)
    dense = converted.get_layer("d")
    assert isinstance(dense.kernel_regularizer, keras.regularizers.L2) and dense.kernel_regularizer.l2 == 0.01
    assert isinstance(dense.kernel_constraint, keras.constraints.MaxNorm)
    assert dense.kernel_constraint.max_value == 2.0
    assert dense.kernel_initializer.get_config() == {"mean": 0.0, "stddev": 0.5, "seed": 3}
    assert converted.get_layer("leaky").alpha == pytest.approx(0.1)
    assert converted.get_layer("half").dtype_policy.name == "mixed_float16"
    # the penalty on the copied kernel: 0.01 * sum(w^2), as Keras 3 computes it
    np.testing.assert_allclose(float(sum(converted.losses)), float(sum(model.losses)), rtol=1e-6)
    np.testing.assert_allclose(float(sum(converted.losses)),
                               0.01 * float(np.sum(np.asarray(model.get_layer("d").kernel) ** 2)), rtol=1e-6)
