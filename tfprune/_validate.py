"""The one copy of tfprune's argument checks. Each error names the argument, the value and
what is allowed. Nothing here imports TensorFlow."""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np


def is_int(value: Any) -> bool:
    """True for Python/NumPy integers (not bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """True for finite or infinite real numbers (not bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(value: Any, argument: str, minimum: int | None = None, maximum: int | None = None,
              allow_none: bool = False) -> int | None:
    """``value`` as int, or a ValueError naming ``argument`` and the allowed range."""
    if value is None and allow_none:
        return None
    ok = is_int(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        if minimum is not None and maximum is not None:
            allowed = f"an integer in [{minimum}, {maximum}]"
        elif minimum is not None:
            allowed = f"an integer >= {minimum}"
        elif maximum is not None:
            allowed = f"an integer <= {maximum}"
        else:
            allowed = "an int"
        raise ValueError(f"{argument}={value!r}: must be {allowed}" + (" or None" if allow_none else ""))
    return int(value)


def check_sparsity(sparsity: Any, argument: str = "sparsity") -> float:
    """``sparsity`` as float, or an error: it must be a number in [0, 1) (the fraction removed)."""
    if not is_real(sparsity):
        raise TypeError(f"{argument}={sparsity!r}: expected a number in [0, 1)")
    value = float(sparsity)
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"{argument}={sparsity!r}: must be in [0, 1) (the fraction of weights removed)")
    return value


def check_choice(value: Any, argument: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``; a ValueError listing them otherwise."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{argument}={value!r}: must be one of {choices}")
    return value


def named(argument: str, value: Any) -> str:
    """How an error names an argument and its value: ``--option 'value'`` for a command-line
    option (or an upper-case CLI argument such as ``MODEL_PATH``), ``argument='value'`` otherwise."""
    if argument.startswith("-") or argument.isupper():
        return f"{argument} {value!r}"
    return f"{argument}={value!r}"


def num_classes(model: Any) -> int:
    """The classes a classifier's first output tells apart (one sigmoid unit: 2)."""
    units = model.outputs[0].shape[-1]
    return 2 if units == 1 else int(units)


def check_examples(model: Any, x: np.ndarray, y: np.ndarray, context: str, one_hot: bool = True) -> None:
    """A clear ValueError (``data: ...``, naming ``context``) unless ``x`` fits the model's input
    and ``y`` holds one label per example: class indices in range, or one-hot rows when ``one_hot``."""
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError("data: x and y must be arrays with a leading example axis")
    expected = tuple(model.inputs[0].shape[1:])
    got = tuple(x.shape[1:])
    if len(expected) != len(got) or any(e is not None and e != g for e, g in zip(expected, got)):
        raise ValueError(
            f"data: x has shape {tuple(x.shape)} but the model expects inputs of shape "
            f"{(None,) + expected} ({context})"
        )
    if x.shape[0] == 0:
        raise ValueError(f"data: no examples ({context})")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"data: x has {x.shape[0]} examples but y has {y.shape[0]} ({context})")
    classes = num_classes(model)
    allowed = "class indices (or one-hot rows)" if one_hot else "class indices"
    if y.ndim == 1:
        if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating) or y.dtype == bool) or \
                not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"data: y must hold integer {allowed} ({context})")
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise ValueError(
                f"data: labels range over [{int(y.min())}, {int(y.max())}] but the model has {classes} classes "
                f"({context})"
            )
    elif not (one_hot and y.ndim == 2 and y.shape[1] == model.outputs[0].shape[-1]):
        expected_y = f"({x.shape[0]},) class indices" + (
            f" or ({x.shape[0]}, {model.outputs[0].shape[-1]}) one-hot rows" if one_hot else "")
        raise ValueError(f"data: y has shape {tuple(y.shape)}; expected {expected_y} ({context})")
