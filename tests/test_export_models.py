"""tfprune.export on model kinds beyond the digits classifiers: integer (token id) inputs,
fixed-batch models, separable / transposed convolutions, recurrent layers. Small untrained models,
exported without the dense reference to keep the tests short."""

import numpy as np
import pytest

import tfprune  # noqa: F401  (tf_keras first)
from tfprune.backend import keras
from tfprune.export import ExportError, run_litert, to_tflite
from tfprune.export.inputs import default_batch
from tfprune.export.verify import _dequantize_output, _quantize_input, layer_zeros


def _token_model(vocab=20, length=5):
    """Token ids -> Embedding -> Dense: an integer-input model."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((length,), dtype="int32")
    h = keras.layers.Embedding(vocab, 4, name="embed")(inp)
    out = keras.layers.Dense(3, name="logits")(keras.layers.Flatten()(h))
    return keras.Model(inp, out)


# ---------------------------------------------------------------- integer inputs


def test_integer_input_keeps_its_dtype_and_verifies(tmp_path):
    model = _token_model()
    ids = np.arange(40).reshape(8, 5) % 20  # every id of the vocabulary (int64: cast to the model's int32)
    result = to_tflite(model, tmp_path / "m.tflite", verify_data=ids, dense_reference=False)
    assert [c.loaded for c in result.checks.values()] == [True, True]
    assert result.max_abs_error < 1e-6 and result.verify_samples == 8
    litert = run_litert(tmp_path / "m.tflite", ids, runtime="builtin")[0]
    np.testing.assert_allclose(litert, model(ids).numpy(), atol=1e-6)


def test_integer_input_refuses_fractional_values(tmp_path):
    with pytest.raises(ValueError, match=r"verify_data has dtype float64 with values that are not whole "
                                         r"numbers; the model's input is int32"):
        to_tflite(_token_model(), tmp_path / "m.tflite", verify_data=np.full((2, 5), 0.5))
    assert list(tmp_path.iterdir()) == []


def test_only_tensors_with_a_scale_are_quantized():
    ids = np.array([[3, 19]])
    plain = {"dtype": np.int32, "quantization": (0.0, 0)}  # token ids: no quantization parameters
    assert _quantize_input(ids, plain).tolist() == [[3, 19]]
    assert _dequantize_output(np.array([7], np.int32), plain).tolist() == [7.0]
    quantized = {"dtype": np.int8, "quantization": (0.5, 3)}
    assert _quantize_input(np.array([1.0, -2.0, 100.0]), quantized).tolist() == [5, -1, 127]
    assert _dequantize_output(np.array([5, -1], np.int8), quantized).tolist() == [1.0, -2.0]


def _two_vocabularies():
    """One id input feeding two Embeddings (vocabularies 20 and 7)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((5,), dtype="int32")
    big = keras.layers.Embedding(20, 4, name="big")(inp)
    small = keras.layers.Embedding(7, 4, name="small")(inp)
    h = keras.layers.Flatten()(keras.layers.Concatenate()([big, small]))
    return keras.Model(inp, keras.layers.Dense(3, name="logits")(h))


def test_default_verification_ids_are_within_every_vocabulary(tmp_path):
    model = _two_vocabularies()
    result = to_tflite(model, tmp_path / "m.tflite", dense_reference=False)
    assert result.verify_source == "random ids in [0, 7) (seed 0)" and result.verify_samples == 32
    assert result.max_abs_error < 1e-6
    x, source = default_batch(model, (5,), np.int32, 32)
    assert x.dtype == np.int32 and x.shape == (32, 5) and sorted(np.unique(x)) == list(range(7))


def test_integer_input_without_embedding_needs_verify_data(tmp_path):
    inp = keras.Input((3,), dtype="int32")
    out = keras.layers.Dense(2)(keras.layers.Lambda(lambda t: keras.backend.cast(t, "float32"))(inp))
    with pytest.raises(ValueError, match=r"verify_data=None: the model's input is int32 and feeds no "
                                         r"Embedding layer.*pass verify_data"):
        to_tflite(keras.Model(inp, out), tmp_path / "m.tflite", dense_reference=False)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- fixed batch size


def _fixed_batch_model(batch):
    """The usual recipe for exporting an LSTM: a fixed batch size and an unrolled loop."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 3), batch_size=batch)
    return keras.Model(inp, keras.layers.Dense(2, name="logits")(keras.layers.LSTM(4, unroll=True)(inp)))


def test_fixed_batch_model_is_verified_one_batch_at_a_time(tmp_path):
    result = to_tflite(_fixed_batch_model(1), tmp_path / "one.tflite", dense_reference=False)
    assert result.verify_samples == 32 and [c.loaded for c in result.checks.values()] == [True, True]
    assert result.max_abs_error < 1e-6
    # batch 2, 5 samples: the last batch is padded, and the padding is not compared
    model = _fixed_batch_model(2)
    x = np.random.default_rng(1).standard_normal((5, 6, 3)).astype(np.float32)
    result = to_tflite(model, tmp_path / "two.tflite", verify_data=x, dense_reference=False)
    assert result.verify_samples == 5 and result.max_abs_error < 1e-6
    litert = run_litert(tmp_path / "two.tflite", x, runtime="builtin")[0]
    assert litert.shape == (5, 2)
    np.testing.assert_allclose(litert, model(x).numpy(), atol=1e-6)



# ---------------------------------------------------------------- kernels matched to the file by layer


def _conv_zoo():
    """A separable conv whose pointwise kernel has the shape of the 1x1 conv after it (6, 1, 1, 6),
    and a transposed conv with as many filters as inputs; every kernel half zeros (own pattern)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 6))
    h = keras.layers.SeparableConv2D(6, 3, padding="same", name="sep")(inp)
    h = keras.layers.Conv2D(6, 1, name="one")(h)
    h = keras.layers.Conv2DTranspose(6, 3, strides=2, padding="same", name="up")(h)
    out = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    for w in model.trainable_weights:
        if "kernel" in w.name:
            w.assign(w.numpy() * (rng.random(w.shape) < 0.5))
    return model


def test_kernels_are_matched_by_layer_not_by_shape(tmp_path):
    model = _conv_zoo()
    result = to_tflite(model, tmp_path / "m.tflite", dense_reference=False)
    assert result.warnings == []
    assert [(r.layer, r.weight, r.op) for r in result.layers] == [
        ("sep", "depthwise_kernel", "DEPTHWISE_CONV_2D"), ("sep", "pointwise_kernel", "CONV_2D"),
        ("one", "kernel", "CONV_2D"), ("up", "kernel", "TRANSPOSE_CONV"), ("logits", "kernel", "FULLY_CONNECTED")]
    layers = {layer.name: layer for layer in model.layers}
    kernels = [layers["sep"].depthwise_kernel, layers["sep"].pointwise_kernel, layers["one"].kernel,
               layers["up"].kernel, layers["logits"].kernel]
    assert [r.keras_zeros for r in result.layers] == [int(np.sum(k.numpy() == 0)) for k in kernels]
    assert all(r.zeros_kept and r.tflite_zeros == r.keras_zeros for r in result.layers)

    # a real difference is still found: zeros in Keras that the file does not have
    kernel = layers["up"].kernel
    kernel.assign(np.where(np.arange(kernel.shape[-1]) == 0, 0.0, kernel.numpy()))  # zero input channel 0
    rows = layer_zeros(model, tmp_path / "m.tflite")
    assert [r.zeros_kept for r in rows] == [True, True, True, False, True]


# ---------------------------------------------------------------- recurrent layers


def _recurrent(cls, unroll):
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 3))
    h = cls(4, unroll=unroll, name="rnn")(inp)
    return keras.Model(inp, keras.layers.Dense(2, name="logits")(h))


@pytest.mark.parametrize("cls", [keras.layers.LSTM, keras.layers.GRU], ids=["LSTM", "GRU"])
def test_recurrent_layer_error_says_unroll_and_unrolled_exports(cls, tmp_path):
    with pytest.raises(ExportError) as error:
        to_tflite(_recurrent(cls, unroll=False), tmp_path / "m.tflite", dense_reference=False)
    message = str(error.value)
    assert "\n" not in message
    assert f"recurrent layer rnn ({cls.__name__}) runs as a loop" in message and "unroll=True" in message
    assert list(tmp_path.iterdir()) == []
    result = to_tflite(_recurrent(cls, unroll=True), tmp_path / "m.tflite", dense_reference=False)
    assert [c.loaded for c in result.checks.values()] == [True, True] and result.max_abs_error < 1e-5


def test_select_tf_ops_converts_a_rolled_lstm_and_says_litert_cannot_run_it(tmp_path):
    model = _recurrent(keras.layers.LSTM, unroll=False)
    with pytest.raises(ExportError, match=r"Select TF ops \(FlexTensorListReserve, .*\) that the LiteRT "
                                          r"interpreter cannot run.*not verified"):
        to_tflite(model, tmp_path / "m.tflite", select_tf_ops=True, dense_reference=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.warns(UserWarning, match="Select TF ops"):
        result = to_tflite(model, tmp_path / "m.tflite", select_tf_ops=True, dense_reference=False, strict=False)
    assert "CUSTOM:FlexTensorListReserve" in result.ops and not any(c.loaded for c in result.checks.values())
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]
    with pytest.raises(TypeError, match=r"select_tf_ops='yes': expected True or False"):
        to_tflite(model, tmp_path / "n.tflite", select_tf_ops="yes")
