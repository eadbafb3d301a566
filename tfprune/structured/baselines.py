"""Baseline channel selectors under the same protocol as greedy selection.

* ``l1``: Li, Kadav, Durdanovic, Samet, Graf, "Pruning filters for efficient ConvNets", ICLR 2017:
  keep the filters (neurons) with the largest L1 norm of their kernel; for channels tied by a
  merge the norms of all producers are summed. Every group is scored on the original model at
  once (the paper's "independent" strategy).
* ``lamp``: keep the channels with the largest sum of LAMP scores (Lee et al., ICLR 2021) over
  their kernel entries -- LAMP's layer-normalised magnitude, summed per output channel.
* ``random``: keep channels drawn uniformly at random (seeded).

Both keep scale 1 (no reweighting). Protocol of every selector::

    fn(model, x, y, keep: {group: int | None}, *, tolerance, seed, progress, **options)
        -> ({group: Selection}, {group: details dict})
           or ({group: Selection}, {group: details dict}, narrow model)

The third element is for selectors that change weights on the way (greedy with
``finetune_steps``); without it ``select`` cuts the original model with the selection.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfprune.allocation.lamp import lamp_scores
from tfprune.structured import graph
from tfprune.structured.surgery import Selection


def channel_scores(model: Any, group: graph.ChannelGroup, entry_score=np.abs) -> np.ndarray:
    """Sum over the group's producers of ``entry_score(kernel)`` per output channel."""
    return sum(entry_score(model.get_layer(p).get_weights()[0]).reshape(-1, group.width).sum(axis=0)
               for p in group.producers)


def l1_norms(model: Any, group: graph.ChannelGroup) -> np.ndarray:
    """Sum over the group's producers of each output channel's kernel L1 norm."""
    return channel_scores(model, group, np.abs)


def _largest(model, keep, entry_score):
    groups = graph.channel_groups(model)
    return {name: Selection(np.argsort(-channel_scores(model, groups[name], entry_score), kind="stable")[:k])
            for name, k in keep.items()}, {}


def l1(model: Any, x: Any, y: Any, keep: dict, *, tolerance: float | None = None, seed: int = 0,
       progress: bool = True) -> tuple[dict, dict]:
    """Keep the ``keep[group]`` channels of largest kernel L1 norm (ties: lower index first)."""
    return _largest(model, keep, np.abs)


def lamp(model: Any, x: Any, y: Any, keep: dict, *, tolerance: float | None = None, seed: int = 0,
         progress: bool = True) -> tuple[dict, dict]:
    """Keep the ``keep[group]`` channels of largest summed LAMP score (ties: lower index first)."""
    return _largest(model, keep, lamp_scores)


def random(model: Any, x: Any, y: Any, keep: dict, *, tolerance: float | None = None, seed: int = 0,
           progress: bool = True) -> tuple[dict, dict]:
    """Keep ``keep[group]`` channels drawn uniformly at random with ``seed``."""
    groups = graph.channel_groups(model)
    rng = np.random.default_rng(seed)
    return {name: Selection(rng.choice(groups[name].width, size=k, replace=False)) for name, k in keep.items()}, {}
