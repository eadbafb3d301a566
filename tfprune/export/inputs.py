"""The model's input signature, and input batches checked against it (shape and dtype kept)."""

import numpy as np


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
    return x
