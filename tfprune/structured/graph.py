"""Channel groups of a Functional/Sequential tf_keras model, and replaying its graph.

A *channel group* is a set of output channels that must be kept or removed together: the
output channels of one Dense/Conv layer, or of several such layers whose outputs are tied by
an elementwise merge (``Add``, ``Multiply``, ...), as in residual blocks. Channels travel
unchanged through channelwise layers (BatchNormalization, DepthwiseConv2D with
``depth_multiplier=1``, activations, pooling, dropout); ``Concatenate`` (last axis) joins the
channels of its inputs; ``Flatten`` turns ``(..., positions, C)`` into rows ``p * C + c`` of
the next Dense layer. Channels that reach a model output, come from a model input, or pass
through any other layer are *fixed* (never removed), and the group says why.

The analysis is a union-find over the tensors of the graph (Torch-Pruning's dependency
graph, Fang et al. 2023, reduced to the layers listed here).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from tfprune.backend import keras, tf
from tfprune.layers import check_model

L = keras.layers
#: Layers that mix channels: they produce a group and read (consume) the groups of their input.
MIXERS = (L.Dense, L.Conv1D, L.Conv2D, L.Conv3D)
#: Channelwise layers without weights: channels pass through unchanged.
PASSTHROUGH = (
    L.Activation, L.ReLU, L.LeakyReLU, L.ELU, L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D,
    L.GaussianNoise, L.GaussianDropout, L.AlphaDropout,
    L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.AveragePooling1D, L.AveragePooling2D,
    L.AveragePooling3D, L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalMaxPooling3D,
    L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D,
    L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D, L.Cropping1D, L.Cropping2D, L.Cropping3D,
    L.UpSampling1D, L.UpSampling2D, L.UpSampling3D,
)
#: Channelwise layers with per-channel weights (sliced by surgery, never scaled).
CHANNELWISE = (L.BatchNormalization, L.DepthwiseConv2D)
#: Elementwise merges: their inputs' channels are tied into one group.
ELEMENTWISE = (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum)


@dataclasses.dataclass(frozen=True)
class Flat:
    """The channel layout of a Flatten output: ``positions`` copies of ``segments``, row ``p*C + c``."""

    segments: tuple
    positions: int


@dataclasses.dataclass(frozen=True)
class ChannelGroup:
    """Channels removed together. ``name`` is its first producer's name (or a description).

    ``producers``: the Dense/Conv layers whose output channels form the group; ``consumers``:
    the Dense/Conv layers that read them (their input weights are sliced and scaled);
    ``prunable`` is False when ``reason`` says why the channels must all stay.
    """

    name: str
    width: int
    producers: tuple
    consumers: tuple
    prunable: bool
    reason: str = ""


def channels_last(layer: Any, rank: int) -> bool:
    """True unless the layer is ``channels_first`` or works on another axis than the last one."""
    config = layer.get_config()
    if config.get("data_format", "channels_last") != "channels_last":
        return False
    if isinstance(layer, (L.BatchNormalization, L.Concatenate)):
        axis = config.get("axis")
        axis = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        return len(axis) == 1 and axis[0] in (-1, rank - 1)
    return True


def kind(layer: Any, rank: int) -> str:
    """How a layer treats channels: mixer, passthrough, channelwise, elementwise, concat, flatten, other.

    ``rank`` is the rank of the layer's (first) input, batch axis included.
    """
    if not channels_last(layer, rank):
        return "other"
    if type(layer) in MIXERS:
        return "mixer" if layer.get_config().get("groups", 1) == 1 else "other"
    if isinstance(layer, L.DepthwiseConv2D):
        return "channelwise" if layer.depth_multiplier == 1 else "other"
    for name, classes in (("passthrough", PASSTHROUGH), ("channelwise", CHANNELWISE),
                          ("elementwise", ELEMENTWISE)):
        if isinstance(layer, classes):
            return name
    if isinstance(layer, L.Concatenate):
        return "concat"
    if isinstance(layer, L.Flatten):
        return "flatten"
    return "other"


def nodes(model: Any) -> list:
    """The model's call nodes (input layers excluded), inputs before outputs."""
    check_model(model)
    if not getattr(model, "_is_graph_network", False):
        raise TypeError(f"model: {model.name!r} has no graph yet; build it from keras.Input(...) "
                        "(a Sequential model needs an Input first) before structured pruning")
    found = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        found += [n for n in model._nodes_by_depth[depth] if not isinstance(n.layer, L.InputLayer)]
    if any(isinstance(n.layer, keras.Model) for n in found):
        raise TypeError("model: nested sub-models are not supported by structured pruning; "
                        "build the model as one flat Functional or Sequential model")
    return found


def _width(tensor: Any) -> int:
    return int(tensor.shape[-1])


class Analysis:
    """Union-find over channel groups, filled by walking the graph once (see :func:`analyse`)."""

    def __init__(self):
        self.parent: list[int] = []
        self.width: list[int] = []
        self.fixed: dict[int, str] = {}
        self.producers: dict[int, list] = {}
        self.consumers: dict[int, list] = {}
        self.info: dict[int, Any] = {}  # id(tensor) -> tuple of (gid, width) segments, or Flat

    def new(self, width: int, producer: str | None = None, fixed: str = "") -> tuple:
        gid = len(self.parent)
        self.parent.append(gid)
        self.width.append(width)
        self.producers[gid] = [producer] if producer else []
        self.consumers[gid] = []
        if fixed:
            self.fixed[gid] = fixed
        return ((gid, width),)

    def find(self, gid: int) -> int:
        while self.parent[gid] != gid:
            self.parent[gid] = self.parent[self.parent[gid]]
            gid = self.parent[gid]
        return gid

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        lo, hi = min(a, b), max(a, b)
        self.parent[hi] = lo
        self.producers[lo] += self.producers.pop(hi)
        self.consumers[lo] += self.consumers.pop(hi)
        if hi in self.fixed:
            self.fixed.setdefault(lo, self.fixed.pop(hi))

    def gids(self, info: Any) -> list[int]:
        segments = info.segments if isinstance(info, Flat) else info
        return [self.find(g) for g, _ in segments]

    def fix(self, info: Any, reason: str) -> None:
        for gid in self.gids(info):
            self.fixed.setdefault(gid, reason)


def first_output(node: Any) -> Any:
    """The first output tensor of a node."""
    return tf.nest.flatten(node.outputs)[0]


def node_kind(node: Any) -> str:
    """:func:`kind` of a node's layer; ``"other"`` for shared layers and multi-output layers."""
    layer, ins = node.layer, node.keras_inputs
    if len(layer._inbound_nodes) > 1 or len(tf.nest.flatten(node.outputs)) != 1 or not ins:
        return "other"
    return kind(layer, ins[0].shape.rank)


def _step(a: Analysis, node: Any) -> Any:
    """Record one node; return the channel layout of its output."""
    layer, ins = node.layer, node.keras_inputs
    infos = [a.info[id(t)] for t in ins]
    out = tf.nest.flatten(node.outputs)
    shared = len(layer._inbound_nodes) > 1
    k = node_kind(node)
    flat_in = any(isinstance(i, Flat) for i in infos)
    if k == "mixer" and len(infos) == 1 and not (flat_in and type(layer) is not L.Dense):
        for gid in a.gids(infos[0]):
            a.consumers[gid].append(layer.name)
        return a.new(_width(out[0]), producer=layer.name)
    if k in ("passthrough", "channelwise") and len(infos) == 1 and not (flat_in and k == "channelwise"):
        return infos[0]
    if k == "flatten" and not flat_in:
        positions = int(np.prod(ins[0].shape[1:-1])) if len(ins[0].shape) > 2 else 1
        return infos[0] if positions == 1 else Flat(tuple(infos[0]), positions)
    if k == "elementwise" and not flat_in:
        lengths = {tuple(w for _, w in i) for i in infos}
        if len(lengths) == 1:
            for other in infos[1:]:
                for (g, _), (h, _) in zip(infos[0], other):
                    a.union(g, h)
            return infos[0]
    if k == "concat" and not flat_in:
        return tuple(s for i in infos for s in i)
    reason = f"{'shared layer' if shared else 'unsupported layer'} {layer.name!r} ({type(layer).__name__})"
    for info in infos:
        a.fix(info, f"read by {reason}")
    return a.new(_width(out[0]) if out[0].shape.rank else 1, fixed=f"produced by {reason}")


def analyse(model: Any) -> Analysis:
    """Walk ``model`` once and return the filled :class:`Analysis` (tensor layouts, groups)."""
    a = Analysis()
    for tensor in model.inputs:
        a.info[id(tensor)] = a.new(_width(tensor), fixed="a model input")
    for node in nodes(model):
        a.info[id(first_output(node))] = _step(a, node)
    for tensor in model.outputs:
        a.fix(a.info[id(tensor)], "reaches a model output")
    return a


def channel_groups(model: Any) -> dict[str, ChannelGroup]:
    """``{name: ChannelGroup}`` for every group of Dense/Conv output channels, in graph order.

    Example::

        groups = channel_groups(model)
        [g.name for g in groups.values() if g.prunable]
    """
    return groups_of(analyse(model))


def groups_of(a: Analysis) -> dict[str, ChannelGroup]:
    """The groups of a filled analysis, keyed by name (the first producer), with the root ids."""
    found = {}
    for gid in range(len(a.parent)):
        if a.find(gid) != gid or not a.producers[gid]:
            continue
        producers = tuple(a.producers[gid])
        reason = a.fixed.get(gid, "")
        found[producers[0]] = ChannelGroup(producers[0], a.width[gid], producers,
                                           tuple(dict.fromkeys(a.consumers[gid])), not reason, reason)
    return found


def root_of(a: Analysis, name: str) -> int:
    """The root group id of the group whose producer list contains layer ``name``."""
    for gid, producers in a.producers.items():
        if name in producers and a.find(gid) == gid:
            return gid
    raise KeyError(name)


def replay(model: Any, make_layer: Callable[[Any], Any], start: dict | None = None,
           before: Callable[[Any, Any], Any] | None = None, after: Callable[[Any, Any], None] | None = None,
           only: set | None = None) -> dict:
    """Call ``make_layer(layer)`` (once per layer) on new tensors, in the original graph order.

    ``start`` maps ``id(original tensor)`` to the new tensor (default: fresh ``keras.Input``s
    for the model's inputs); ``before(node, new_inputs)`` may replace the inputs of a node,
    ``after(node, new_layer)`` runs once the new layer is built; ``only`` restricts the replay
    to those nodes. Returns ``{id(original tensor): new tensor}``.
    """
    if start is None:
        start = {id(t): keras.Input(type_spec=t.type_spec, name=t.node.layer.name) for t in model.inputs}
    new = dict(start)
    made: dict[int, Any] = {}
    for node in nodes(model):
        if only is not None and id(node) not in only:
            continue
        layer = node.layer
        first = id(layer) not in made
        if first:
            made[id(layer)] = make_layer(layer)
        args = tf.nest.map_structure(lambda t: new[id(t)] if keras.backend.is_keras_tensor(t) else t,
                                     (node.call_args, node.call_kwargs))
        if before is not None:
            args = before(node, args)
        outputs = made[id(layer)](*args[0], **args[1])
        for old, fresh in zip(tf.nest.flatten(node.outputs), tf.nest.flatten(outputs)):
            new[id(old)] = fresh
        if first and after is not None:
            after(node, made[id(layer)])
    return new
