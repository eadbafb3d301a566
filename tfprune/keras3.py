"""Keras 3 models in tfprune: :func:`from_keras3` rebuilds a Keras 3 model (the ``keras`` package,
TensorFlow 2.16+'s ``tf.keras``) in tf_keras with its weights; :func:`to_keras3` turns a pruned,
stripped tf_keras model back into Keras 3.

The architecture is rebuilt from the Keras 3 config, layer by layer: each layer's config is
translated to tf_keras's (``batch_shape``, dtype policies, serialized initializers, regularizers,
constraints and activations; options Keras 3 added are dropped while they hold their default) and
the Functional graph is replayed from its nodes (Keras 3's ``args``/``kwargs`` with
``__keras_tensor__`` references; elementwise ``keras.ops`` calls become TensorFlow calls). Weights
are copied layer by layer, in order, with their shapes checked, and the outputs are compared on a
fixed batch. What has no tf_keras equivalent (a Keras-3-only or custom layer, another
``keras.ops`` call, an activation whose meaning differs) is refused with one error naming every
such layer. :func:`to_keras3` runs the same steps the other way (tf_keras's legacy node lists).
This is the one module that imports the ``keras`` (Keras 3) package, inside its functions.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import zipfile
from typing import Any

import numpy as np

from tfprune._validate import named
from tfprune.backend import PruneLowMagnitude, keras, tf
from tfprune.io import atomic_path, check_parent

__all__ = ["from_keras3", "to_keras3", "is_keras3_file", "is_keras3_model", "keras_version", "TOLERANCE"]

#: Activations with the same name and values in both (``hard_sigmoid`` is not: Keras 3's is
#: relu6(x + 3) / 6, tf_keras's clip(0.2 x + 0.5)); Keras 3's ``silu`` is tf_keras's ``swish``.
_SAME_ACTIVATIONS = ("elu", "exponential", "gelu", "linear", "mish", "relu", "selu", "sigmoid", "softmax",
                     "softplus", "softsign", "swish", "tanh")
#: Options that only choose how a value is computed, or hold their neutral value, in either package:
#: dropped when the target does not take them (so are initializers: the weights are copied).
_NEUTRAL = {"implementation": None, "groups": 1, "time_major": False, "unroll": False}
_MODELS = ("Functional", "Sequential", "Model")
#: Layers the Keras applications define themselves, alike in both packages (config, weights, call):
#: class -> (its Keras 3 module, its tf_keras module).
_APPLICATION_LAYERS = {"LayerScale": ("keras.src.applications.convnext", "tf_keras.src.applications.convnext")}
_OBJECT_MODULES = {"keras.initializers": "initializers", "keras.regularizers": "regularizers",
                   "keras.constraints": "constraints"}
#: Keras 3 operations in a Functional model (``x + 3.0``) as the ``tf.math`` function whose call on
#: tf_keras tensors makes the same step (tf_keras records it as a ``TFOpLambda`` layer).
_OPERATIONS = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Divide": "truediv",
               "TrueDivide": "truediv", "Maximum": "maximum", "Minimum": "minimum"}


def _hard_sigmoid(x: Any) -> Any:
    """Keras 3's hard_sigmoid, relu6(x + 3) / 6 (tf_keras's of that name is another function)."""
    return tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


#: Keras 3 activations of an ``Activation`` layer that tf_keras has under no name, as TensorFlow
#: calls (``TFOpLambda`` layers in tf_keras, as its own MobileNetV3 builds them).
_ACTIVATION_CALLS = {"hard_sigmoid": _hard_sigmoid, "hard_silu": lambda x: x * _hard_sigmoid(x),
                     "hard_swish": lambda x: x * _hard_sigmoid(x), "relu6": lambda x: tf.nn.relu6(x)}
#: tf_keras ``TFOpLambda`` layers (TensorFlow calls in a Functional model) as ``keras.ops`` functions.
_TF_FUNCTIONS = {"math.add": "add", "__operators__.add": "add", "math.subtract": "subtract",
                 "math.multiply": "multiply", "math.truediv": "divide", "math.maximum": "maximum",
                 "math.minimum": "minimum", "nn.relu6": "relu6", "nn.relu": "relu"}


def _keras3_operation(function: str) -> Any:
    """The Keras 3 call for a tf_keras ``TFOpLambda`` of ``function`` (None when there is none)."""
    import keras as keras3

    if function not in _TF_FUNCTIONS:
        return None
    operation = getattr(keras3.ops, _TF_FUNCTIONS[function])

    def call(x, y=None, name=None):
        return operation(x) if y is None else operation(x, y)

    return call


@dataclasses.dataclass(frozen=True)
class _Direction:
    """What differs between the two ways: the target package and its names for things."""

    source: str  # the package models come from, for messages
    target: str  # the package models are rebuilt in
    activations: dict  # source name -> target name
    renamed: dict  # layer class -> {source option: target option}
    required: dict  # layer class -> {option: value} the target's from_config needs
    dropped: dict  # layer class ("*": all) -> options the target derives itself (dropped whatever their value)
    base_options: frozenset  # keyword arguments every target layer takes

    @property
    def package(self) -> Any:
        if self.target == "tf_keras":
            return keras
        import keras as keras3

        return keras3

    @property
    def source_package(self) -> Any:
        if self.source == "tf_keras":
            return keras
        import keras as keras3

        return keras3


_TO_TF_KERAS = _Direction(
    "Keras 3", "tf_keras", {**{n: n for n in _SAME_ACTIVATIONS}, "silu": "swish"},
    {"LeakyReLU": {"negative_slope": "alpha"}, "InputLayer": {"batch_shape": "batch_input_shape"}},
    {"MultiHeadAttention": {"query_shape": None, "key_shape": None, "value_shape": None}}, {},
    frozenset({"input_dim", "input_shape", "batch_input_shape", "batch_size", "weights", "activity_regularizer",
               "autocast", "implementation", "dtype", "dynamic", "name", "trainable"}))
_TO_KERAS3 = _Direction(
    "tf_keras", "Keras 3", {n: n for n in _SAME_ACTIVATIONS},
    {"LeakyReLU": {"alpha": "negative_slope"}, "InputLayer": {"batch_input_shape": "batch_shape"}}, {},
    {"MultiHeadAttention": {"query_shape", "key_shape", "value_shape"}, "Embedding": {"input_length"},
     "*": {"batch_input_shape"}},  # the model's Input gives the shape
    frozenset({"activity_regularizer", "trainable", "dtype", "autocast", "name", "input_dim", "input_shape"}))


class _Untranslatable(Exception):
    """A part of a config with no equivalent in the other package (the message says which)."""


def keras_version(path: str) -> str:
    """The Keras version recorded in a .keras archive or an HDF5 file ('' when none is)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "metadata.json" not in archive.namelist():
                return ""
            return str(json.loads(archive.read("metadata.json")).get("keras_version", ""))
    import h5py

    with h5py.File(path, "r") as f:
        version = f.attrs.get("keras_version", "")
    return version.decode() if isinstance(version, bytes) else str(version)


def is_keras3_file(path: str) -> bool:
    """True when ``path`` is a .keras or .h5 file written by Keras 3."""
    return os.path.isfile(path) and keras_version(path).startswith("3")


def is_keras3_model(model: Any) -> bool:
    """True when ``model`` is a model of the Keras 3 package (``keras``), not of tf_keras."""
    import keras as keras3

    return isinstance(model, keras3.Model)


# --------------------------------------------------------------------------- config values

def _activation(value: Any, way: _Direction) -> Any:
    if value is None or callable(value):
        return value
    if isinstance(value, str) and value in way.activations:
        return way.activations[value]
    shown = value.get("config", value) if isinstance(value, dict) else value
    raise _Untranslatable(f"activation {shown!r} has no {way.target} equivalent")


def _dtype(value: Any, way: _Direction) -> Any:
    """A dtype policy: Keras 3's DTypePolicy dicts and tf_keras's Policy dicts, as the target writes them."""
    if not isinstance(value, dict):
        return value
    name = (value.get("config") or {}).get("name")
    if value.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy", "Policy") or not isinstance(name, str):
        raise _Untranslatable(f"dtype policy {value.get('class_name')} ({name}) has no {way.target} equivalent")
    if way.target == "tf_keras" and name.startswith("mixed_"):
        return {"class_name": "Policy", "config": {"name": name}}
    return name


def _options(target: Any, source: Any, config: dict, what: str, way: _Direction, accepted: Any = None) -> dict:
    """``config`` without the options ``target`` (a class of the target package) does not take;
    each one dropped must hold its default in ``source`` (the source's class), else it is refused."""
    signature = inspect.signature(target.__init__).parameters
    takes = None if accepted is None and any(p.kind is p.VAR_KEYWORD for p in signature.values()) \
        else set(signature) | set(accepted or ())
    defaults = {k: p.default for k, p in inspect.signature(source.__init__).parameters.items()} if source else {}
    kept = {}
    for key, value in config.items():
        if takes is None or key in takes:
            kept[key] = value
        elif value is not None and value is not False and defaults.get(key, object()) != value and not (
                key in _NEUTRAL and _NEUTRAL[key] in (None, value)) and not key.endswith("_initializer"):
            raise _Untranslatable(f"{what} option {key}={value!r} has no {way.target} equivalent")
    return kept


def _object(value: dict, way: _Direction) -> Any:
    """The target's initializer, regularizer or constraint for a serialized one."""
    kind = _OBJECT_MODULES[value["module"]]
    name = value["class_name"]
    target = getattr(getattr(way.package, kind), name, None)
    if target is None or value.get("registered_name") not in (None, name):
        raise _Untranslatable(f"{kind[:-1]} {value.get('registered_name') or name!r} has no {way.target} equivalent")
    source = getattr(getattr(way.source_package, kind), name, None)
    config = _options(target, source, _value(value.get("config") or {}, way), f"{kind[:-1]} {name}", way)
    return target(**config)


def _value(value: Any, way: _Direction, key: str = "") -> Any:
    """A config value of the source in the target's terms."""
    if key in ("activation", "recurrent_activation"):
        return _activation(value, way)
    if key == "dtype":
        return _dtype(value, way)
    if isinstance(value, dict) and "class_name" in value:
        if value["class_name"] in ("__numpy__", "__tensor__"):
            return np.asarray(value["config"]["value"], dtype=value["config"].get("dtype"))
        if value["class_name"] == "__tuple__":
            return tuple(_value(v, way) for v in value["config"]["value"])
        if value.get("module") in _OBJECT_MODULES:
            return _object(value, way)
    if isinstance(value, dict):
        return {k: _value(v, way, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_value(v, way) for v in value)
    return value


# --------------------------------------------------------------------------- layers

def _layer_class(entry: dict, way: _Direction) -> Any:
    """The target's class for a serialized layer (None when it has none)."""
    name, module = entry["class_name"], entry.get("module") or ""
    if entry.get("registered_name") not in (None, name):
        return None
    if module.startswith("keras.layers"):
        return getattr(way.package.layers, name, None)
    modules = _APPLICATION_LAYERS.get(name, ())
    if module in modules or module.replace("keras.src", "tf_keras.src", 1) in modules:
        return getattr(importlib.import_module(modules[way.target == "tf_keras"]), name)
    return None


def _layer(entry: dict, source: Any, way: _Direction) -> Any:
    """The target's layer for a serialized layer ``entry`` of the source (``source``: the layer object)."""
    name, module = entry["class_name"], entry.get("module") or ""
    if module.startswith("keras.src.ops") or not hasattr(source, "weights"):
        raise _Untranslatable(f"a Keras 3 operation ({module}.{name}), not a layer; use a keras.layers layer "
                              "instead")
    target = _layer_class(entry, way)
    if target is None:
        where = entry.get("registered_name") or f"{module}.{name}"
        raise _Untranslatable(f"not a layer {way.target} has ({where})")
    config = _value(entry["config"], way)
    for old, new in way.renamed.get(name, {}).items():
        if old in config:
            config[new] = config.pop(old)
    config = {k: v for k, v in config.items() if k not in way.dropped.get(name, set()) | way.dropped.get("*", set())}
    if name == "BatchNormalization" and isinstance(config.get("axis"), (list, tuple)) and len(config["axis"]) == 1:
        config["axis"] = config["axis"][0]  # Keras 3 takes one int
    config = {**way.required.get(name, {}),
              **_options(target, type(source), config, name, way, accepted=way.base_options)}
    try:
        return target.from_config(config)
    except (TypeError, ValueError, KeyError) as error:
        raise _Untranslatable(f"{way.target}'s {name} refused its config ({str(error).splitlines()[0][:160]})") \
            from None


def _input(entry: dict, way: _Direction) -> Any:
    config = _value(entry["config"], way)
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if config.get("sparse") or config.get("ragged") or config.get("optional"):
        raise _Untranslatable("sparse, ragged or optional inputs are not converted")
    return way.package.Input(batch_shape=tuple(shape), dtype=config.get("dtype"), name=config.get("name"))


def _first_node(layer: Any) -> int:
    """The config index of a layer's first node: 1 for a tf_keras model made on its own Input
    (that node is not in the config), else 0."""
    tracked = getattr(layer, "_self_tracked_trackables", None)
    return int(bool(tracked) and isinstance(layer, keras.Model) and isinstance(tracked[0], keras.layers.InputLayer))


def _arguments(node: Any, tensor: Any) -> tuple[list, dict]:
    """``(args, kwargs)`` of a serialized call: Keras 3's ``{"args", "kwargs"}`` with
    ``__keras_tensor__`` references, or tf_keras's ``[[layer, node, tensor, kwargs], ...]``."""
    if isinstance(node, dict):
        def walk(value):
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                return tensor(*value["config"]["keras_history"])
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(walk(v) for v in value)
            return value

        return list(walk(tuple(node.get("args", ())))), walk(dict(node.get("kwargs", {})))

    def walk_legacy(value):
        if _reference(value):
            return tensor(*value)
        if isinstance(value, dict):
            return {k: walk_legacy(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk_legacy(v) for v in value]
        return value

    if node and isinstance(node[0], str):  # one input, written without the list around it (TFOpLambda)
        node = [node]
    inputs = [tensor(*ref[:3]) for ref in node]
    kwargs = node[-1][3] if node and len(node[-1]) > 3 else {}
    return [inputs[0] if len(inputs) == 1 else inputs], walk_legacy(dict(kwargs))


def _reference(value: Any) -> bool:
    """True for a ``[layer name, node index, tensor index]`` reference."""
    return (isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:]))


class _Missing(Exception):
    """A node's input is not made yet."""


class _Rebuild:
    """One conversion, and the layers it refused so far."""

    def __init__(self, way: _Direction) -> None:
        self.way = way
        self.refused: dict[tuple[str, str], list[str]] = {}  # (class, why) -> layer names

    def refuse(self, name: str, kind: str, why: str) -> None:
        self.refused.setdefault((kind, why), []).append(name)

    def report(self) -> str:
        """The refused layers grouped by class and reason, each group naming its layers."""
        return "; ".join(f"{kind} {', '.join(map(repr, names))}: {why}"
                         for (kind, why), names in self.refused.items())

    def model(self, source: Any) -> Any:
        kind = type(source).__name__
        if kind == "Sequential":
            return self.sequential(source)
        if kind not in _MODELS or not (getattr(source, "_is_graph_network", False)
                                       or hasattr(source, "_nodes_by_depth") and self.way.source == "Keras 3"):
            self.refuse(source.name, kind, "a subclassed model; only Sequential and Functional models are converted")
            return None
        return self.functional(source)

    def layer(self, entry: dict, source: Any) -> Any:
        if entry["class_name"] in _MODELS and hasattr(source, "layers"):
            return self.model(source)
        if self.way.target == "tf_keras":
            module, name = entry.get("module") or "", entry["class_name"]
            if module.startswith("keras.src.ops") and name in _OPERATIONS:
                return getattr(tf.math, _OPERATIONS[name])
            if name == "Activation" and entry["config"].get("activation") in _ACTIVATION_CALLS:
                return _ACTIVATION_CALLS[entry["config"]["activation"]]
        elif entry["class_name"] == "TFOpLambda" and _keras3_operation(entry["config"].get("function")):
            return _keras3_operation(entry["config"]["function"])
        try:
            return _layer(entry, source, self.way)
        except _Untranslatable as why:
            self.refuse(entry["config"].get("name", entry.get("name")), entry["class_name"], str(why))
            return None

    def input(self, entry: dict) -> Any:
        try:
            return _input(entry, self.way)
        except _Untranslatable as why:
            self.refuse(entry["config"].get("name"), entry["class_name"], str(why))
            return None

    def sequential(self, source: Any) -> Any:
        config = source.get_config()
        by_name = {layer.name: layer for layer in source.layers}
        built, start = [], None
        for entry in config["layers"]:
            if entry["class_name"] == "InputLayer":
                start = self.input(entry)
            else:
                built.append(self.layer(entry, by_name.get(entry["config"]["name"])))
        if None in built or self.refused:
            return None
        model = self.way.package.Sequential(([start] if start is not None else []) + built, name=source.name)
        if start is None and not config.get("build_input_shape"):
            self.refuse(source.name, "Sequential", "not built (its input shape is unknown); give it an Input first")
            return None
        if start is None:
            model.build(tuple(config["build_input_shape"]))
        return model

    def functional(self, source: Any) -> Any:
        config = source.get_config()
        operations = {op.name: op for op in getattr(source, "operations", None) or source.layers}
        outputs: dict[str, list] = {}  # layer name -> the flat outputs of each of its nodes
        first: dict[str, int] = {}  # layer name -> the config index of its first node
        layers, pending = {}, []
        for entry in config["layers"]:
            name = entry["name"]
            if entry["class_name"] == "InputLayer":
                outputs[name], first[name] = [[self.input(entry)]], 0
                continue
            layers[name] = self.layer(entry, operations.get(name))
            outputs[name], first[name] = [], _first_node(operations.get(name))
            pending.append((name, list(entry["inbound_nodes"])))
        if self.refused:
            return None

        def tensor(name, index, position):
            made = outputs.get(name, [])
            if index - first.get(name, 0) >= len(made):
                raise _Missing(name)
            return made[index - first.get(name, 0)][position]

        while pending:  # replay the nodes; a node waits until its inputs are made
            waiting, progress = [], False
            for name, nodes in pending:
                while nodes:
                    try:
                        args, kwargs = _arguments(nodes[0], tensor)
                    except _Missing:
                        break
                    kwargs = self.call_options(layers[name], kwargs, name)
                    if kwargs is None:
                        return None
                    outputs[name].append(tf.nest.flatten(layers[name](*args, **kwargs)))
                    nodes.pop(0)
                    progress = True
                if nodes:
                    waiting.append((name, nodes))
            if not progress:
                raise ValueError(f"the graph of model {source.name!r} cannot be replayed (layers "
                                 f"{[n for n, _ in waiting]} wait for inputs that are never made)")
            pending = waiting
        return self.way.package.Model(_tensors(config["input_layers"], tensor),
                                      _tensors(config["output_layers"], tensor), name=source.name)

    def call_options(self, layer: Any, kwargs: dict, name: str) -> dict | None:
        """The call's keyword arguments the target's ``layer.call`` takes; one it does not take
        must be None (unused), else the layer is refused."""
        signature = inspect.signature(getattr(layer, "call", layer)).parameters
        if any(p.kind is p.VAR_KEYWORD for p in signature.values()):
            return kwargs
        extra = {k: v for k, v in kwargs.items() if k not in signature and k not in ("training", "mask")}
        used = sorted(k for k, v in extra.items() if v is not None)
        if used:
            self.refuse(name, type(layer).__name__, f"called with {used}, which {self.way.target}'s call does not "
                                                    "take")
            return None
        return {k: v for k, v in kwargs.items() if k not in extra}


def _tensors(spec: Any, tensor: Any) -> Any:
    """The tensors a Functional config's ``input_layers``/``output_layers`` name (one when one)."""
    def resolve(value):
        if _reference(value):
            return tensor(*value)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return [resolve(v) for v in value]

    result = resolve(spec)
    return result[0] if isinstance(result, list) and len(result) == 1 else result


# --------------------------------------------------------------------------- weights

def _pairs(source: Any, target: Any):
    """``(source layer, target layer)`` for every layer, nested models walked into."""
    by_name = {layer.name: layer for layer in target.layers}
    for layer in source.layers:
        if not layer.weights:
            continue  # (converted layers without weights may be made of TensorFlow calls)
        other = by_name[layer.name]
        if hasattr(layer, "layers") and hasattr(other, "layers"):
            yield from _pairs(layer, other)
        else:
            yield layer, other


def _copy_weights(source: Any, target: Any) -> None:
    """Every layer's weights, in order, with their shapes checked."""
    for layer, other in _pairs(source, target):
        values = [np.asarray(w.numpy()) for w in layer.weights]
        expected = [tuple(w.shape) for w in other.weights]
        if [v.shape for v in values] != expected:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}): weights of shapes "
                             f"{[v.shape for v in values]}, but the converted layer has {expected}")
        if values:
            other.set_weights(values)


def _sample(model: Any) -> list:
    """A fixed batch of two inputs: N(0, 1) floats, zeros (valid ids) for integer inputs."""
    rng = np.random.default_rng(0)
    batch = []
    for spec in model.inputs:
        shape = [2 if d is None else int(d) for d in spec.shape]
        dtype = np.dtype(getattr(spec.dtype, "name", spec.dtype))
        batch.append(rng.standard_normal(shape).astype(dtype) if dtype.kind == "f" else np.zeros(shape, dtype))
    return batch


#: The largest difference of outputs a conversion may show, relative to the outputs' size.
TOLERANCE = 1e-5


def _check_outputs(source: Any, target: Any, argument: str) -> None:
    """Refuse a conversion whose outputs differ from the source's on a fixed batch (a translation
    that changes a layer's meaning must never pass silently)."""
    x = _sample(source)
    x = x[0] if len(x) == 1 else x
    before = [np.asarray(t) for t in tf.nest.flatten(source(x, training=False))]
    after = [np.asarray(t) for t in tf.nest.flatten(target(x, training=False))]
    worst = max(float(np.max(np.abs(a - b), initial=0.0)) for a, b in zip(before, after))
    scale = 1.0 + max(float(np.max(np.abs(a), initial=0.0)) for a in before)
    if worst > TOLERANCE * scale:
        raise ValueError(f"{argument}: the converted model's outputs differ from the original's by {worst:.3g} on "
                         "the same inputs; it is not converted")


def _convert(source: Any, way: _Direction, argument: str) -> Any:
    rebuild = _Rebuild(way)
    target = rebuild.model(source)
    if rebuild.refused or target is None:
        count = sum(map(len, rebuild.refused.values()))
        raise ValueError(f"{argument}: cannot rebuild {count} layer(s) of the {way.source} model {source.name!r} in "
                         f"{way.target}: {rebuild.report()}")
    _copy_weights(source, target)
    _check_outputs(source, target, argument)
    return target


# --------------------------------------------------------------------------- public API

def _load_keras3(path: str, argument: str, safe_mode: bool) -> Any:
    import keras as keras3

    try:
        return keras3.saving.load_model(path, compile=False, safe_mode=safe_mode)
    except Exception as error:  # noqa: BLE001  (Keras raises many kinds; all mean the file cannot be read here)
        text = str(error).strip()
        if "safe_mode" in text:
            raise ValueError(f"{named(argument, path)}: holds a Lambda layer, whose Python code loading would "
                             "run; if you trust the file, pass safe_mode=False") from None
        first = text.splitlines()[0] if text else type(error).__name__
        raise ValueError(f"{named(argument, path)}: saved by Keras {keras_version(path)}, which cannot load it "
                         f"here ({first})") from None


def from_keras3(model_or_path: Any, argument: str = "model_or_path", safe_mode: bool = True) -> Any:
    """The tf_keras model of a Keras 3 model, or of a Keras 3 ``.keras``/``.h5`` file, with its weights.

    The architecture is rebuilt from the Keras 3 config and the weights are copied layer by
    layer (shapes checked); the outputs are then compared on a fixed batch. Layers without a
    tf_keras equivalent are refused with one ``ValueError`` naming them all. ``safe_mode=False``
    lets Keras 3 read files holding Lambda layers (which are then refused too). The result
    prunes, trains and exports like any tf_keras model.
    """
    if isinstance(model_or_path, (str, os.PathLike)):
        path = os.fspath(model_or_path)
        if not os.path.isfile(path):
            raise ValueError(f"{named(argument, path)}: no such file")
        if not is_keras3_file(path):
            raise ValueError(f"{named(argument, path)}: not a file saved by Keras 3 (load tf_keras files with "
                             "tfprune.load_model)")
        source = _load_keras3(path, argument, safe_mode)
        argument = named(argument, path)  # how errors name it from here on
    else:
        source = model_or_path
        if not is_keras3_model(source):
            raise TypeError(f"{argument}: expected a Keras 3 model or the path of a Keras 3 file, got "
                            f"{type(source).__module__}.{type(source).__name__}")
    return _convert(source, _TO_TF_KERAS, argument)


def to_keras3(model: Any, path: str | None = None, argument: str = "model") -> Any:
    """The Keras 3 model of a stripped tf_keras model, with equal outputs; saved as a Keras 3
    ``.keras`` file at ``path`` (atomically) when given.

    A model still wrapped for pruning is refused: strip it first (``tfprune.strip``), so the
    masks are baked into the weights. Layers without a Keras 3 equivalent (tfprune's own,
    ``TFOpLambda``, custom layers) are refused with one error naming them all.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"{argument}: expected a tf_keras model, got {type(model).__module__}.{type(model).__name__}")
    if any(isinstance(layer, PruneLowMagnitude) for layer in model.submodules):
        raise ValueError(f"{argument}: still wrapped for pruning; strip it first: "
                         "tfprune.to_keras3(tfprune.strip(model))")
    if path is not None:
        if not str(path).endswith(".keras"):
            raise ValueError(f"{named('path', path)}: must end in .keras (Keras 3's file format)")
        check_parent(path, "path")
    converted = _convert(model, _TO_KERAS3, argument)
    if path is not None:
        with atomic_path(path) as tmp:
            converted.save(tmp)
    return converted
