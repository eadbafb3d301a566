"""tfprune.export: TFLite/LiteRT export of pruned models, verification, latency options.

Models are trained once per session on digits (small MLPs and the built-in CNN, pruned with
TF-MOT to 80-90%) and exported in every mode; each test checks one promise of the export.
"""

import os
import tempfile
import platform

import numpy as np
import pytest
from click.testing import CliRunner

import tfprune  # noqa: F401  (tf_keras first)
from tfprune.backend import PruneLowMagnitude, keras, tf, tfmot
from tfprune.export import (
    ExportError,
    explain_xnnpack,
    latency_pruning_params,
    measure_latencies,
    measure_latency,
    op_names,
    prune_for_latency,
    to_tflite,
    weight_tensors,
    xnnpack_sparse_path,
)
from tfprune.cli.export import export_after_prune, export_command
from tfprune.export.flatbuffer import decode_sparse

# ---------------------------------------------------------------- data and models (trained once)


@pytest.fixture(scope="session")
def digits():
    from tfprune import data

    splits = data.load("digits", batch_size=32, seed=0)
    return splits, splits.numpy("train"), splits.numpy("test")


def _train(model, digits, epochs, sparsity=None):
    _, (x, y), _ = digits
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()] if sparsity is not None else []
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks)
    return model


def _schedule(sparsity, digits, epochs):
    steps = epochs * int(np.ceil(len(digits[1][0]) / 32))
    return tfmot.sparsity.keras.PolynomialDecay(0.0, sparsity, 0, end_step=int(steps * 0.6), frequency=10)


def _mlp(hidden=128):
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(hidden, activation="relu", name="hidden"),
                             keras.layers.Dense(10, name="logits")])


@pytest.fixture(scope="session")
def cnn(digits):
    """The built-in digits CNN, pruned unstructured to 80% (all conv and dense kernels)."""
    from tfprune.cli.models import default_model

    keras.utils.set_random_seed(0)
    epochs = 12
    model = tfmot.sparsity.keras.prune_low_magnitude(
        default_model((8, 8, 1), 10), pruning_schedule=_schedule(0.8, digits, epochs))
    return _train(model, digits, epochs, 0.8)


@pytest.fixture(scope="session")
def mlp(digits):
    """An MLP pruned unstructured to 90%."""
    keras.utils.set_random_seed(0)
    epochs = 15
    model = tfmot.sparsity.keras.prune_low_magnitude(_mlp(), pruning_schedule=_schedule(0.9, digits, epochs))
    return _train(model, digits, epochs, 0.9)


@pytest.fixture(scope="session")
def mlp_block(digits):
    """An MLP pruned to 90% in (4, 1) blocks (the float32 fully_connected latency option)."""
    keras.utils.set_random_seed(0)
    epochs = 15
    model = prune_for_latency(_mlp(), "fully_connected", _schedule(0.9, digits, epochs))
    return _train(model, digits, epochs, 0.9)


@pytest.fixture(scope="session")
def mlp_block16(digits):
    """An MLP pruned to 80% in (16, 1) blocks (the int8 fully_connected latency option)."""
    keras.utils.set_random_seed(0)
    epochs = 15
    model = prune_for_latency(_mlp(), "fully_connected", _schedule(0.8, digits, epochs), quantize="int8")
    return _train(model, digits, epochs, 0.8)


def _mobilenet_like(size=32, width=8):
    """Tiny conv net built to XNNPACK's sparse-inference rules."""
    inp = keras.Input((size, size, 3))
    h = keras.layers.ZeroPadding2D(1)(inp)
    h = keras.layers.Conv2D(width, 3, strides=2, padding="valid", use_bias=False)(h)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    for filters in (2 * width, 4 * width):
        h = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(h)
        h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
        h = keras.layers.Conv2D(filters, 1, use_bias=False)(h)
        h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inp, keras.layers.Dense(10)(h))


def _file_listing(folder):
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------- float round trip, sizes, ops


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_float_round_trip_matches_keras(name, request, digits, tmp_path):
    model = request.getfixturevalue(name)
    x_test = digits[2][0]
    path = tmp_path / "m.tflite"
    result = to_tflite(model, path, verify_data=x_test)

    assert _file_listing(tmp_path) == ["m.tflite"]
    assert result.bytes_raw == os.path.getsize(path)
    for check in result.checks.values():  # both the XNNPACK and the builtin kernels
        assert check.loaded and check.finite
        assert check.max_abs_error < 1e-4
        assert check.top1_agreement == 1.0
    assert result.verify_samples == len(x_test) and result.verify_source == "verify_data"
    assert result.bytes_raw < result.dense_bytes_raw  # the sparse file is smaller than the dense one
    assert result.floor_bytes == result.nonzeros * 4 < result.bytes_raw
    assert result.zeros_kept
    assert isinstance(model.layers[-1], PruneLowMagnitude)  # the user's model is not stripped in place
    assert "max abs error" in result.report()


def test_unstructured_sparse_weights_are_densified_at_load(mlp, tmp_path):
    """What TFLite does with unstructured sparsity: a DENSIFY per sparse kernel (size win only)."""
    result = to_tflite(mlp, tmp_path / "m.tflite")
    assert result.ops.count("DENSIFY") == 2
    assert [(r.sparse, r.densified) for r in result.layers] == [(True, True), (True, True)]
    assert result.verify_source.startswith("random")  # no data given: random inputs


def test_block_sparse_dense_layers_stay_sparse_without_densify(mlp_block, digits, tmp_path):
    result = to_tflite(mlp_block, tmp_path / "m.tflite", verify_data=digits[2][0])
    assert "DENSIFY" not in result.ops
    assert result.ops.count("FULLY_CONNECTED") == 2
    assert [(r.sparse, r.block, r.densified) for r in result.layers] == [(True, (4,), False)] * 2
    assert result.max_abs_error < 1e-4
    assert result.bytes_raw < result.dense_bytes_raw / 5


def test_int8_block_sparse_dense_layers_stay_sparse(mlp_block16, digits, tmp_path):
    (x_train, _), (x_test, _) = digits[1], digits[2]
    result = to_tflite(mlp_block16, tmp_path / "m.tflite", quantize="int8", representative_data=x_train,
                       verify_data=x_test)
    assert "DENSIFY" not in result.ops
    assert [(r.block, r.densified) for r in result.layers] == [((16,), False)] * 2
    assert result.checks["xnnpack"].loaded and result.checks["builtin"].loaded
    assert result.top1_agreement >= 0.99


# ---------------------------------------------------------------- quantization keeps the zeros


XNNPACK_REFUSES = "ignore:the default LiteRT interpreter"  # measured caveat, see docs/export.md


@pytest.mark.filterwarnings(XNNPACK_REFUSES)
def test_int8_top1_agreement_on_digits_test_split(cnn, digits, tmp_path):
    (x_train, _), (x_test, y_test) = digits[1], digits[2]
    result = to_tflite(cnn, tmp_path / "m.tflite", quantize="int8", representative_data=x_train,
                       verify_data=x_test)
    builtin = result.checks["builtin"]
    assert builtin.loaded and builtin.top1_agreement >= 0.99
    assert result.top1_agreement >= 0.99  # worst runtime that could run the file
    assert result.floor_bytes == result.nonzeros  # one byte per int8 value
    # the file itself classifies the test split about as well as Keras does
    from tfprune.export import run_litert

    litert = run_litert(tmp_path / "m.tflite", x_test, runtime="builtin")[0]
    keras_acc = np.mean(np.argmax(tfmot.sparsity.keras.strip_pruning(cnn)(x_test).numpy(), 1) == y_test)
    assert np.mean(np.argmax(litert, 1) == y_test) >= keras_acc - 0.01


@pytest.mark.filterwarnings(XNNPACK_REFUSES)
@pytest.mark.parametrize("quantize", ["dynamic", "float16", "int8"])
def test_zeros_survive_quantization(cnn, digits, quantize, tmp_path):
    result = to_tflite(cnn, tmp_path / "m.tflite", quantize=quantize, representative_data=digits[1])  # (x, y)
    stripped = tfmot.sparsity.keras.strip_pruning(cnn)
    kernels = {layer.name: layer.kernel.numpy() for layer in stripped.layers if hasattr(layer, "kernel")}
    assert [r.layer for r in result.layers] == list(kernels)  # every kernel found in the file
    for row in result.layers:
        assert row.keras_zeros == int(np.sum(kernels[row.layer] == 0)) > 0
        assert row.tflite_zeros >= row.keras_zeros
        assert row.zeros_kept, row
    # the same from the raw file: zero counts of the stored weights, independent of result.layers
    stored = weight_tensors(tmp_path / "m.tflite")
    kinds = {w.dtype for w in stored}
    assert kinds <= {"INT8", "FLOAT16", "FLOAT32"} and (("FLOAT16" in kinds) == (quantize == "float16"))
    assert sum(w.zeros for w in stored) >= sum(int(np.sum(k == 0)) for k in kernels.values())


@pytest.mark.filterwarnings(XNNPACK_REFUSES)
def test_int8_with_integer_input_and_output(cnn, digits, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    (x_train, _), (x_test, _) = digits[1], digits[2]
    result = to_tflite(cnn, tmp_path / "m.tflite", quantize="int8", representative_data=x_train,
                       verify_data=x_test, integer_io=True, dense_reference=False)
    interp = Interpreter(model_path=str(tmp_path / "m.tflite"))
    assert interp.get_input_details()[0]["dtype"] == np.int8 == interp.get_output_details()[0]["dtype"]
    assert "QUANTIZE" not in result.ops and result.checks["builtin"].top1_agreement >= 0.99
    with pytest.raises(ValueError, match="integer_io=True needs quantize='int8'"):
        to_tflite(cnn, tmp_path / "n.tflite", integer_io=True)


# ---------------------------------------------------------------- bad input: clear errors, no file


def test_quantize_must_be_one_of_the_modes(mlp, tmp_path):
    with pytest.raises(ValueError, match=r"quantize='int4'.*None, 'dynamic', 'float16', 'int8'"):
        to_tflite(mlp, tmp_path / "m.tflite", quantize="int4")
    assert _file_listing(tmp_path) == []


def test_int8_needs_representative_data(mlp, tmp_path):
    with pytest.raises(ValueError, match="quantize='int8' needs representative_data"):
        to_tflite(mlp, tmp_path / "m.tflite", quantize="int8")
    assert _file_listing(tmp_path) == []


def test_representative_data_of_the_wrong_shape(mlp, tmp_path):
    with pytest.raises(ValueError, match=r"representative_data has shape \(5, 64\).*\(N, 8, 8, 1\)"):
        to_tflite(mlp, tmp_path / "m.tflite", quantize="int8", representative_data=np.zeros((5, 64)))
    with pytest.raises(ValueError, match="verify_data has shape"):
        to_tflite(mlp, tmp_path / "m.tflite", verify_data=np.zeros((5, 8, 8)))
    assert _file_listing(tmp_path) == []


def test_folder_missing_or_not_writable(mlp, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="does not exist"):
        to_tflite(mlp, tmp_path / "no" / "m.tflite")
    with pytest.raises(ValueError, match="is a folder"):
        to_tflite(mlp, tmp_path)
    def refuse(*args, **kwargs):  # (root ignores chmod, so fake a folder no file can be made in)
        raise PermissionError("read-only")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ValueError, match="is not writable"):
        to_tflite(mlp, tmp_path / "m.tflite")
    monkeypatch.undo()
    assert _file_listing(tmp_path) == []


@pytest.mark.parametrize("kwargs, match", [
    (dict(atol="1e-3"), r"atol='1e-3': expected a positive finite number, or None"),
    (dict(atol=-1.0), r"atol=-1.0: expected a positive finite number"),
    (dict(atol=float("nan")), r"atol=nan: expected a positive finite number"),
    (dict(min_top1_agreement=90), r"min_top1_agreement=90: expected a fraction in \[0, 1\] \(0.9 for 90%\)"),
    (dict(min_top1_agreement=None), r"min_top1_agreement=None: expected a fraction"),
    (dict(calibration_samples=True), r"calibration_samples=True: expected a positive integer"),
])
def test_verification_settings_are_checked_before_any_conversion(mlp, tmp_path, monkeypatch, kwargs, match):
    monkeypatch.setattr("tfprune.export.tflite.convert", lambda *a, **k: pytest.fail("converted"))
    with pytest.raises(ValueError, match=match):
        to_tflite(mlp, tmp_path / "m.tflite", **kwargs)
    assert _file_listing(tmp_path) == []


def test_unsupported_op_names_the_op_and_the_layer(tmp_path):
    inp = keras.Input((8,))
    h = keras.layers.Dense(8)(inp)
    out = keras.layers.Lambda(lambda t: tf.linalg.svd(tf.reshape(t, (-1, 2, 4)), compute_uv=False),
                              name="my_svd")(h)
    with pytest.raises(ExportError, match=r"Svd.*my_svd"):
        to_tflite(keras.Model(inp, out), tmp_path / "m.tflite")
    assert _file_listing(tmp_path) == []


def test_failed_verification_writes_nothing_and_keeps_the_old_file(mlp_block, tmp_path):
    """Block-sparse float16 weights give NaN in this LiteRT (measured): caught before writing."""
    path = tmp_path / "m.tflite"
    path.write_bytes(b"old")
    with pytest.raises(ExportError, match="non-finite"):
        to_tflite(mlp_block, path, quantize="float16")
    assert _file_listing(tmp_path) == ["m.tflite"] and path.read_bytes() == b"old"
    with pytest.warns(UserWarning, match="non-finite"):
        result = to_tflite(mlp_block, path, quantize="float16", strict=False)
    assert path.read_bytes()[4:8] == b"TFL3" and any("non-finite" in w for w in result.warnings)


def test_keras3_or_other_objects_are_refused(tmp_path):
    import keras as keras3  # Keras 3, not the tf_keras that tfprune and TF-MOT use

    assert keras3.__version__.startswith("3.")
    model = keras3.Sequential([keras3.Input((4,)), keras3.layers.Dense(2)])
    # The message says what was expected and names the Keras 3 class that was given.
    with pytest.raises(TypeError, match=r"expected a tf_keras Model .*got keras\.src\.models\..*Sequential"):
        to_tflite(model, tmp_path / "m.tflite")
    with pytest.raises(TypeError, match=r"expected a tf_keras Model .*got builtins\.object"):
        to_tflite(object(), tmp_path / "m.tflite")
    assert _file_listing(tmp_path) == []


# ---------------------------------------------------------------- latency options


def test_fully_connected_plan_blocks_every_dense_layer():
    plan = latency_pruning_params(_mlp(), "fully_connected")
    assert plan.layers == {"hidden": {"block_size": (4, 1)}, "logits": {"block_size": (4, 1)}}
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(36, name="a"), keras.layers.Dense(10, name="b")])
    plan = latency_pruning_params(model, "fully_connected", quantize="int8")
    assert plan.layers == {"a": {"block_size": (16, 1)}}
    assert "not a multiple of the block 16" in plan.skipped["b"]
    with pytest.raises(ValueError, match=r"quantize='float16'.*NaN"):
        latency_pruning_params(model, "fully_connected", quantize="float16")
    with pytest.raises(ValueError, match=r"target='gpu'"):
        latency_pruning_params(model, "gpu")


def test_explain_xnnpack_gives_reasons_for_models_that_do_not_qualify(cnn):
    from tfprune.cli.models import default_model

    reasons = explain_xnnpack(default_model((8, 8, 1), 10))
    assert any("3x3" in r and "3 input channels" in r for r in reasons)
    assert any("no Conv2D with a 1x1 kernel" in r for r in reasons)
    assert any("1x1" in r for r in explain_xnnpack(_mlp()))
    with pytest.raises(ValueError, match="does not qualify for XNNPACK sparse inference"):
        latency_pruning_params(default_model((8, 8, 1), 10), "xnnpack")
    # a model with an unsupported layer in the sparse subgraph: the layer is named
    inp = keras.Input((32, 32, 3))
    h = keras.layers.Conv2D(8, 3, strides=2)(keras.layers.ZeroPadding2D(1)(inp))
    h = keras.layers.MaxPooling2D(name="pool")(h)
    h = keras.layers.Conv2D(8, 1)(h)
    out = keras.layers.GlobalAveragePooling2D()(h)
    assert any("pool" in r and "MaxPooling2D" in r for r in explain_xnnpack(keras.Model(inp, out)))


def test_xnnpack_option_prunes_only_the_1x1_convs_and_exports(tmp_path):
    keras.utils.set_random_seed(0)
    model = _mobilenet_like()
    assert explain_xnnpack(model) == []
    plan = latency_pruning_params(model, "xnnpack")
    convs_1x1 = [layer.name for layer in model.layers
                 if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (1, 1)]
    assert sorted(plan.layers) == sorted(convs_1x1) and len(convs_1x1) == 2
    pruned = prune_for_latency(model, "xnnpack", tfmot.sparsity.keras.ConstantSparsity(0.8, 0, frequency=1))
    wrapped = [layer.layer.name for layer in pruned.layers if isinstance(layer, PruneLowMagnitude)]
    assert sorted(wrapped) == sorted(convs_1x1)
    x = np.random.default_rng(0).random((64, 32, 32, 3)).astype(np.float32)
    pruned.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    pruned.fit(x, np.arange(64) % 10, epochs=1, batch_size=16, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    result = to_tflite(pruned, tmp_path / "m.tflite", verify_data=x)
    densified = [r for r in result.layers if r.densified]
    assert len(densified) == 2 and all(r.op == "CONV_2D" for r in densified)
    assert all(r.tflite_zeros == r.keras_zeros == r.size - round(0.2 * r.size) for r in densified)
    assert result.max_abs_error < 1e-4 and "MEAN" in result.ops
    with pytest.warns(UserWarning, match="2/3"):
        prune_for_latency(_mobilenet_like(), "xnnpack", tfmot.sparsity.keras.ConstantSparsity(0.5, 0))


def test_measure_latency_both_runtimes(mlp_block, tmp_path):
    to_tflite(mlp_block, tmp_path / "m.tflite", dense_reference=False)
    for runtime in ("xnnpack", "builtin"):
        lat = measure_latency(tmp_path / "m.tflite", runtime=runtime, runs=20, warmup=2)
        assert lat.loaded and 0 < lat.p10_ms <= lat.median_ms <= lat.p90_ms
    with pytest.raises(ValueError, match="runtime='gpu'"):
        measure_latency(tmp_path / "m.tflite", runtime="gpu")
    both = measure_latencies({"a": tmp_path / "m.tflite", "b": b"not a model"}, runtime="builtin", runs=12)
    assert list(both) == ["a", "b"] and both["a"].loaded and len(both) == 2
    assert not both["b"].loaded and both["b"].median_ms is None


@pytest.mark.parametrize("models, kwargs, error, match", [
    ({"a": "missing.tflite"}, {}, ValueError, r"models\['a'\]='missing.tflite': no such file"),
    ({"a": 3}, {}, TypeError, r"models\['a'\]=int: expected a .tflite path or its bytes"),
    ({}, {}, TypeError, "models={}: expected a non-empty dict"),
    (["m.tflite"], {}, TypeError, "expected a non-empty dict"),
    ({"a": b"x"}, dict(runs=0), ValueError, "runs=0: must be an integer >= 1"),
    ({"a": b"x"}, dict(warmup=1.5), ValueError, "warmup=1.5: must be an integer >= 0"),
    ({"a": b"x"}, dict(num_threads=0), ValueError, r"num_threads=0: expected -1 \(the interpreter's default\)"),
    ({"a": b"x"}, dict(seed=-1), ValueError, "seed=-1: must be an integer >= 0"),
    ({"a": b"x"}, dict(rounds=0), ValueError, "rounds=0: must be an integer >= 1"),
])
def test_latency_arguments_are_the_callers_mistakes_not_results(models, kwargs, error, match):
    with pytest.raises(error, match=match):
        measure_latencies(models, **kwargs)


def _expected_xnnpack_sparse_path():
    """What ``xnnpack_sparse_path`` documents for this machine, read independently of it."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "i386", "i686", "x86"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                flags = next(line for line in f if line.startswith("flags")).split(":", 1)[1].split()
        except (OSError, StopIteration):
            return None, "could not read the CPU flags"
        return ("avx" not in flags), ("with AVX" if "avx" in flags else "without AVX")
    if machine.startswith(("arm", "aarch64")):
        return True, "NEON"
    return None, "unknown"


def test_xnnpack_sparse_path_matches_this_cpu():
    """False on x86 with AVX (XNNPACK then keeps its dense kernels), True without AVX or on ARM."""
    possible, reason = xnnpack_sparse_path()
    expected, words = _expected_xnnpack_sparse_path()
    assert possible is expected
    assert reason.startswith(platform.machine().lower()) and words in reason


@pytest.mark.parametrize(
    "machine, flags, expected, words",
    [
        ("x86_64", {"sse2", "avx", "avx2"}, False, "with AVX"),
        ("x86_64", {"sse2", "sse4_1"}, True, "without AVX"),
        ("AMD64", None, None, "could not read the CPU flags"),
        ("aarch64", None, True, "NEON"),
        ("riscv64", None, None, "unknown"),
    ],
)
def test_xnnpack_sparse_path_on_other_cpus(monkeypatch, machine, flags, expected, words):
    from tfprune.export import timing

    monkeypatch.setattr(timing.platform, "machine", lambda: machine)
    monkeypatch.setattr(timing, "_cpu_flags", lambda: flags)
    possible, reason = xnnpack_sparse_path()
    assert possible is expected and reason.startswith(machine.lower()) and words in reason


# ---------------------------------------------------------------- reading the file


def test_decode_sparse_csr_and_blocks_by_hand():
    from ai_edge_litert import schema_py_generated as s

    def level(dense=None, segments=None, indices=None):
        dm = s.DimensionMetadataT()
        if dense is not None:
            dm.format, dm.denseSize = s.DimensionType.DENSE, dense
        else:
            dm.format = s.DimensionType.SPARSE_CSR
            dm.arraySegments, dm.arrayIndices = s.Int32VectorT(), s.Int32VectorT()
            dm.arraySegments.values, dm.arrayIndices.values = segments, indices
        return dm

    csr = s.SparsityParametersT()
    csr.traversalOrder, csr.blockMap = [0, 1], []
    csr.dimMetadata = [level(dense=2), level(segments=[0, 1, 3], indices=[2, 0, 3])]
    got = decode_sparse(np.array([5.0, 6.0, 7.0], np.float32), (2, 4), csr)
    np.testing.assert_array_equal(got, [[0, 0, 5, 0], [6, 0, 0, 7]])

    blocked = s.SparsityParametersT()  # (2, 8) in 1x4 blocks: only block 1 of row 0 is stored
    blocked.traversalOrder, blocked.blockMap = [0, 1, 2], [1]
    blocked.dimMetadata = [level(dense=2), level(segments=[0, 1, 1], indices=[1]), level(dense=4)]
    got = decode_sparse(np.array([1.0, 2.0, 3.0, 4.0], np.float32), (2, 8), blocked)
    np.testing.assert_array_equal(got, [[0, 0, 0, 0, 1, 2, 3, 4], [0] * 8])


def test_op_names_reads_the_flatbuffer(mlp_block, tmp_path):
    result = to_tflite(mlp_block, tmp_path / "m.tflite", dense_reference=False)
    assert op_names(tmp_path / "m.tflite") == result.ops == ["RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert result.dense_bytes_raw is None


# ---------------------------------------------------------------- command line


def test_cli_export_int8_on_digits(cnn, tmp_path):
    saved = str(tmp_path / "pruned.keras")
    cnn.save(saved)
    out = tmp_path / "m.tflite"
    run = CliRunner().invoke(export_command, [saved, str(out), "--quantize", "int8",
                                              "--representative-dataset", "digits"])
    assert run.exit_code == 0, run.output
    assert out.read_bytes()[4:8] == b"TFL3"
    assert "top-1 agreement" in run.output and "test" not in _file_listing(tmp_path)

    bad = CliRunner().invoke(export_command, [saved, str(tmp_path / "bad.tflite"), "--quantize", "int8"])
    assert (bad.exit_code, bad.stderr) == (1, (
        "Error: --quantize 'int8' needs --representative-dataset (digits, mnist1d, a prepared TFDS name, or a "
        ".npy file of model inputs) to calibrate activation ranges; or choose --quantize 'dynamic' or 'float16', "
        "which need none\n"))
    assert not (tmp_path / "bad.tflite").exists()


def test_export_after_prune_helper(cnn, digits, tmp_path):
    splits = digits[0]
    text = export_after_prune(tfmot.sparsity.keras.strip_pruning(cnn), str(tmp_path / "m.tflite"), "none", splits)
    assert "verified on" in text and (tmp_path / "m.tflite").exists()
    assert export_after_prune(cnn, None, "none", splits) is None
