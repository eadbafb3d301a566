"""Pruning-at-initialisation scorers: ``(model, data or None, **options) -> {key: scores}``.

Every scorer returns an ordered ``{"layer/weight": np.ndarray}`` with the keys and shapes of
:func:`tfprune.targets.prunable_weights` (minus ``exclude``), and leaves the model's weights and
training state untouched (inference-mode passes under ``tf.GradientTape``; SynFlow works on a
clone).

=============  ============  =====================================================================
name           data          score (keep the largest unless noted)
=============  ============  =====================================================================
``magnitude``  no            ``|w|``
``random``     no            uniform [0, 1) with ``seed``
``snip``       yes           ``|dL/dw * w|`` (Lee et al. 2019)
``grasp``      yes           ``-w * Hg``, logits / 200 -- prune the LARGEST (Wang et al. 2020)
``synflow``    no            ``|w * dR/dw|`` of the |w| network, iterative (Tanaka et al. 2020)
=============  ============  =====================================================================

Example::

    scorer = tfprune.scoring.get("snip")
    scores = scorer(model, tfprune.data.load("digits"))
"""

from tfprune.scoring.grasp import grasp_scores
from tfprune.scoring.magnitude import magnitude_scores
from tfprune.scoring.random import random_scores
from tfprune.scoring.snip import snip_scores
from tfprune.scoring.synflow import SynFlowScorer, synflow_scores

SCORERS = {
    "magnitude": magnitude_scores,
    "random": random_scores,
    "snip": snip_scores,
    "grasp": grasp_scores,
    "synflow": synflow_scores,
}
#: Scorers that need a data batch.
NEEDS_DATA = frozenset({"snip", "grasp"})
#: Scorers whose LARGEST scores are pruned (the others keep the largest).
PRUNES_LARGEST = frozenset({"grasp"})


def get(name):
    """The scorer called ``name``; a ValueError listing the choices otherwise."""
    if not isinstance(name, str) or name not in SCORERS:
        raise ValueError(f"score={name!r}: unknown scorer; choose one of {sorted(SCORERS)}")
    return SCORERS[name]


__all__ = [
    "NEEDS_DATA",
    "PRUNES_LARGEST",
    "SCORERS",
    "SynFlowScorer",
    "get",
    "grasp_scores",
    "magnitude_scores",
    "random_scores",
    "snip_scores",
    "synflow_scores",
]
