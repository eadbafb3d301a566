"""Objectives a deployer needs: the best accuracy subject to a minimum sparsity or a maximum size.

:class:`Constrained` turns a bounded "higher is better" metric ``m`` (accuracy, AUC, ... in
[0, 1]) and the constraints into one score the oracle maximises:

.. math::

    \\text{score} = \\begin{cases} m & \\text{feasible} \\\\
                                  m - 1 - v & \\text{otherwise} \\end{cases}
    \\qquad v = \\frac{\\max(0, s_{min} - s)}{s_{min}} + \\frac{\\max(0, b - b_{max})}{b_{max}}

where ``s`` is the trial's achieved sparsity and ``b`` its size in KB. A trial is feasible when
``s >= s_min - 1/n`` (``n`` prunable weights: the target is met to within one weight, as every
allocation guarantees) and ``b <= b_max``. Feasible scores lie in [0, 1]; infeasible ones are
< 0 (``v > 0``), so an infeasible trial never outranks a feasible one, while the penalty still
orders infeasible trials by how far they miss (useful to Bayesian optimisation). The tuner
also filters infeasible trials out of ``get_best_models`` / ``get_best_hyperparameters``.

Size: by default :func:`estimate_size_bytes`, a sparse-storage estimate of the model's weights
(see there; fast, no conversion); with ``size="tflite"`` the size of the ``.tflite`` file that
``tfprune.export.to_tflite(model, path, sparse=True)`` writes for the stripped model (float32,
TFLite's sparse weight encoding; one conversion per trial, seconds). ``1 KB = 1024 bytes``.
"""

import math
import numbers
import os
import tempfile

import numpy as np

from tfprune import layers
from tfprune.backend import PruneLowMagnitude

#: Names of the metrics every trial reports besides the model's own.
SPARSITY = "sparsity"
SIZE_KB = "size_kb"
FEASIBLE = "feasible"

SIZE_METHODS = ("estimate", "tflite")


def _index_bytes(columns):
    if columns <= 2**8:
        return 1
    if columns <= 2**16:
        return 2
    return 4


def weight_size_bytes(array, sparse):
    """Bytes to store one weight array: dense float32, or CSR when ``sparse`` and smaller.

    CSR of the array seen as ``rows = prod(shape[:-1])`` x ``cols = shape[-1]``:
    ``4 * nnz`` (float32 values) + ``k * nnz`` column indices (``k`` = 1, 2 or 4 bytes, the
    smallest unsigned type holding ``cols``) + ``4 * (rows + 1)`` row pointers. The smaller of
    dense and CSR is counted, as a storage format would choose.
    """
    array = np.asarray(array)
    dense = 4 * int(array.size)
    if not sparse or array.ndim == 0:
        return dense
    columns = int(array.shape[-1]) if array.ndim else 1
    rows = int(array.size // max(columns, 1))
    nnz = int(np.count_nonzero(array))
    csr = 4 * nnz + _index_bytes(columns) * nnz + 4 * (rows + 1)
    return min(dense, csr)


def estimate_size_bytes(model):
    """Estimated bytes of ``model``'s weights stored sparsely (masks applied).

    Prunable weights (see :mod:`tfprune.layers`) are counted with :func:`weight_size_bytes`
    (CSR when smaller than dense); all other weights (biases, BatchNorm, ...) dense float32.
    TF-MOT's bookkeeping variables (masks, thresholds, pruning step) are not counted. Graph
    and file-format overhead are not included.
    """
    skip = set()
    total = 0
    for weight in layers.prunable(model).values():
        skip.add(id(weight.variable))
        total += weight_size_bytes(weight.value(), sparse=True)
    for layer in layers.prunable_layers(model).values():
        if isinstance(layer, PruneLowMagnitude):
            for _, mask, threshold in layer.pruning_vars:
                skip.update((id(mask), id(threshold)))
            skip.add(id(layer.pruning_step))
    for variable in model.weights:
        if id(variable) in skip:
            continue
        name = variable.name
        if any(tag in name for tag in ("/mask:", "/threshold:", "/pruning_step:")):
            continue
        total += 4 * int(np.prod(variable.shape))
    return total


def model_size_kb(model, method="estimate"):
    """Size of ``model`` in KB (1024 bytes) by ``method`` ("estimate" or "tflite")."""
    if method == "estimate":
        return estimate_size_bytes(model) / 1024.0
    if method == "tflite":
        return tflite_size_bytes(model) / 1024.0
    raise ValueError(f"size={method!r}: choose one of {list(SIZE_METHODS)}")


def tflite_available():
    try:
        from tfprune import export  # noqa: F401
    except ImportError:
        return False
    return hasattr(export, "to_tflite")


def tflite_size_bytes(model):
    """File size of the stripped model exported by ``tfprune.export.to_tflite``."""
    if not tflite_available():
        raise ValueError(
            "size='tflite': tfprune.export.to_tflite is not available in this installation; use size='estimate'"
        )
    from tfprune import export
    from tfprune.pruning import is_pruned, strip

    plain = strip(model) if is_pruned(model) else model
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.tflite")
        result = export.to_tflite(plain, path, sparse=True, dense_reference=False)
        for attribute in ("bytes_raw", "size_bytes", "file_size"):
            value = getattr(result, attribute, None)
            if isinstance(value, numbers.Integral):
                return int(value)
        return os.path.getsize(path)


class Constrained:
    """Maximise ``metric`` subject to ``sparsity >= min_sparsity`` and/or ``size_kb <= max_size_kb``.

    Args:
      metric: name of a logged metric in [0, 1] where higher is better (default ``val_accuracy``).
      min_sparsity: in (0, 1), or None.
      max_size_kb: > 0, or None.

    ``name`` is the objective the oracle sees: ``"constrained_" + metric`` (direction max).
    """

    def __init__(self, metric="val_accuracy", min_sparsity=None, max_size_kb=None):
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric={metric!r}: must be the name of a logged metric, e.g. 'val_accuracy'")
        if min_sparsity is None and max_size_kb is None:
            raise ValueError("Constrained: give min_sparsity (in (0, 1)) and/or max_size_kb (> 0)")
        if min_sparsity is not None:
            if (
                isinstance(min_sparsity, bool)
                or not isinstance(min_sparsity, numbers.Real)
                or not 0.0 < min_sparsity < 1.0
            ):
                raise ValueError(f"min_sparsity={min_sparsity!r}: must be a number in (0, 1)")
            min_sparsity = float(min_sparsity)
        if max_size_kb is not None:
            if (
                isinstance(max_size_kb, bool)
                or not isinstance(max_size_kb, numbers.Real)
                or not (math.isfinite(max_size_kb) and max_size_kb > 0)
            ):
                raise ValueError(f"max_size_kb={max_size_kb!r}: must be a positive number")
            max_size_kb = float(max_size_kb)
        self.metric = metric
        self.min_sparsity = min_sparsity
        self.max_size_kb = max_size_kb

    @property
    def name(self):
        """The objective's name in Keras Tuner's logs: ``constrained_<metric>``."""
        return "constrained_" + self.metric

    @property
    def direction(self):
        """Always ``"max"``: a constraint violation scores below every feasible trial."""
        return "max"

    def describe(self):
        """The objective in words, e.g. ``max val_accuracy subject to sparsity >= 0.8``."""
        parts = []
        if self.min_sparsity is not None:
            parts.append(f"sparsity >= {self.min_sparsity:g}")
        if self.max_size_kb is not None:
            parts.append(f"size <= {self.max_size_kb:g} KB")
        return f"max {self.metric} subject to " + " and ".join(parts)

    def __repr__(self):
        return (
            f"Constrained(metric={self.metric!r}, min_sparsity={self.min_sparsity!r}, "
            f"max_size_kb={self.max_size_kb!r})"
        )

    def evaluate(self, value, sparsity, size_kb=None, prunable_params=None):
        """``(score, feasible, violation)`` for a trial; see the module docstring.

        ``prunable_params`` sets the one-weight tolerance on ``min_sparsity`` (none when None).
        A NaN ``value`` (diverged training) gives a NaN score, which Keras Tuner records as an
        invalid trial.
        """
        value = float(value)
        if math.isnan(value):
            return math.nan, False, math.nan
        if not (math.isfinite(value) and -1e-6 <= value <= 1.0 + 1e-6):
            raise ValueError(
                f"{self.metric}={value!r}: a constrained objective needs a metric in [0, 1] where higher "
                "is better (accuracy, AUC, ...)"
            )
        violation = 0.0
        feasible = True
        if self.min_sparsity is not None:
            tolerance = 1.0 / prunable_params if prunable_params else 0.0
            if sparsity < self.min_sparsity - tolerance:
                feasible = False
                violation += (self.min_sparsity - sparsity) / self.min_sparsity
        if self.max_size_kb is not None:
            if size_kb is None:
                raise ValueError("size_kb=None: a max_size_kb constraint needs the trial's size")
            if size_kb > self.max_size_kb:
                feasible = False
                violation += (size_kb - self.max_size_kb) / self.max_size_kb
        if feasible:
            return value, True, 0.0
        # violation > 0 here, so the score is < 0 <= any feasible score.
        return value - 1.0 - violation, False, violation


def check_reachable(constraint, spec):
    """Fail before the first trial when the constraint's ``min_sparsity`` is above every sparsity the
    search samples (``spec``: a normalised sparsity spec of :class:`~tfprune.tuning.PruningHyperModel`)."""
    if constraint is None or constraint.min_sparsity is None:
        return
    highest = spec[1] if spec[0] == "fixed" else max(spec[1]) if spec[0] == "choice" else spec[2]
    if constraint.min_sparsity > highest:
        raise ValueError(
            f"min_sparsity={constraint.min_sparsity!r}: no trial can reach it; the search samples sparsity "
            f"up to {highest!r}"
        )
