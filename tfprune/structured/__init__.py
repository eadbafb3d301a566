"""Structured pruning: remove whole neurons and filters, making the model physically smaller.

* :func:`channel_groups` -- the channels that must be removed together (residual Adds tie them);
* :func:`surgery` -- a narrower tf_keras model from a channel selection (:class:`Selection`);
* :func:`masked_model` -- the same function at full width, for comparison;
* :func:`count_params`, :func:`count_flops` -- the report's counts.

Reference: Ye et al., "Good subnetworks provably exist: pruning via greedy forward selection",
ICML 2020. See ``docs/structured.md``.
"""

from tfprune.structured.counting import count_flops, count_params
from tfprune.structured.graph import ChannelGroup, channel_groups
from tfprune.structured.surgery import Selection, masked_model, surgery

__all__ = [
    "ChannelGroup",
    "Selection",
    "channel_groups",
    "count_flops",
    "count_params",
    "masked_model",
    "surgery",
]
