"""Export a (pruned) Keras model to a TFLite / LiteRT flatbuffer that keeps its zeros.

``to_tflite`` strips TF-MOT pruning wrappers, converts with
``tf.lite.Optimize.EXPERIMENTAL_SPARSITY`` (weights with enough zeros are stored in
TFLite's sparse format), optionally applies post-training quantization, writes the file
atomically, and always verifies it: the file is loaded with the LiteRT interpreter
(``ai_edge_litert``), run on a batch and compared with the Keras model; zeros are read
back from the file; sizes are reported next to a dense conversion of the same model and
next to the information floor.

The file is written to a temporary name in the target folder, verified there, and only
then renamed onto ``path``: a failed conversion or verification leaves nothing behind.

Example:
    >>> from tfprune.export import to_tflite
    >>> result = to_tflite(model, "model.tflite", quantize="int8",
    ...                    representative_data=x_train)              # doctest: +SKIP
    >>> print(result.report())                                       # doctest: +SKIP
"""

import gzip
import math
import os
import warnings

import numpy as np

from tfprune._validate import is_int, is_real
from tfprune.backend import PruneLowMagnitude, keras, tf, tfmot
from tfprune.export import flatbuffer, verify
from tfprune.export.inputs import as_batch, default_batch, input_signature
from tfprune.io import atomic_path, check_parent

from tfprune.export.converter_errors import _converter_error
from tfprune.export.result import ExportError, ExportResult

QUANTIZE_MODES = (None, "dynamic", "float16", "int8")
BYTES_PER_VALUE = {None: 4, "float16": 2, "dynamic": 1, "int8": 1}
DEFAULT_VERIFY_SAMPLES = 32


def _has_pruning_wrappers(model):
    return any(isinstance(layer, PruneLowMagnitude) for layer in model.submodules)


def strip_wrappers(model):
    """Return ``model`` without TF-MOT pruning wrappers (the model itself if it has none)."""
    if _has_pruning_wrappers(model):
        return tfmot.sparsity.keras.strip_pruning(model)
    return model


def _check_folder(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path={path!r}: expected a file path (str or os.PathLike)")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"path={path!r} is a folder; give a file name such as model.tflite")
    check_parent(path)
    return path


def _nonzeros(model):
    weights = [np.asarray(w.numpy()) for w in model.trainable_weights]
    return sum(int(w.size) for w in weights), sum(int(np.count_nonzero(w)) for w in weights)


def convert(model, sparse=True, quantize=None, representative_data=None, integer_io=False,
            calibration_samples=200, select_tf_ops=False):
    """Convert a stripped Keras model to TFLite bytes (no file written, no checks).

    Args: as :func:`to_tflite`.

    Returns:
        bytes of the flatbuffer.
    """
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    opts = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY] if sparse else []
    if quantize is not None:
        opts.append(tf.lite.Optimize.DEFAULT)
    conv.optimizations = opts
    if quantize == "float16":
        conv.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        x = representative_data[:calibration_samples]

        def gen():
            for i in range(len(x)):
                yield [x[i : i + 1]]

        conv.representative_dataset = gen
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if integer_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    if select_tf_ops:
        builtins = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if quantize == "int8" else tf.lite.OpsSet.TFLITE_BUILTINS]
        conv.target_spec.supported_ops = builtins + [tf.lite.OpsSet.SELECT_TF_OPS]
        conv._experimental_lower_tensor_list_ops = False  # keep recurrent loops as TensorList (Flex) ops
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bytes(conv.convert())
    except Exception as e:  # the converter raises ConverterError and a few others
        raise _converter_error(e, model) from e


def _gzip_size(data):
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def _flex_ops(ops):
    """The Select TF (Flex) operators of a file, each once, in order."""
    return list(dict.fromkeys(op[len("CUSTOM:"):] for op in ops if op.startswith("CUSTOM:Flex")))


def _failures(checks, quantize, atol, min_top1, flex=()):
    """Reasons the verification failed (empty when it passed)."""
    out = []
    if flex and not any(c.loaded for c in checks.values()):
        out.append(
            f"the file uses Select TF ops ({', '.join(flex)}) that the LiteRT interpreter cannot run (it has "
            "no Flex delegate), so the file was not verified against Keras; it runs only where the Flex "
            "delegate is linked (e.g. the tensorflow-lite-select-tf-ops dependency on Android)")
    elif not any(c.loaded for c in checks.values()):
        out.append("no LiteRT runtime could run the file: " + "; ".join(
            f"{rt}: {c.error}" for rt, c in checks.items()))
    for rt, c in checks.items():
        if not c.loaded:
            continue
        if not c.finite:
            out.append(f"{rt}: LiteRT produced non-finite outputs (NaN/inf)")
        elif quantize is None and c.max_abs_error > atol:
            out.append(f"{rt}: max abs error {c.max_abs_error:.3g} exceeds atol={atol:.3g} for a float export")
        elif quantize is not None and c.top1_agreement is not None and c.top1_agreement < min_top1:
            out.append(f"{rt}: top-1 agreement {c.top1_agreement:.2%} is below min_top1_agreement={min_top1:.2%}")
    return out


def to_tflite(
    model,
    path,
    sparse=True,
    quantize=None,
    representative_data=None,
    verify_data=None,
    *,
    integer_io=False,
    calibration_samples=200,
    dense_reference=True,
    atol=None,
    min_top1_agreement=0.9,
    strict=True,
    select_tf_ops=False,
):
    """Export a Keras model (pruned or not) to ``path`` as a verified ``.tflite`` file.

    Args:
        model: a tf_keras model (Sequential or functional, single input). TF-MOT
            ``PruneLowMagnitude`` wrappers are stripped first; the model is not modified.
        path: the ``.tflite`` file to write (its folder must exist and be writable).
        sparse: store weights with >= ~30% zeros in TFLite's sparse format
            (``tf.lite.Optimize.EXPERIMENTAL_SPARSITY``).
        quantize: ``None`` (float32), ``"dynamic"`` (int8 weights, float activations),
            ``"float16"`` (float16 weights) or ``"int8"`` (full integer: int8 weights and
            activations, calibrated on ``representative_data``; ops without an int8 kernel are
            an error). Quantization is applied after sparsification and keeps the zeros.
        representative_data: numpy inputs ``(N, *input_shape)`` or an ``(x, y)`` pair; required
            for ``"int8"`` (the first ``calibration_samples`` rows calibrate the ranges).
        verify_data: inputs for the verification batch (``(N, *input_shape)`` or ``(x, y)``).
            Default: the first 1000 rows of ``representative_data`` if given, else 32 random
            inputs (seed 0) valid for the input signature, which check the arithmetic but not
            accuracy: N(0, 1) for float inputs, ids in ``[0, input_dim)`` of the Embedding layers
            an integer input feeds (an integer input that feeds none needs ``verify_data``).
        integer_io: with ``"int8"``, make the model's input and output int8 too (for
            microcontrollers); by default they stay float32 with QUANTIZE/DEQUANTIZE at the ends.
        calibration_samples: number of representative rows used to calibrate ``"int8"``.
        dense_reference: also convert without sparsity (same quantization, in memory) to report
            the dense size; False saves one conversion.
        atol: float exports fail verification if max |LiteRT - Keras| exceeds this; default
            ``1e-3 * max(1, max |Keras output|)``.
        min_top1_agreement: quantized exports fail verification if any runtime's top-1
            agreement with Keras is below this (classification outputs only).
        strict: if True (default) a failed verification raises :class:`ExportError` and nothing
            is written. If False the file is written and the failures are in ``warnings``.
        select_tf_ops: also allow Select TF ops (``tf.lite.OpsSet.SELECT_TF_OPS``, "Flex" ops) and
            keep TensorList loops, so that LSTM/GRU layers with ``unroll=False`` convert. Such a
            file needs the Flex delegate, which the LiteRT interpreter lacks: it cannot be
            verified, so this export fails unless ``strict=False`` (then it is written unverified,
            with a warning). ``unroll=True`` in the recurrent layers gives a builtin-only file.

    Returns:
        :class:`ExportResult`.

    Raises:
        ValueError: a bad argument (``quantize``, missing or mis-shaped data, a folder that does
            not exist or is not writable); :class:`ExportError` (a ValueError) when the converter
            rejects the model or, with ``strict``, when verification fails. No file is left
            behind in any of these cases.
    """
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"quantize={quantize!r}: allowed values are {QUANTIZE_MODES}")
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"model: expected a tf_keras Model (import tf_keras as keras), got {type(model).__module__}."
            f"{type(model).__name__}"
        )
    if integer_io and quantize != "int8":
        raise ValueError(f"integer_io=True needs quantize='int8' (got quantize={quantize!r})")
    if not isinstance(select_tf_ops, bool):
        raise TypeError(f"select_tf_ops={select_tf_ops!r}: expected True or False")
    if not (is_int(calibration_samples) and calibration_samples > 0):
        raise ValueError(f"calibration_samples={calibration_samples!r}: expected a positive integer")
    if atol is not None and not (is_real(atol) and 0 < atol < math.inf):
        raise ValueError(f"atol={atol!r}: expected a positive finite number, or None for the default")
    if not (is_real(min_top1_agreement) and 0 <= min_top1_agreement <= 1):
        raise ValueError(f"min_top1_agreement={min_top1_agreement!r}: expected a fraction in [0, 1] (0.9 for 90%)")
    path = _check_folder(path)
    shape, dtype = input_signature(model)
    rep = as_batch(representative_data, "representative_data", shape, dtype)
    if quantize == "int8" and rep is None:
        raise ValueError(
            "quantize='int8' needs representative_data (a numpy array of model inputs, e.g. "
            "100-500 training samples) to calibrate activation ranges; or choose quantize="
            "'dynamic' or 'float16', which need none"
        )
    vx = as_batch(verify_data, "verify_data", shape, dtype)
    if vx is not None:
        source = "verify_data"
    elif rep is not None:
        vx, source = rep[:1000], "representative_data"
    else:
        vx, source = default_batch(model, shape, dtype, DEFAULT_VERIFY_SAMPLES)

    stripped = strip_wrappers(model)
    data = convert(stripped, sparse, quantize, rep, integer_io, calibration_samples, select_tf_ops)
    dense = convert(stripped, False, quantize, rep, integer_io, calibration_samples, select_tf_ops) if (
        dense_reference and sparse) else (data if dense_reference else None)
    weights, nonzeros = _nonzeros(stripped)
    reference = verify.keras_outputs(stripped, vx)
    if atol is None:
        atol = 1e-3 * max(1.0, max(float(np.max(np.abs(r))) for r in reference))

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
        checks = verify.check_runtimes(tmp, stripped, vx, reference)
        layers = verify.layer_zeros(stripped, tmp)
        problems = _failures(checks, quantize, atol, min_top1_agreement, _flex_ops(flatbuffer.op_names(data)))
        notes = []
        xnn, builtin = checks["xnnpack"], checks["builtin"]
        if not xnn.loaded and builtin.loaded:
            notes.append(
                "the default LiteRT interpreter (XNNPACK delegate) cannot run this file: "
                f"{xnn.error}. It runs with the builtin kernels: Interpreter(..., "
                "experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)."
            )
        elif xnn.loaded and not builtin.loaded:
            notes.append(f"the builtin kernels cannot run this file (the XNNPACK delegate can): {builtin.error}")
        lost = [r.layer if r.weight == "kernel" else f"{r.layer} ({r.weight})" for r in layers if not r.zeros_kept]
        if lost:
            notes.append(f"zeros of the Keras kernel became non-zero in the file for: {', '.join(lost)}")
        if problems and strict:
            raise ExportError(
                "the exported file failed verification (nothing was written to "
                f"{path!r}; pass strict=False to write it anyway):\n  " + "\n  ".join(problems + notes)
            )
        notes = problems + notes

    loaded = [c for c in checks.values() if c.loaded]
    top1s = [c.top1_agreement for c in loaded if c.top1_agreement is not None]
    result = ExportResult(
        path=path,
        sparse=sparse,
        quantize=quantize,
        bytes_raw=len(data),
        bytes_gzip=_gzip_size(data),
        dense_bytes_raw=None if dense is None else len(dense),
        dense_bytes_gzip=None if dense is None else _gzip_size(dense),
        floor_bytes=nonzeros * BYTES_PER_VALUE[quantize],
        weights=weights,
        nonzeros=nonzeros,
        max_abs_error=max((c.max_abs_error for c in loaded), default=float("nan")),
        top1_agreement=min(top1s) if top1s else None,
        ops=flatbuffer.op_names(data),
        checks=checks,
        layers=layers,
        verify_source=source,
        verify_samples=int(len(vx)),
        warnings=notes,
    )
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return result
