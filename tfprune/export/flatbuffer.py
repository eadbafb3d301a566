"""Read what a ``.tflite`` file holds: its operators and its weights, sparse tensors decoded.

TFLite stores a sparse constant in the TACO-style format of the TFLite schema
(``SparsityParameters``): a traversal order over the original dimensions plus
optional block dimensions, and per level either a DENSE size or a SPARSE_CSR pair
(``array_segments``, ``array_indices``). :func:`decode_sparse` rebuilds the dense
array from it in numpy, following ``tflite::internal::sparsity::FormatConverter``,
so zero counts can be read straight from the file, independently of any runtime.

Only the parsing helpers of ``ai_edge_litert.tools.flatbuffer_utils`` are used; no
interpreter is created here.

Example:
    >>> info = read_tflite("model.tflite")                      # doctest: +SKIP
    >>> op_names(info)                                          # doctest: +SKIP
    ['RESHAPE', 'FULLY_CONNECTED', 'FULLY_CONNECTED']
"""

import dataclasses
import os

import numpy as np
from ai_edge_litert import schema_py_generated as _schema
from ai_edge_litert.tools import flatbuffer_utils as _fb

_DTYPES = {
    _schema.TensorType.FLOAT32: np.float32,
    _schema.TensorType.FLOAT16: np.float16,
    _schema.TensorType.INT32: np.int32,
    _schema.TensorType.UINT8: np.uint8,
    _schema.TensorType.INT64: np.int64,
    _schema.TensorType.INT16: np.int16,
    _schema.TensorType.INT8: np.int8,
    _schema.TensorType.FLOAT64: np.float64,
}
_SPARSE_CSR = _schema.DimensionType.SPARSE_CSR

# Operators whose input 1 is a weight tensor, and operators that only unpack a constant.
WEIGHT_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_3D", "TRANSPOSE_CONV")
_UNPACK_OPS = ("DENSIFY", "DEQUANTIZE")


@dataclasses.dataclass
class WeightTensor:
    """The weight of one FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D operator, read from the file.

    Attributes:
        op: operator name, e.g. ``"FULLY_CONNECTED"``.
        op_index: position of the operator in subgraph 0's execution order.
        name: the constant tensor's name in the file.
        shape: dense shape in TFLite layout (Dense: ``(out, in)``; Conv2D: ``(out, h, w, in)``;
            DepthwiseConv2D: ``(1, h, w, channels)``).
        dtype: stored element type (``"FLOAT32"``, ``"FLOAT16"``, ``"INT8"``...).
        sparse: True if stored with sparsity parameters.
        block: block shape of the sparse encoding (``()`` when not blocked).
        densified: True if a DENSIFY operator expands it at load time (no native sparse kernel).
        values: dense, dequantized float32 array (quantized ``q`` becomes ``scale * (q - zero_point)``).
    """

    op: str
    op_index: int
    name: str
    shape: tuple
    dtype: str
    sparse: bool
    block: tuple
    densified: bool
    values: np.ndarray

    @property
    def size(self):
        """The number of entries."""
        return int(self.values.size)

    @property
    def zeros(self):
        """The number of entries equal to zero (after dequantization)."""
        return int(np.count_nonzero(self.values == 0))


def read_tflite(model):
    """Parse a ``.tflite`` file (path) or its bytes into the schema's object API (``ModelT``)."""
    if isinstance(model, _schema.ModelT):
        return model
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            model = f.read()
    if not isinstance(model, (bytes, bytearray)):
        raise TypeError(f"model={type(model).__name__}: expected a path, bytes or a parsed ModelT")
    return _fb.read_model_from_bytearray(bytearray(model))


def op_names(model):
    """Operator names of every subgraph, in execution order (e.g. ``['DENSIFY', 'CONV_2D', ...]``)."""
    m = read_tflite(model)
    names = []
    for sg in m.subgraphs:
        for op in sg.operators or []:
            name = _fb.opcode_to_name(m, op.opcodeIndex)
            if name is None or name == "CUSTOM":
                code = m.operatorCodes[op.opcodeIndex].customCode
                name = f"CUSTOM:{code.decode() if isinstance(code, bytes) else code}"
            names.append(name)
    return names


def _vector(v):
    if v is None:
        return np.zeros(0, np.int64)
    return np.asarray(v.values if hasattr(v, "values") else v, dtype=np.int64)


def _buffer_array(m, tensor):
    data = m.buffers[tensor.buffer].data if tensor.buffer < len(m.buffers) else None
    if data is None or len(data) == 0:
        return None
    dtype = _DTYPES.get(tensor.type)
    if dtype is None:
        return None
    return np.frombuffer(bytes(bytearray(data)), dtype=np.dtype(dtype).newbyteorder("<"))


def decode_sparse(values, shape, sparsity):
    """Rebuild the dense array of a sparse TFLite constant.

    Args:
        values: 1-D array of the stored values, in storage order.
        shape: the dense shape of the tensor.
        sparsity: the tensor's ``SparsityParametersT``.

    Returns:
        A dense array of ``shape`` with ``values`` at their positions and zeros elsewhere.
    """
    shape = tuple(int(s) for s in shape)
    rank = len(shape)
    order = [int(t) for t in sparsity.traversalOrder]
    block_map = [int(b) for b in (sparsity.blockMap if sparsity.blockMap is not None else [])]
    levels = sparsity.dimMetadata
    block_size = [int(levels[rank + k].denseSize) for k in range(len(block_map))]

    # Expand level by level: `pos` is the storage position reached in the current level,
    # `idx[:, l]` the index chosen at level l.
    pos = np.zeros(1, np.int64)
    idx = np.zeros((1, 0), np.int64)
    for dm in levels:
        if dm.format == _SPARSE_CSR:
            seg = _vector(dm.arraySegments)
            ind = _vector(dm.arrayIndices)
            lengths = seg[pos + 1] - seg[pos]
            starts = np.repeat(seg[pos], lengths)
            offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            new_pos = starts + offsets
            idx = np.concatenate([np.repeat(idx, lengths, axis=0), ind[new_pos][:, None]], axis=1)
            pos = new_pos
        else:
            n = int(dm.denseSize)
            new_pos = (pos[:, None] * n + np.arange(n)[None, :]).ravel()
            idx = np.concatenate(
                [np.repeat(idx, n, axis=0), np.tile(np.arange(n), len(pos))[:, None]], axis=1
            )
            pos = new_pos
    if len(pos) != len(values):
        raise ValueError(f"sparse tensor: {len(pos)} positions for {len(values)} stored values")
    coords = np.zeros((len(pos), rank), np.int64)
    for level in range(rank):
        coords[:, order[level]] = idx[:, level]
    for level in range(rank, len(order)):
        k = order[level] - rank
        d = block_map[k]
        coords[:, d] = coords[:, d] * block_size[k] + idx[:, level]
    dense = np.zeros(shape, dtype=values.dtype)
    if len(values):
        dense[tuple(coords.T)] = values
    return dense


def _dequantize(array, q):
    if q is None or q.scale is None or len(q.scale) == 0 or array.dtype.kind == "f":
        return array.astype(np.float32)
    scale = np.asarray(q.scale, np.float32)
    zero = np.asarray(q.zeroPoint if q.zeroPoint is not None else [0], np.float32)
    if scale.size > 1:
        axis = int(q.quantizedDimension)
        bshape = [1] * array.ndim
        bshape[axis] = -1
        scale = scale.reshape(bshape)
        zero = zero.reshape(bshape) if zero.size > 1 else zero
    return (scale * (array.astype(np.float32) - zero)).astype(np.float32)


def weight_tensors(model):
    """The weight of each FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D... operator of subgraph 0.

    The weight is followed back through DENSIFY and DEQUANTIZE operators to the constant
    stored in the file, decoded if sparse, and dequantized.

    Returns:
        list of :class:`WeightTensor`, in execution order.
    """
    m = read_tflite(model)
    sg = m.subgraphs[0]
    names = [_fb.opcode_to_name(m, op.opcodeIndex) for op in sg.operators]
    producer = {}
    for i, op in enumerate(sg.operators):
        for t in op.outputs or []:
            producer[t] = i
    out = []
    for i, op in enumerate(sg.operators):
        if names[i] not in WEIGHT_OPS or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        t = op.inputs[1]
        densified = False
        while t in producer and names[producer[t]] in _UNPACK_OPS:
            densified |= names[producer[t]] == "DENSIFY"
            t = sg.operators[producer[t]].inputs[0]
        tensor = sg.tensors[t]
        raw = _buffer_array(m, tensor)
        if raw is None:
            continue  # a runtime input, not a constant
        shape = tuple(int(s) for s in tensor.shape)
        block = ()
        if tensor.sparsity is not None:
            dense = decode_sparse(raw, shape, tensor.sparsity)
            levels = tensor.sparsity.dimMetadata
            block = tuple(int(levels[len(shape) + k].denseSize) for k in range(len(levels) - len(shape)))
        else:
            dense = raw.reshape(shape)
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        out.append(
            WeightTensor(
                op=names[i],
                op_index=i,
                name=name,
                shape=shape,
                dtype=_fb.type_to_name(tensor.type),
                sparse=tensor.sparsity is not None,
                block=block,
                densified=densified,
                values=_dequantize(dense, tensor.quantization),
            )
        )
    return out
