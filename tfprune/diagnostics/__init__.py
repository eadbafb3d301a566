"""Three-regime diagnostics of pruning (Zhou, Yang, Chang, Mahoney, ICML 2023, arXiv 2305.18383).

* :func:`cka`, :func:`linear_cka` — linear CKA of two models' outputs (Kornblith et al. 2019);
* :func:`mode_connectivity` — training error on the straight line between two models, with
  BatchNorm statistics recomputed at every point, and the connectivity ``mc``;
* :func:`regime`, :class:`Thresholds`, :func:`advice` — the regime map (I, II-A, II-B) and which
  way to move a temperature-like hyperparameter;
* :func:`use_sam` — sharpness-aware minimisation (Foret et al. 2021) for tf_keras models;
* :func:`sweep` — the whole pipeline over temperatures x densities, resumable, with a phase
  diagram and a report.

Names are loaded on first use: ``regime`` and ``Thresholds`` import no TensorFlow.
See ``docs/regimes.md``.
"""

import importlib
import sys
import types

_LAZY = {
    "linear_cka": "tfprune.diagnostics.cka",
    "cka": "tfprune.diagnostics.cka",
    "mode_connectivity": "tfprune.diagnostics.connectivity",
    "recompute_batchnorm": "tfprune.diagnostics.connectivity",
    "ConnectivityResult": "tfprune.diagnostics.connectivity",
    "plot_connectivity": "tfprune.diagnostics.plots",
    "plot_phase_diagram": "tfprune.diagnostics.plots",
    "regime": "tfprune.diagnostics.regimes",
    "advice": "tfprune.diagnostics.regimes",
    "Thresholds": "tfprune.diagnostics.regimes",
    "DEFAULT_THRESHOLDS": "tfprune.diagnostics.regimes",
    "REGIMES": "tfprune.diagnostics.regimes",
    "use_sam": "tfprune.diagnostics.sam",
    "sweep": "tfprune.diagnostics.sweep",
    "SweepResult": "tfprune.diagnostics.sweep",
    "make_trainer": "tfprune.diagnostics.trainers",
    "bn_model": "tfprune.diagnostics.trainers",
    "markdown_report": "tfprune.diagnostics.report",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'tfprune.diagnostics' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Keeps ``cka`` and ``sweep`` the functions: importing the submodule of the same name
    (``tfprune.diagnostics.cka``) sets the package attribute to the submodule otherwise."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}" and name in _LAZY:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY)
