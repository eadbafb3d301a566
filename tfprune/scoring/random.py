"""Random scores: i.i.d. uniform in [0, 1), so a global top-k keeps a uniformly random subset.

The pruning-at-init baseline every saliency has to beat (Tanaka et al. 2020; Frankle et al.,
"Pruning neural networks at initialization: why are we missing the mark?", ICLR 2021).
The scores depend only on ``seed`` and the weight shapes, never on the weight values.
"""

import collections

import numpy as np

from tfprune._validate import check_int
from tfprune.scoring import _common


def random_scores(model, data=None, *, exclude=None, seed=0):
    """``{key: uniform[0, 1) array}`` shaped like the prunable weights; ``data`` is ignored.

    Args:
      model: a built, unwrapped tf_keras model (not modified).
      data: unused; accepted for the common scorer signature.
      exclude: layer names or a predicate ``layer -> bool`` to leave out of the result.
      seed: an int; the same seed gives the same scores (layers drawn in model order).
    """
    _common.check_plain_model(model)
    found = _common.check_exclude(model, exclude)
    rng = np.random.default_rng(check_int(seed, "seed"))
    return collections.OrderedDict(
        (key, rng.random(tuple(int(d) for d in w.variable.shape))) for key, w in found.items()
    )
