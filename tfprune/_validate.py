"""The one copy of tfprune's argument checks. Each error names the argument, the value and
what is allowed. Nothing here imports TensorFlow."""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable


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
