"""Model surgery: a physically narrower tf_keras model from a channel selection.

For every channel group (see :mod:`tfprune.structured.graph`) a :class:`Selection` keeps some
channels, each with a *scale* that multiplies the input weights of every Dense/Conv layer that
reads the channel (the selection weights of greedy forward selection, Ye et al. ICML 2020, are
folded into the next layer this way). Producers lose their other output channels; BatchNorm,
DepthwiseConv2D, pooling, Flatten (rows ``p * C + c`` of the next Dense), Concatenate and the
merges of coupled groups follow. The result is a plain tf_keras model: it trains, saves as
``.keras`` and reloads with no custom objects.

:func:`masked_model` builds the same function at the original width (the removed channels'
input weights zero, the scales folded) for comparison.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from tfprune._validate import is_int, is_real
from tfprune.structured import graph


@dataclasses.dataclass(frozen=True, eq=False)
class Selection:
    """Channels kept in one group (sorted, distinct) and the scale of each (default 1).

    ``Selection.from_picks(picks, width)`` turns a greedy path (a multiset of picks) into
    indices and scales ``width * count / len(picks)``: a channel picked twice weighs twice.
    """

    indices: np.ndarray
    scale: np.ndarray | None = None

    def __post_init__(self):
        raw = np.asarray(self.indices)
        if raw.ndim != 1 or raw.size == 0 or not all(is_int(i) for i in raw.tolist()):
            raise ValueError(f"indices={self.indices!r}: must be a non-empty 1-D sequence of integers")
        indices = raw.astype(np.int64)
        if len(set(indices.tolist())) != indices.size:
            raise ValueError(f"indices={self.indices!r}: must be distinct (give a multiset as scales)")
        scale = np.ones(indices.size) if self.scale is None else np.asarray(self.scale, dtype=np.float64)
        if scale.shape != indices.shape or not np.all(np.isfinite(scale)):
            raise ValueError(f"scale={self.scale!r}: must be {indices.size} finite numbers, one per index")
        order = np.argsort(indices, kind="stable")
        object.__setattr__(self, "indices", indices[order])
        object.__setattr__(self, "scale", scale[order])

    @classmethod
    def from_picks(cls, picks: Sequence[int], width: int) -> "Selection":
        """Indices picked (with repeats) and scales ``width * count / n`` (n = number of picks)."""
        picks = list(picks)
        if not picks:
            raise ValueError("picks=[]: at least one channel must be picked")
        values, counts = np.unique(np.asarray(picks, dtype=np.int64), return_counts=True)
        return cls(values, width * counts / len(picks))

    def __len__(self) -> int:
        return int(self.indices.size)


def _as_selection(name: str, value: Any) -> Selection:
    if isinstance(value, Selection):
        return value
    if isinstance(value, (str, bytes, Mapping)) or is_real(value):
        raise TypeError(f"selection[{name!r}]={value!r}: expected a Selection or a sequence of channel indices")
    try:
        return Selection(value)
    except ValueError as err:
        raise ValueError(f"selection[{name!r}]: {err}") from None


def resolve(a: graph.Analysis, selection: Mapping[str, Any]) -> dict[int, Selection]:
    """``{root group id: Selection}`` for a user selection keyed by group or producer name."""
    if not isinstance(selection, Mapping):
        raise TypeError(f"selection={selection!r}: expected a dict {{group name: channel indices}}")
    groups = graph.groups_of(a)
    prunable = [n for n, g in groups.items() if g.prunable]
    resolved: dict[int, Selection] = {}
    for name, value in selection.items():
        try:
            gid = graph.root_of(a, name)
        except KeyError:
            raise ValueError(f"selection: {name!r} is not a Dense/Conv layer producing a channel group; "
                             f"prunable groups are {prunable}") from None
        group = groups[a.producers[gid][0]]
        if not group.prunable:
            raise ValueError(f"selection: group {group.name!r} cannot be pruned ({group.reason})")
        if gid in resolved:
            raise ValueError(f"selection: {name!r} names group {group.name!r} twice (layers {group.producers} "
                             "are coupled and selected together)")
        chosen = _as_selection(name, value)
        if chosen.indices[0] < 0 or chosen.indices[-1] >= group.width:
            raise ValueError(f"selection[{name!r}]: indices must be in [0, {group.width}) (the group's width), "
                             f"got {chosen.indices.tolist()}")
        resolved[gid] = chosen
    return resolved


def _plan(a: graph.Analysis, chosen: dict[int, Selection], physical: bool) -> dict[int, tuple]:
    """Per root group: (kept indices, scale of each kept index)."""
    plan = {}
    for gid in range(len(a.parent)):
        if a.find(gid) != gid:
            continue
        width = a.width[gid]
        sel = chosen.get(gid)
        if sel is None:
            plan[gid] = (np.arange(width), np.ones(width))
        elif physical:
            plan[gid] = (sel.indices, sel.scale)
        else:
            full = np.zeros(width)
            full[sel.indices] = sel.scale
            plan[gid] = (np.arange(width), full)
    return plan


def layout(a: graph.Analysis, plan: dict, info: Any) -> tuple[np.ndarray, np.ndarray]:
    """Kept positions on a tensor's last axis (into the original tensor) and their scales."""
    segments = info.segments if isinstance(info, graph.Flat) else info
    kept, scale, offset = [], [], 0
    for gid, width in segments:
        idx, s = plan[a.find(gid)]
        kept.append(offset + idx)
        scale.append(s)
        offset += width
    kept, scale = np.concatenate(kept), np.concatenate(scale)
    if isinstance(info, graph.Flat):
        kept = (np.arange(info.positions)[:, None] * offset + kept[None, :]).reshape(-1)
        scale = np.tile(scale, info.positions)
    return kept, scale


def _new_weights(a: graph.Analysis, plan: dict, node: Any, layer: Any) -> list[np.ndarray]:
    weights = layer.get_weights()
    info_in = a.info[id(node.keras_inputs[0])] if node.keras_inputs else None
    info_out = a.info[id(graph.first_output(node))]
    k = graph.node_kind(node)
    if k == "mixer":
        in_idx, in_scale = layout(a, plan, info_in)
        out_idx, _ = layout(a, plan, info_out)
        kernel = np.take(np.take(weights[0], in_idx, axis=-2), out_idx, axis=-1)
        kernel = kernel * in_scale[:, None].astype(kernel.dtype)
        return [kernel] + [np.take(w, out_idx, axis=-1) for w in weights[1:]]
    if k == "channelwise":
        idx, _ = layout(a, plan, info_in)
        return [np.take(w, idx, axis=2 if w.ndim == 4 else 0) for w in weights]
    return weights


def _rebuild(model: Any, selection: Mapping[str, Any], physical: bool) -> Any:
    from tfprune.backend import keras

    a = graph.analyse(model)
    plan = _plan(a, resolve(a, selection), physical)
    by_layer = {}

    def make(layer):
        config = layer.get_config()
        node = layer._inbound_nodes[0]
        if graph.node_kind(node) == "mixer":
            out_idx, _ = layout(a, plan, a.info[id(graph.first_output(node))])
            config["units" if "units" in config else "filters"] = int(out_idx.size)
        return layer.__class__.from_config(config)

    def after(node, new_layer):
        by_layer[id(new_layer)] = (node, node.layer)

    new = graph.replay(model, make, after=after)
    inputs = [new[id(t)] for t in model.inputs]
    outputs = [new[id(t)] for t in model.outputs]
    result = keras.Model(inputs if len(inputs) > 1 else inputs[0],
                         outputs if len(outputs) > 1 else outputs[0], name=model.name)
    for node, old in by_layer.values():
        result.get_layer(old.name).set_weights(_new_weights(a, plan, node, old))
    return result


def surgery(model: Any, selection: Mapping[str, Any]) -> Any:
    """A physically narrower copy of ``model`` keeping ``selection`` ({group: indices or Selection}).

    Keys name a prunable channel group (:func:`tfprune.structured.channel_groups`) or any Dense/Conv
    layer producing it; groups not named keep all channels. Each kept channel's scale multiplies the
    input weights of the Dense/Conv layers that read it. ``model`` is not modified.

    Example::

        small = surgery(model, {"conv1": [0, 2, 5], "dense1": Selection([1, 3], [2.0, 2.0])})
    """
    return _rebuild(model, selection, physical=True)


def masked_model(model: Any, selection: Mapping[str, Any]) -> Any:
    """A copy of ``model`` at full width computing what :func:`surgery` computes: the input weights
    of the removed channels zero and the kept channels' scales folded into their readers."""
    return _rebuild(model, selection, physical=False)
