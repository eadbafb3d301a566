"""Pruning-at-initialisation scorers: ``(model, data or None, **options) -> {key: scores}``.

Every scorer returns an ordered ``{"layer/weight": np.ndarray}`` with the keys and shapes of
:func:`tfprune.layers.prunable_weights` (minus ``exclude``), and leaves the model's weights and
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
``sbp-si``     yes           SNIP on an Edge-of-Chaos initialisation, then rescaling (Hayou et al.)
=============  ============  =====================================================================

Facts every entry of :data:`SCORERS` carries (read by ``prune_at_init``, the CLI and the tuner):
``needs_data``, ``seeded`` (takes ``seed=``), ``prunes_largest``, ``init`` (``"module:function"`` of an
initialiser ``(model, activation, seed) -> activation`` applied to the working copy first, or None), ``rescale`` (rescaling after
masking by default) and ``runner`` (``"module:function"`` of a method that chooses its own
masks over several rounds, or None). A new scorer is one file plus one registration::

    @tfprune.scoring.register("my-score", needs_data=False)
    def my_scores(model, data=None, *, exclude=None): ...

The scorer modules (TensorFlow) are imported on first use.
"""

from __future__ import annotations

from typing import Callable

from tfprune.registry import Entry, Registry

#: Every scorer, with its facts.
SCORERS = Registry(
    "scorer", "score",
    {"needs_data": False, "seeded": False, "prunes_largest": False, "init": None, "rescale": False,
     "runner": None},
)
SCORERS.register("magnitude", "tfprune.scoring.magnitude:magnitude_scores", summary="|w|")
SCORERS.register("random", "tfprune.scoring.random:random_scores", seeded=True,
                 summary="uniform [0, 1) scores, reproducible with seed")
SCORERS.register("snip", "tfprune.scoring.snip:snip_scores", needs_data=True, seeded=True,
                 summary="|dL/dw * w| on a class-balanced batch (Lee et al. 2019)")
SCORERS.register("grasp", "tfprune.scoring.grasp:grasp_scores", needs_data=True, seeded=True,
                 prunes_largest=True, summary="-w * Hg, largest pruned (Wang et al. 2020)")
SCORERS.register("synflow", "tfprune.scoring.synflow:synflow_scores", runner="tfprune.scoring.synflow:run",
                 summary="iterative synaptic flow, data-free (Tanaka et al. 2020)")
SCORERS.register("sbp-si", "tfprune.scoring.snip:snip_scores", needs_data=True, seeded=True,
                 init="tfprune.scoring.sbp_si:initialise", rescale=True,
                 summary="Edge-of-Chaos init, SNIP, mask, rescaling (Hayou et al. 2021)")

register = SCORERS.register

#: Scorers that need a data batch (read from the registry's facts).
NEEDS_DATA = frozenset(SCORERS.names(needs_data=True))
#: Scorers whose LARGEST scores are pruned.
PRUNES_LARGEST = frozenset(SCORERS.names(prunes_largest=True))


def get(name: str) -> Callable:
    """The scorer function called ``name``; a ValueError listing the choices otherwise."""
    return SCORERS.get(name).load()


def entry(score: str | Callable) -> Entry:
    """The registry entry of a name or a scorer function (unregistered: default facts)."""
    return SCORERS.resolve(score)


_LAZY = {
    "grasp_scores": "tfprune.scoring.grasp",
    "magnitude_scores": "tfprune.scoring.magnitude",
    "random_scores": "tfprune.scoring.random",
    "snip_scores": "tfprune.scoring.snip",
    "synflow_scores": "tfprune.scoring.synflow",
    "SynFlowScorer": "tfprune.scoring.synflow",
}


_SUBMODULES = ("grasp", "magnitude", "random", "sbp_si", "snip", "synflow")


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"tfprune.scoring.{name}")
    raise AttributeError(f"module 'tfprune.scoring' has no attribute {name!r}")


__all__ = ["NEEDS_DATA", "PRUNES_LARGEST", "SCORERS", "entry", "get", "register", *_LAZY]
