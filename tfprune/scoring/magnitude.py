"""Magnitude at initialisation: ``score = |w|`` (the baseline of the pruning-at-init papers).

Example::

    scores = tfprune.scoring.magnitude_scores(model)   # {"dense/kernel": |W|, ...}
"""

import collections

import numpy as np

from tfprune.scoring import _common


def magnitude_scores(model, data=None, *, exclude=None):
    """``{key: |w|}`` for the prunable weights of ``model``; ``data`` is ignored.

    Args:
      model: a built, unwrapped tf_keras model (not modified).
      data: unused (magnitude is data-free); accepted for the common scorer signature.
      exclude: layer names or a predicate ``layer -> bool`` to leave out of the result.
    """
    _common.check_plain_model(model)
    found = _common.check_exclude(model, exclude)
    return collections.OrderedDict((key, np.abs(w.variable.numpy())) for key, w in found.items())
