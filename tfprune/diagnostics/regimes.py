"""The regime map of Zhou, Yang, Chang, Mahoney, "A three-regime model of network pruning" (ICML 2023).

Two retrained sparse models (same mask, two seeds) are compared by their mode connectivity
``mc`` and the linear CKA of their outputs:

* ``"I"``: poorly connected, ``mc < thresholds.mc`` (a barrier between the two solutions).
  Advice: increase the temperature (more epochs, larger learning rate, smaller batch, larger
  SAM rho).
* ``"II-A"``: connected but dissimilar outputs, ``cka < thresholds.cka``. Advice: decrease the
  temperature.
* ``"II-B"``: connected and similar: the regime where pruning works best. Keep the temperature.

The official code gives no numeric thresholds; tfprune's defaults (:data:`DEFAULT_THRESHOLDS`)
are ``mc < -0.02`` (a barrier higher than 2 percentage points of training error, several times
the step of one example on small training sets, so one or two flipped examples do not make a
barrier) and ``cka < 0.95`` (the logits of two retrainings of one mask explain less than 95% of
each other's centred variance structure). Both are exposed: pass your own :class:`Thresholds`.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from tfprune._validate import check_choice, is_real

#: The labels, from the least to the best connected.
REGIMES = ("I", "II-A", "II-B")


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """``mc`` below ``mc`` is regime I; otherwise ``cka`` below ``cka`` is II-A, else II-B."""

    mc: float = -0.02
    cka: float = 0.95

    def __post_init__(self):
        if not is_real(self.mc) or not -1.0 <= self.mc <= 0.0:
            raise ValueError(f"thresholds.mc={self.mc!r}: must be a number in [-1, 0] (a training-error "
                             "difference; mc < 0 means a barrier)")
        if not is_real(self.cka) or not 0.0 < self.cka <= 1.0:
            raise ValueError(f"thresholds.cka={self.cka!r}: must be a number in (0, 1]")


DEFAULT_THRESHOLDS = Thresholds()


def thresholds_from(value: Thresholds | Mapping[str, float] | None) -> Thresholds:
    """:class:`Thresholds` from an instance, a ``{"mc": ..., "cka": ...}`` mapping, or None (defaults)."""
    if value is None:
        return DEFAULT_THRESHOLDS
    if isinstance(value, Thresholds):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"mc", "cka"})
        if unknown:
            raise ValueError(f"thresholds: unknown keys {unknown}; allowed: ['cka', 'mc']")
        return Thresholds(**value)
    raise TypeError(f"thresholds={value!r}: expected a Thresholds, a mapping with 'mc' and/or 'cka', or None")


def _finite(value: Any, argument: str) -> float:
    if not is_real(value) or not math.isfinite(value):
        raise ValueError(f"{argument}={value!r}: must be a finite number")
    return float(value)


def regime(mc: float, cka: float, thresholds: Thresholds | Mapping[str, float] | None = None) -> str:
    """The regime ("I", "II-A" or "II-B") of a cell with connectivity ``mc`` and output similarity ``cka``.

    Example::

        >>> regime(-0.10, 0.99)
        'I'
        >>> regime(0.0, 0.80), regime(0.0, 0.99)
        ('II-A', 'II-B')
    """
    mc, cka = _finite(mc, "mc"), _finite(cka, "cka")
    limits = thresholds_from(thresholds)
    if mc < limits.mc:
        return "I"
    return "II-A" if cka < limits.cka else "II-B"


_ADVICE = {
    "I": ("increase", "poorly connected (a barrier between the two retrained models): train the dense "
                      "model at a higher {name} before pruning"),
    "II-A": ("decrease", "connected but with dissimilar outputs: train the dense model at a lower {name} "
                         "before pruning"),
    "II-B": ("keep", "connected with similar outputs, the regime where pruning works best: keep the {name}"),
}


def direction(label: str) -> str:
    """Which way to move the temperature from regime ``label``: "increase", "decrease" or "keep"."""
    return _ADVICE[check_choice(label, "label", REGIMES)][0]


def advice(label: str, temperature_name: str = "temperature") -> str:
    """One sentence of advice for regime ``label`` (from I: increase the temperature; from II-A:
    decrease it; II-B: keep it), naming the hyperparameter ``temperature_name``."""
    check_choice(label, "label", REGIMES)
    if not isinstance(temperature_name, str) or not temperature_name:
        raise ValueError(f"temperature_name={temperature_name!r}: must be a non-empty string")
    return f"Regime {label}: " + _ADVICE[label][1].format(name=temperature_name) + "."
