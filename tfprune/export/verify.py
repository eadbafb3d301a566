"""Check an exported ``.tflite`` file against the Keras model it came from.

Two LiteRT runtimes are tried, because they run different kernels on the same file:

* ``"xnnpack"``: ``Interpreter(...)`` as users get it, which applies the default
  XNNPACK delegate (``OpResolverType.AUTO``);
* ``"builtin"``: the built-in TFLite kernels only
  (``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``).

Each runs the verification batch once; the outputs are compared with the Keras
model's (max absolute error, top-1 agreement). Separately, the zeros of every
weight are read back from the file itself (:mod:`tfprune.export.flatbuffer`) and
checked against the Keras kernel: every zero of the Keras kernel must still be a
zero in the file, whatever the quantization.
"""

import dataclasses
import os

import numpy as np

from tfprune import layers
from tfprune.backend import keras
from tfprune.export import flatbuffer

RUNTIMES = ("xnnpack", "builtin")


@dataclasses.dataclass
class RuntimeCheck:
    """Outputs of one LiteRT runtime compared with the Keras model.

    Attributes:
        runtime: ``"xnnpack"`` (default delegates) or ``"builtin"`` (TFLite kernels only).
        loaded: False if the interpreter could not be created, allocated or invoked.
        error: the runtime's message when ``loaded`` is False.
        max_abs_error: max |LiteRT - Keras| over all outputs and samples.
        top1_agreement: fraction of samples whose argmax agrees (first output; None when
            that output has a single unit, where argmax means nothing).
        finite: all LiteRT outputs are finite.
    """

    runtime: str
    loaded: bool
    error: str = None
    max_abs_error: float = None
    top1_agreement: float = None
    finite: bool = None


@dataclasses.dataclass
class LayerZeros:
    """Zeros of one Keras kernel (``layer``: its path in the model, ``weight``: its attribute) and
    of the matching weight read back from the file."""

    layer: str
    op: str
    size: int
    keras_zeros: int
    tflite_zeros: int
    zeros_kept: bool  # every zero of the Keras kernel is a zero in the file
    sparse: bool  # stored with sparsity parameters
    block: tuple
    densified: bool  # expanded by a DENSIFY operator at load time
    weight: str = "kernel"  # the kernel's attribute in the layer (SeparableConv2D has two)


def _interpreter(model_path, runtime, num_threads=None):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if runtime not in RUNTIMES:
        raise ValueError(f"runtime={runtime!r}: allowed values are {RUNTIMES}")
    resolver = OpResolverType.AUTO if runtime == "xnnpack" else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    kwargs = dict(experimental_op_resolver_type=resolver, num_threads=num_threads)
    if isinstance(model_path, (bytes, bytearray)):
        return Interpreter(model_content=bytes(model_path), **kwargs)
    return Interpreter(model_path=os.fspath(model_path), **kwargs)


def _quantization(detail):
    """``(scale, zero_point)`` of a quantized tensor, or None: a scale of 0 means not quantized
    (an integer tensor such as token ids is passed through as it is)."""
    scale, zero = detail["quantization"]
    return (scale, zero) if scale else None


def _quantize_input(x, detail):
    dtype = detail["dtype"]
    params = None if np.issubdtype(dtype, np.floating) else _quantization(detail)
    if params is None:
        return x.astype(dtype)
    scale, zero = params
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize_output(y, detail):
    params = None if np.issubdtype(y.dtype, np.floating) else _quantization(detail)
    if params is None:
        return y.astype(np.float32)
    scale, zero = params
    return ((y.astype(np.float32) - zero) * scale).astype(np.float32)


def fixed_batch(shape):
    """The batch size fixed in an input ``shape`` (``Input(batch_size=...)``), or None if it varies."""
    size = None if shape is None or len(shape) == 0 else shape[0]
    return int(size) if size is not None and size > 0 else None


def in_batches(fn, x, batch):
    """``fn`` (returning a list of arrays) applied to ``x`` in batches of exactly ``batch`` rows.

    A model with a fixed batch size accepts no other: ``x`` is cut into batches, the last one
    padded with copies of its last row, and the padding is dropped from the outputs.
    """
    if batch is None or len(x) == batch:
        return fn(x)
    parts = []
    for start in range(0, len(x), batch):
        chunk = x[start : start + batch]
        rows = len(chunk)
        if rows < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - rows, axis=0)])
        parts.append([y[:rows] for y in fn(chunk)])
    return [np.concatenate(ys) for ys in zip(*parts)]


def run_litert(model_path, x, runtime="xnnpack", output_names=None, num_threads=None):
    """Run a ``.tflite`` file (path or bytes) on a batch ``x`` through its default signature.

    Quantized inputs/outputs are quantized/dequantized with the file's own parameters. A file
    with a fixed batch size (``Input(batch_size=...)``) is run one batch of that size at a time.

    Args:
        model_path: path of the ``.tflite`` file, or its bytes.
        x: numpy array, the batch (single-input models).
        runtime: ``"xnnpack"`` or ``"builtin"``.
        output_names: order of the outputs to return (signature output names, which are the
            Keras output layer names for converted Keras models); default: the signature's order.

    Returns:
        list of float32 arrays, one per output.
    """
    interp = _interpreter(model_path, runtime, num_threads)
    runner = interp.get_signature_runner()
    in_details = runner.get_input_details()
    if len(in_details) != 1:
        raise ValueError(f"the model has {len(in_details)} inputs; only single-input models are supported")
    (in_name, in_detail), = in_details.items()
    out_details = runner.get_output_details()

    def run(batch):
        result = runner(**{in_name: _quantize_input(batch, in_detail)})
        names = list(output_names) if output_names and set(output_names) == set(result) else list(result)
        return [_dequantize_output(result[n], out_details[n]) for n in names]

    return in_batches(run, np.asarray(x), fixed_batch(in_detail.get("shape_signature")))


def keras_outputs(model, x):
    """The Keras model's outputs on ``x`` as a list of float32 arrays (inference mode), one batch of
    the model's fixed batch size at a time if it has one."""

    def run(batch):
        y = model(batch, training=False)
        ys = [y[k] for k in model.output_names] if isinstance(y, dict) else \
            (y if isinstance(y, (list, tuple)) else [y])
        return [np.asarray(v, dtype=np.float32) for v in ys]

    inputs = getattr(model, "inputs", None)
    return in_batches(run, x, fixed_batch(tuple(inputs[0].shape)) if inputs else None)


def compare(reference, outputs):
    """(max_abs_error, top1_agreement, finite) of ``outputs`` against ``reference`` (lists of arrays)."""
    if len(reference) != len(outputs):
        raise ValueError(f"{len(outputs)} LiteRT outputs for {len(reference)} Keras outputs")
    finite = all(bool(np.all(np.isfinite(o))) for o in outputs)
    err = 0.0
    for r, o in zip(reference, outputs):
        if r.shape != o.shape:
            raise ValueError(f"LiteRT output shape {o.shape} != Keras output shape {r.shape}")
        if o.size:
            err = max(err, float(np.max(np.abs(o.astype(np.float64) - r.astype(np.float64)))))
    if not finite:
        err = float("inf")
    r0, o0 = reference[0], outputs[0]
    top1 = None
    if r0.ndim >= 2 and r0.shape[-1] > 1:
        top1 = float(np.mean(np.argmax(r0, axis=-1) == np.argmax(o0, axis=-1)))
    return err, top1, finite


def check_runtimes(model_path, keras_model, x, reference=None, runtimes=RUNTIMES):
    """Run the file under each runtime and compare with the Keras model.

    Returns:
        dict runtime name -> :class:`RuntimeCheck`.
    """
    if reference is None:
        reference = keras_outputs(keras_model, x)
    checks = {}
    for rt in runtimes:
        try:
            outs = run_litert(model_path, x, rt, output_names=keras_model.output_names)
        except (RuntimeError, ValueError) as e:
            checks[rt] = RuntimeCheck(rt, loaded=False, error=" ".join(str(e).split()).rstrip("."))
            continue
        err, top1, finite = compare(reference, outs)
        checks[rt] = RuntimeCheck(rt, True, None, err, top1, finite)
    return checks


def _kernels(layer):
    """``[(weight name, TFLite op, kernel in the layout TFLite stores it in)]`` of one Keras layer."""
    L = keras.layers
    if isinstance(layer, L.SeparableConv2D):  # a DEPTHWISE_CONV_2D then a 1x1 CONV_2D
        return _kernels_of(layer, ("depthwise_kernel", "DEPTHWISE_CONV_2D"), ("pointwise_kernel", "CONV_2D"))
    if isinstance(layer, L.DepthwiseConv2D):
        return _kernels_of(layer, ("depthwise_kernel", "DEPTHWISE_CONV_2D"))
    if isinstance(layer, L.Conv2DTranspose):
        return _kernels_of(layer, ("kernel", "TRANSPOSE_CONV"))
    if isinstance(layer, L.Conv2D):
        return _kernels_of(layer, ("kernel", "CONV_2D"))
    if isinstance(layer, L.Conv1D) and not isinstance(layer, L.Conv1DTranspose):
        return _kernels_of(layer, ("kernel", "CONV_2D"))
    if isinstance(layer, L.Dense):
        return _kernels_of(layer, ("kernel", "FULLY_CONNECTED"))
    return []


def _kernels_of(layer, *weights):
    out = []
    for name, op in weights:
        k = np.asarray(getattr(layer, name).numpy())
        if op == "FULLY_CONNECTED":
            k = k.T if k.ndim == 2 else None
        elif name == "depthwise_kernel":  # (h, w, in, multiplier) -> (1, h, w, in * multiplier)
            k = k.reshape(k.shape[0], k.shape[1], -1)[None]
        elif op == "TRANSPOSE_CONV":  # (h, w, out, in) -> (out, h, w, in)
            k = np.transpose(k, (2, 0, 1, 3))
        elif k.ndim == 3:  # Conv1D (w, in, out) -> (out, 1, w, in)
            k = np.transpose(k, (2, 0, 1))[:, None]
        else:  # Conv2D and pointwise (h, w, in, out) -> (out, h, w, in)
            k = np.transpose(k, (3, 0, 1, 2))
        if k is not None:
            out.append((name, op, k))
    return out


def _named_after(tensor_name, path):
    """True if a tensor name of the file (``"model/block/conv/Conv2D"``, several joined by ``;``
    after fusion) comes from the layer at ``path`` (``"block/conv"``) under the root model's name."""
    want = path.split("/")
    return any(part.split("/")[1 : 1 + len(want)] == want for part in tensor_name.split(";"))


def _pair(entries, weights):
    """``{entry index: weight index}``: each Keras kernel to its weight in the file.

    By layer identity first: the converter names a weight after the Keras layer that holds it, so
    a weight of the right operator type and shape named after the layer is taken. Kernels whose
    weight lost its name (fused, quantized or last) then take, in model order, the first weight
    of their operator type and shape, in execution order, that is named after no layer.
    """
    pairs, used = {}, set()
    for e, (path, _, op, k) in enumerate(entries):
        for i, w in enumerate(weights):
            if i not in used and w.op == op and tuple(w.shape) == k.shape and _named_after(w.name, path):
                pairs[e] = i
                used.add(i)
                break
    paths = {path for path, *_ in entries}
    anonymous = [i for i, w in enumerate(weights) if not any(_named_after(w.name, p) for p in paths)]
    for e, (_, _, op, k) in enumerate(entries):
        if e in pairs:
            continue
        for i in anonymous:
            if i not in used and weights[i].op == op and tuple(weights[i].shape) == k.shape:
                pairs[e] = i
                used.add(i)
                break
    return pairs


def layer_zeros(keras_model, model_path):
    """Pair each Keras kernel with its weight in the file and compare their zeros.

    Kernels of Dense, Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D and SeparableConv2D (its
    depthwise and pointwise kernels) are paired with the weights of FULLY_CONNECTED / CONV_2D /
    TRANSPOSE_CONV / DEPTHWISE_CONV_2D operators by layer identity (the weight's name in the file,
    then the operator type and shape in execution order for weights that lost the layer's name),
    never by shape alone. Batch-norm folding rescales a kernel but keeps its zeros, so zeros are
    compared, not values.

    Returns:
        list of :class:`LayerZeros` for the kernels that were matched, in model order.
    """
    weights = flatbuffer.weight_tensors(model_path)
    entries = [(path, name, op, k) for path, layer in layers.iter_layers(keras_model)
               for name, op, k in _kernels(layers.unwrap(layer))]
    pairs = _pair(entries, weights)
    rows = []
    for e, (path, name, _, k) in enumerate(entries):
        if e not in pairs:
            continue
        w = weights[pairs[e]]
        kz, wz = k == 0, w.values == 0
        rows.append(
            LayerZeros(
                layer=path,
                op=w.op,
                size=int(k.size),
                keras_zeros=int(kz.sum()),
                tflite_zeros=int(wz.sum()),
                zeros_kept=bool(np.all(wz[kz])),
                sparse=w.sparse,
                block=w.block,
                densified=w.densified,
                weight=name,
            )
        )
    return rows
