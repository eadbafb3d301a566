"""Which weights are prunable, and the one key space used everywhere: ``"layer_name/weight"``.

Prunable: the kernels of Dense, Conv1D/2D/3D (and transposed), the pointwise kernel of
SeparableConv1D/2D, and Embedding's embeddings -- exactly the weights TF-MOT's prune
registry masks. Biases, BatchNorm and depthwise kernels are never pruned.
"""

import collections

from tfprune.backend import PruneLowMagnitude, keras

_PRUNABLE = (
    (keras.layers.SeparableConv1D, "pointwise_kernel"),
    (keras.layers.SeparableConv2D, "pointwise_kernel"),
    (keras.layers.DepthwiseConv2D, None),
    (keras.layers.Conv1D, "kernel"),
    (keras.layers.Conv2D, "kernel"),
    (keras.layers.Conv3D, "kernel"),
    (keras.layers.Dense, "kernel"),
    (keras.layers.Embedding, "embeddings"),
)


def prunable_attribute(layer):
    """Name of the prunable weight of ``layer`` (e.g. ``"kernel"``), or None."""
    if isinstance(layer, PruneLowMagnitude):
        layer = layer.layer
    for cls, attribute in _PRUNABLE:
        if isinstance(layer, cls):
            return attribute
    return None


def check_model(model, argument="model"):
    """Raise a clear TypeError unless ``model`` is a tf_keras Sequential or Functional model."""
    if not isinstance(model, keras.Model):
        kind = type(model).__module__.split(".")[0]
        if kind == "keras":
            raise TypeError(
                f"{argument}: got a Keras 3 model ({type(model).__name__}); tfprune and TF-MOT need a "
                "tf_keras (Keras 2) model. Build it with `import tf_keras as keras` (or import tfprune "
                "before using tf.keras so that tf.keras is tf_keras)."
            )
        raise TypeError(f"{argument}: expected a tf_keras Model, got {type(model).__name__}")
    if not (isinstance(model, keras.Sequential) or model._is_graph_network):
        raise TypeError(
            f"{argument}: subclassed model {type(model).__name__} is not supported; TF-MOT wraps layers of "
            "Sequential or Functional models only. Rebuild it with the Functional API "
            "(keras.Model(inputs, outputs)) or keras.Sequential."
        )


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def _excluded(layer, exclude):
    if exclude is None:
        return False
    if callable(exclude):
        return bool(exclude(layer))
    return layer.name in exclude


def prunable_layers(model, exclude=None):
    """Ordered {key: layer} of the prunable layers (wrapped or not), in model order.

    ``exclude`` is a collection of layer names or a predicate ``layer -> bool``.
    """
    check_model(model)
    if exclude is not None and not callable(exclude):
        if isinstance(exclude, str):
            exclude = [exclude]
        names = {layer.name for layer in _layers(model)}
        names |= {layer.layer.name for layer in _layers(model) if isinstance(layer, PruneLowMagnitude)}
        missing = sorted(set(exclude) - names)
        if missing:
            raise ValueError(f"exclude={list(exclude)!r}: no layer named {missing} in the model")
    found = collections.OrderedDict()
    for layer in _layers(model):
        inner = layer.layer if isinstance(layer, PruneLowMagnitude) else layer
        attribute = prunable_attribute(inner)
        if attribute is None or _excluded(inner, exclude) or _excluded(layer, exclude):
            continue
        found[f"{inner.name}/{attribute}"] = layer
    return found


def weight_of(layer):
    """The prunable tf.Variable of a (possibly wrapped) layer."""
    inner = layer.layer if isinstance(layer, PruneLowMagnitude) else layer
    return getattr(inner, prunable_attribute(inner))


def mask_of(layer):
    """The TF-MOT mask variable of a wrapped layer."""
    weight = weight_of(layer)
    for w, mask, _ in layer.pruning_vars:
        if w is weight:
            return mask
    raise ValueError(f"layer {layer.name!r} has no pruning mask for {weight.name}")


def prunable_weights(model, exclude=None):
    """Ordered {key: numpy array} of the prunable weights, as currently masked."""
    out = collections.OrderedDict()
    for key, layer in prunable_layers(model, exclude).items():
        value = weight_of(layer).numpy()
        if isinstance(layer, PruneLowMagnitude) and layer.pruning_vars:
            value = value * mask_of(layer).numpy()
        out[key] = value
    return out
