"""Structured pruning: remove whole neurons and filters, making the model physically smaller.

* :func:`channel_groups` -- the channels that must be removed together (residual Adds tie them);
* :func:`surgery` -- a narrower tf_keras model from a channel selection (:class:`Selection`);
* :func:`masked_model` -- the same function at full width, for comparison;
* :func:`count_params`, :func:`count_flops` -- the report's counts;
* :func:`select` -- choose channels with a selector of :data:`SELECTORS` (``greedy``, ``l1``,
  ``random``), cut them out, report widths, parameters, FLOPs and accuracy before/after;
* :func:`pretraining_study` -- Wolfe et al.'s pre-training budget study (subnetwork loss vs
  pre-training iterations for several dataset sizes).

Facts of every selector: ``uses_data`` (reads the training data), ``tolerance`` (has an
accuracy-tolerance stopping rule, else it needs ``width``), ``options`` (extra keyword
arguments it accepts). A new selector is one function plus one ``register(...)``; its protocol
is in :mod:`tfprune.structured.baselines`.

Reference: Ye et al., "Good subnetworks provably exist: pruning via greedy forward selection",
ICML 2020. See ``docs/structured.md``.
"""

from tfprune.registry import Registry
from tfprune.structured.counting import count_flops, count_params
from tfprune.structured.graph import ChannelGroup, channel_groups
from tfprune.structured.pipeline import SelectReport, select
from tfprune.structured.study import StudyResult, pretraining_study
from tfprune.structured.surgery import Selection, masked_model, surgery

#: Every channel selector, with its facts (built-ins named "module:attribute", loaded on first use).
SELECTORS = Registry("selector", "method", {"uses_data": False, "tolerance": False, "options": ()})
SELECTORS.register("greedy", "tfprune.structured.greedy:selector", uses_data=True, tolerance=True,
                   options=("candidates", "batch_size", "subsample", "loss", "max_steps", "repeats", "jit_compile",
                            "finetune_steps", "learning_rate"),
                   summary="greedy forward selection (Ye et al. 2020)")
SELECTORS.register("l1", "tfprune.structured.baselines:l1", summary="largest kernel L1 norm (Li et al. 2017)")
SELECTORS.register("lamp", "tfprune.structured.baselines:lamp",
                   summary="largest summed LAMP score of the channel's weights (Lee et al. 2021)")
SELECTORS.register("random", "tfprune.structured.baselines:random", summary="uniformly random channels")

register = SELECTORS.register

__all__ = [
    "SELECTORS",
    "ChannelGroup",
    "SelectReport",
    "StudyResult",
    "Selection",
    "channel_groups",
    "count_flops",
    "count_params",
    "masked_model",
    "pretraining_study",
    "register",
    "select",
    "surgery",
]
