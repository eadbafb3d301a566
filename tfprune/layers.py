"""Which weights are prunable, and the one key space used everywhere: ``"<layer path>/<weight>"``.

Prunable are exactly the weights TF-MOT can prune: the weights its ``PruneRegistry`` names for
built-in layers (Dense, Conv1D/2D/3D and their transposes, the pointwise kernel of separable
convolutions, Embedding, LocallyConnected, the kernels and recurrent kernels of SimpleRNN /
GRU / LSTM cells, MultiHeadAttention's query/key/value/output kernels) and whatever a
``tfmot.sparsity.keras.PrunableLayer`` (or any layer with ``get_prunable_weights``) returns.
Biases, BatchNorm and depthwise kernels are never pruned (TF-MOT's choice).

Keys: the layer's path from the model root (``"dense"``, or ``"block/dense"`` inside a nested
sub-model ``block``), then the weight's name inside the layer (``"kernel"``,
``"recurrent_kernel"``, ``"query/kernel"``). Keys are unique in a model even when
nested sub-models reuse layer names; code never parses them -- :class:`PrunableWeight`
carries the parts.

:func:`dense_layers` lists the layers that have weights but are left dense, with the reason.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from tfprune import mask_storage
from tfprune.backend import PruneLowMagnitude, keras
from tensorflow_model_optimization.python.core.sparsity.keras import prunable_layer, prune_registry

Exclude = "Iterable[str] | Callable[[Any], bool] | str | None"
_Registry = prune_registry.PruneRegistry


def check_model(model: Any, argument: str = "model") -> None:
    """Raise a clear TypeError unless ``model`` is a tf_keras Sequential or Functional model."""
    if not isinstance(model, keras.Model):
        kind = type(model).__module__.split(".")[0]
        if kind == "keras":
            raise TypeError(
                f"{argument}: got a Keras 3 model ({type(model).__name__}); tfprune and TF-MOT need a "
                "tf_keras (Keras 2) model. Convert it with tfprune.from_keras3(model), or build it with "
                "`import tf_keras as keras` (or import tfprune before using tf.keras so that tf.keras is tf_keras)."
            )
        raise TypeError(f"{argument}: expected a tf_keras Model, got {type(model).__name__}")
    if not (isinstance(model, keras.Sequential) or model._is_graph_network):
        raise TypeError(
            f"{argument}: subclassed model {type(model).__name__} is not supported; TF-MOT wraps layers of "
            "Sequential or Functional models only. Rebuild it with the Functional API "
            "(keras.Model(inputs, outputs)) or keras.Sequential."
        )


def unwrap(layer: Any) -> Any:
    """The layer inside a pruning wrapper (the layer itself when not wrapped)."""
    return layer.layer if isinstance(layer, PruneLowMagnitude) else layer


def iter_layers(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, layer)`` for every non-model layer, nested sub-models flattened, in model order.

    ``path`` is ``"name"`` at the top level and ``"sub/name"`` inside sub-model ``sub``; a
    wrapped layer is yielded as its wrapper, under the inner layer's name.
    """
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer, f"{prefix}{layer.name}/")
        else:
            yield f"{prefix}{unwrap(layer).name}", layer


def calls_per_step(model: Any) -> dict[int, int]:
    """``{id(layer): times it runs in one forward pass}`` for every non-model layer.

    A layer used twice (shared weights) runs twice, and so does every layer of a sub-model that
    is called twice. Counted from the Functional graph: a layer's nodes that belong to its
    parent model's graph, times the parent's own count.
    """
    counts = {}

    def visit(parent, factor):
        nodes = getattr(parent, "_network_nodes", None)
        for layer in parent.layers:
            own = 1
            if nodes is not None:
                own = sum(1 for i in range(len(layer._inbound_nodes)) if f"{layer.name}_ib-{i}" in nodes) or 1
            if isinstance(layer, keras.Model):
                visit(layer, factor * own)
            else:
                counts[id(layer)] = counts.get(id(layer), 0) + factor * own

    visit(model, 1)
    return counts


def registry_weights(layer: Any) -> list | None:
    """The variables TF-MOT would prune in ``layer`` (unwrapped), or None if it cannot prune it."""
    named = _named_registry_weights(layer)
    return None if named is None else [variable for _, variable in named]


def _named_registry_weights(layer: Any) -> list | None:
    """``[(name inside the layer, variable)]`` that TF-MOT would prune, or None if it cannot.

    Reads TF-MOT's ``PruneRegistry`` tables (private API of tensorflow-model-optimization 0.8)
    without modifying the layer, as ``PruneRegistry.make_prunable`` would. Names are stable
    across save and load: the attribute (``"kernel"``), the sub-layer and attribute of
    MultiHeadAttention (``"query/kernel"``), ``"cell_<i>/..."`` for stacked RNN cells, and the
    variable's own name for user ``PrunableLayer`` weights.
    """
    if not _Registry.supports(layer):  # (TF-MOT's wrapper adds get_prunable_weights to built-ins)
        if isinstance(layer, prunable_layer.PrunableLayer) or hasattr(layer, "get_prunable_weights"):
            return _by_variable_name(layer.get_prunable_weights())
        return None
    if _Registry._is_rnn_layer(layer):
        cells = _Registry._get_rnn_cells(layer)
        found = []
        for i, cell in enumerate(cells):
            prefix = f"cell_{i}/" if len(cells) > 1 else ""
            names = _Registry._RNN_CELLS_WEIGHTS_MAP.get(cell.__class__)
            pairs = _by_variable_name(cell.get_prunable_weights()) if names is None else \
                [(n, getattr(cell, n)) for n in names]
            found += [(prefix + n, v) for n, v in pairs]
        return found
    found = []
    for name in _Registry._weight_names(layer):
        owner, parts = layer, []
        *parents, attribute = name.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
            parts.append(owner.name)
        found.append(("/".join(parts + [attribute]), getattr(owner, attribute)))
    return found


def _by_variable_name(variables: list) -> list:
    """``[(short name, variable)]``: each variable's last name component, made unique."""
    out, seen = [], set()
    for index, variable in enumerate(variables):
        name = (getattr(variable, "name", "") or "").split(":")[0].rpartition("/")[2] or f"weight_{index}"
        if name in seen:
            name = f"{name}_{index}"
        seen.add(name)
        out.append((name, variable))
    return out


@dataclasses.dataclass(frozen=True)
class PrunableWeight:
    """One prunable weight: its unique ``key``, its layer (as found in the model) and position."""

    key: str
    path: str
    name: str
    layer: Any
    index: int

    @property
    def inner(self) -> Any:
        """The layer itself (inside the pruning wrapper, when wrapped)."""
        return unwrap(self.layer)

    @property
    def layer_name(self) -> str:
        return self.inner.name

    @property
    def wrapped(self) -> bool:
        return isinstance(self.layer, PruneLowMagnitude)

    @property
    def has_mask(self) -> bool:
        """Whether the weight has a mask: its layer is wrapped and built."""
        return bool(self.wrapped and self.layer.pruning_vars)

    @property
    def variable(self) -> Any:
        """The weight's tf.Variable."""
        if self.has_mask:
            return self.layer.pruning_vars[self.index][0]
        return registry_weights(self.inner)[self.index]

    @property
    def mask(self) -> Any:
        """The 0/1 mask of a wrapped, built layer's weight, shaped and typed as the weight (a
        tensor: ``.numpy()`` eagerly; None when not wrapped). Read through
        :func:`tfprune.mask_storage.read`, whatever the wrapper stores (bit-packed or float)."""
        if self.has_mask:
            return mask_storage.read(self.layer, self.index)
        return None

    def value(self) -> np.ndarray:
        """The weight as used: masked when the layer is wrapped."""
        value = self.variable.numpy()
        if not self.has_mask:
            return value
        return value * mask_storage.read_numpy(self.layer, self.index)


def _excluded(layer: Any, path: str, exclude: Any) -> bool:
    if exclude is None:
        return False
    if callable(exclude):
        return bool(exclude(layer))
    return layer.name in exclude or path in exclude


def _check_exclude(model: Any, exclude: Any) -> Any:
    if exclude is None or callable(exclude):
        return exclude
    if isinstance(exclude, str):
        exclude = [exclude]
    exclude = list(exclude)
    names = set()
    for path, layer in iter_layers(model):
        names |= {path, unwrap(layer).name}
    missing = sorted(set(exclude) - names)
    if missing:
        raise ValueError(f"exclude={exclude!r}: no layer named {missing} in the model")
    return exclude


def _layer_weights(path: str, layer: Any) -> list[PrunableWeight]:
    named = _named_registry_weights(unwrap(layer)) or []
    return [PrunableWeight(f"{path}/{name}", path, name, layer, index) for index, (name, _) in enumerate(named)]


def prunable(model: Any, exclude: Any = None) -> "collections.OrderedDict[str, PrunableWeight]":
    """Ordered ``{key: PrunableWeight}`` of every prunable weight (wrapped or not), in model order.

    ``exclude`` is a collection of layer names (or paths) or a predicate ``layer -> bool``.
    Raises ValueError when two weights would get the same key.
    """
    check_model(model)
    exclude = _check_exclude(model, exclude)
    found = collections.OrderedDict()
    owners = {}
    for path, layer in iter_layers(model):
        inner = unwrap(layer)
        if _excluded(inner, path, exclude) or _excluded(layer, path, exclude):
            continue
        if id(inner) in owners:  # a layer reached twice (shared through two sub-models)
            continue
        owners[id(inner)] = path
        for weight in _layer_weights(path, layer):
            if weight.key in found:
                raise ValueError(
                    f"model: two prunable weights share the key {weight.key!r}; give the layers or "
                    "sub-models distinct names"
                )
            found[weight.key] = weight
    return found


def prunable_weights(model: Any, exclude: Any = None) -> "collections.OrderedDict[str, np.ndarray]":
    """Ordered ``{key: numpy array}`` of the prunable weights, as currently masked."""
    return collections.OrderedDict((k, w.value()) for k, w in prunable(model, exclude).items())


def prunable_layers(model: Any, exclude: Any = None) -> "collections.OrderedDict[str, Any]":
    """Ordered ``{layer path: layer}`` (wrapper when wrapped) of the layers with prunable weights."""
    out = collections.OrderedDict()
    for weight in prunable(model, exclude).values():
        out.setdefault(weight.path, weight.layer)
    return out


def dense_layers(model: Any, exclude: Any = None) -> list[dict]:
    """The layers that have weights but none pruned, each ``{"path", "type", "params", "reason"}``."""
    check_model(model)
    exclude = _check_exclude(model, exclude)
    out = []
    for path, layer in iter_layers(model):
        inner = unwrap(layer)
        params = int(sum(np.prod(w.shape) for w in inner.weights))
        if not params:
            continue
        if _excluded(inner, path, exclude) or _excluded(layer, path, exclude):
            reason = "excluded"
        elif registry_weights(inner) is None:
            reason = ("not prunable by TF-MOT: not in its PruneRegistry and not a PrunableLayer "
                      "(give the layer a get_prunable_weights method to prune it)")
        elif not registry_weights(inner):
            reason = "TF-MOT prunes no weight of this layer type (biases, normalisation, depthwise kernels)"
        else:
            continue
        out.append({"path": path, "type": type(inner).__name__, "params": params, "reason": reason})
    return out


def weights_of(model: Any, keys: Iterable[str]) -> dict[str, np.ndarray]:
    """``{key: masked value}`` for some ``keys`` (a ValueError naming unknown keys)."""
    weights = prunable(model)
    unknown = sorted(set(keys) - set(weights))
    if unknown:
        raise ValueError(f"keys: no prunable weight named {unknown}; known: {list(weights)}")
    return {k: weights[k].value() for k in keys}
