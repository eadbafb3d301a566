"""The model's input signature, input batches checked against it (shape and dtype kept), and
default verification inputs that are valid for it (token ids within the vocabulary)."""

import numpy as np

from tfprune import layers
from tfprune.backend import keras


def input_signature(model):
    """``(shape without the batch dimension, numpy dtype)`` of a single-input model's input."""
    if not getattr(model, "inputs", None):
        raise ValueError("model has no defined inputs: build it with keras.Input (Sequential or functional)")
    if len(model.inputs) != 1:
        raise ValueError(f"model has {len(model.inputs)} inputs; to_tflite supports single-input models")
    tensor = model.inputs[0]
    return tuple(tensor.shape)[1:], np.dtype(tensor.dtype.as_numpy_dtype)


def _cast(x, name, dtype):
    """``x`` as the model's input dtype; integer inputs (token ids) take whole numbers only."""
    if np.issubdtype(dtype, np.integer) and not np.issubdtype(x.dtype, np.integer):
        whole = np.issubdtype(x.dtype, np.floating) and bool(np.all(np.isfinite(x) & (x == np.round(x))))
        if not whole:
            raise ValueError(
                f"{name} has dtype {x.dtype} with values that are not whole numbers; the model's input is "
                f"{dtype.name} (e.g. token ids): pass integer inputs"
            )
    return x.astype(dtype)


def as_batch(data, name, shape, dtype=np.float32):
    """Accept an array or an (x, y) pair; check it against the model's input shape, keep its dtype."""
    if data is None:
        return None
    if isinstance(data, tuple) and len(data) == 2:  # (x, y) as Splits.numpy() returns it
        data = data[0]
    try:
        x = np.asarray(data)
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            x = x.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: expected a numpy array of inputs (or an (x, y) pair): {e}") from None
    x = _cast(x, name, np.dtype(dtype))
    ok = x.ndim == len(shape) + 1 and all(s is None or s == d for s, d in zip(shape, x.shape[1:]))
    if not ok:
        want = "(N, " + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {x.shape}; the model's input needs {want}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty")
    bad = int(np.count_nonzero(~np.isfinite(x))) if np.issubdtype(x.dtype, np.floating) else 0
    if bad:
        raise ValueError(f"{name} holds {bad} NaN or infinite values (of {x.size}); give finite inputs")
    return x


def _fed_by_integer_input(layer):
    """True if an integer ``Input`` (of the model or of a sub-model) reaches ``layer``."""
    stack, seen = list(layer._inbound_nodes), set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        source = node.outbound_layer
        if isinstance(source, keras.layers.InputLayer) and source.dtype and \
                np.issubdtype(np.dtype(source.dtype), np.integer):
            return True
        stack.extend(node.parent_nodes)
    return False


def vocabulary(model):
    """The smallest ``input_dim`` of the Embedding layers fed by an integer input (None if none)."""
    sizes = [layers.unwrap(layer).input_dim for _, layer in layers.iter_layers(model)
             if isinstance(layers.unwrap(layer), keras.layers.Embedding) and _fed_by_integer_input(layer)]
    return min(sizes) if sizes else None


def default_batch(model, shape, dtype, samples, seed=0):
    """``(inputs, description)``: ``samples`` random inputs valid for the input signature.

    Float inputs are N(0, 1); integer inputs are ids drawn uniformly from ``[0, input_dim)`` of the
    Embedding layers they feed (the smallest, so every Embedding gets valid ids). Unknown
    dimensions are 1. An integer input that feeds no Embedding has no known range: ValueError.
    """
    rng = np.random.default_rng(seed)
    size = (samples,) + tuple(s or 1 for s in shape)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.integer):
        return rng.standard_normal(size).astype(dtype), f"random N(0, 1) inputs (seed {seed})"
    vocab = vocabulary(model)
    if vocab is None:
        raise ValueError(
            f"verify_data=None: the model's input is {dtype.name} and feeds no Embedding layer, so the "
            "valid input values are unknown; pass verify_data (integer inputs the model accepts)"
        )
    return rng.integers(0, vocab, size).astype(dtype), f"random ids in [0, {vocab}) (seed {seed})"
