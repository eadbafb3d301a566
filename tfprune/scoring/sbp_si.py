"""Initialisation for pruning at init: Edge of Chaos, rescaling after pruning, stable ResNets.

Hayou, Ton, Doucet, Teh, "Pruning untrained neural networks: principles and analysis"
(arXiv 2002.08797; ICLR 2021 as "Robust pruning at initialization"). Their SBP-SI recipe,
``tfprune.prune_at_init(model, s, score="sbp-si", data=...)``, is: Edge-of-Chaos
initialisation -> SNIP scores -> one global mask -> rescaling -> train.

* :func:`edge_of_chaos` draws ``W ~ N(0, sigma_w^2 / fan_in)`` and ``b ~ N(0, sigma_b^2)`` with
  the (sigma_w, sigma_b) of :data:`EOC` for the network's activation.
* :func:`rescale_weight` / :func:`rescale` restore, after masking, the squared norm of each
  output unit's fan-in::

      rho_i = sqrt( sum_j W_ij^2 / sum_j W_ij^2 delta_ij )     new W_ij = rho_i * delta_ij * W_ij

  so ``sum_j (rho_i delta_ij W_ij)^2 = sum_j W_ij^2``: every unit keeps its pre-pruning
  pre-activation variance scale. ``i`` runs over output units (Dense: columns of the (in, out)
  kernel; Conv: output channels, the sum running over kernel positions and input channels).
  A unit with no surviving weight has no rho; it stays 0 and is reported as dead.
  (The paper's exact equation could not be confirmed; this is the form documented in
  docs/pruning_at_init.md.)
* :func:`stable_resnet_scale` and :class:`BranchScale` scale every residual branch by
  ``1 / sqrt(L)`` (L residual blocks), the "stable ResNet" of the same paper.
"""

import math
import numbers

import numpy as np

from tfprune import layers
from tfprune._validate import check_int
from tfprune.backend import keras, tf

#: Edge-of-Chaos (sigma_w, sigma_b) per activation (Hayou et al.): W ~ N(0, sigma_w^2/fan_in),
#: b ~ N(0, sigma_b^2). ReLU: sigma_w^2 = 2, sigma_b = 0.
EOC = {
    "relu": (math.sqrt(2.0), 0.0),
    "tanh": (1.2981, 0.2),
    "elu": (1.22459, 0.2),
}

_register = keras.utils.register_keras_serializable(package="tfprune")
_CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSED = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)


# --------------------------------------------------------------------------- edge of chaos


def _check_activation(activation):
    if not isinstance(activation, str):
        raise TypeError(f"activation={activation!r}: expected one of {sorted(EOC)} (a string)")
    name = activation.lower()
    if name not in EOC:
        raise ValueError(f"activation={activation!r}: no Edge-of-Chaos values known; choose one of {sorted(EOC)}")
    return name


def _layers(model):
    for _, layer in layers.iter_layers(model):
        yield layers.unwrap(layer)


def infer_activation(model):
    """The one hidden activation of ``model`` among :data:`EOC` ("relu", "tanh", "elu").

    Reads the ``activation`` of Dense/Conv layers (the output layer excluded) and standalone
    ReLU / ELU / Activation layers; raises ValueError when none or several are found.
    """
    layers.check_model(model)
    flat = list(_layers(model))
    found = set()
    for i, layer in enumerate(flat):
        if isinstance(layer, keras.layers.ReLU):
            found.add("relu")
        elif isinstance(layer, keras.layers.ELU):
            found.add("elu")
        elif isinstance(layer, (keras.layers.Activation, keras.layers.Dense) + _CONV):
            name = getattr(getattr(layer, "activation", None), "__name__", "linear")
            is_output = not any(hasattr(later, "kernel") for later in flat[i + 1:])
            if name in ("linear", "softmax", "sigmoid") and (is_output or name == "linear"):
                continue
            found.add(name)
    known = found & set(EOC)
    if len(known) != 1 or found - set(EOC):
        raise ValueError(
            f"activation=None: cannot infer the Edge-of-Chaos activation (hidden activations found: "
            f"{sorted(found) or 'none'}); pass activation= one of {sorted(EOC)}"
        )
    return known.pop()


def _fan_in(layer, name, shape):
    """Fan-in of a kernel, or None for weights edge_of_chaos leaves alone."""
    if isinstance(layer, keras.layers.Dense):
        return shape[0] if name == "kernel" else None
    if isinstance(layer, _TRANSPOSED):
        return None
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return int(np.prod(shape[:-2])) if name == "depthwise_kernel" else None
    if isinstance(layer, (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        if name == "depthwise_kernel":
            return int(np.prod(shape[:-2]))
        return int(shape[-2]) if name == "pointwise_kernel" else None
    if isinstance(layer, _CONV):
        return int(np.prod(shape[:-1])) if name == "kernel" else None
    return None


def edge_of_chaos(model, activation, *, seed=None):
    """Re-initialise ``model`` IN PLACE on the Edge of Chaos for ``activation``; return it.

    Every Dense, Conv1D/2D/3D, DepthwiseConv2D and SeparableConv layer (output layer included,
    wrapped layers too) gets ``W ~ N(0, sigma_w^2 / fan_in)`` (fan_in = inputs per output
    unit: Dense ``in``, Conv ``kh*kw*cin``, depthwise ``kh*kw``, pointwise ``cin``) and, where it
    has a bias, ``b ~ N(0, sigma_b^2)``. Transposed convolutions, Embedding, BatchNorm and all
    other weights are left as they are.

    Args:
      model: a tf_keras Sequential or Functional model.
      activation: "relu" (sigma_w^2 = 2, sigma_b = 0), "tanh" (1.2981, 0.2) or "elu" (1.22459, 0.2).
      seed: int or None, for NumPy's generator.

    Example::

        tfprune.init.edge_of_chaos(model, "tanh", seed=0)
    """
    layers.check_model(model)
    sigma_w, sigma_b = EOC[_check_activation(activation)]
    seed = check_int(seed, "seed", allow_none=True)
    rng = np.random.default_rng(seed)
    for layer in _layers(model):
        kernels = [w for w in layer.weights if _fan_in(layer, w.name.split("/")[-1].split(":")[0], w.shape)]
        if not kernels:
            continue
        for weight in layer.weights:
            name = weight.name.split("/")[-1].split(":")[0]
            shape = tuple(int(d) for d in weight.shape)
            fan_in = _fan_in(layer, name, shape)
            if fan_in:
                value = rng.normal(0.0, sigma_w / math.sqrt(fan_in), size=shape)
            elif name == "bias":
                value = rng.normal(0.0, sigma_b, size=shape) if sigma_b > 0 else np.zeros(shape)
            else:
                continue
            weight.assign(value.astype(weight.dtype.as_numpy_dtype))
    return model


def initialise(model, activation=None, seed=None):
    """SBP-SI's first step on ``model`` (in place): Edge of Chaos for ``activation`` (inferred
    from the model when None); returns the activation used."""
    activation = infer_activation(model) if activation is None else activation
    edge_of_chaos(model, activation, seed=seed)
    return activation


# --------------------------------------------------------------------------- rescaling


def output_axis(layer):
    """Axis of the output units in ``layer``'s prunable weight (-1; -2 for transposed convs).

    None for Embedding (no fan-in to restore). Wrapped layers are unwrapped.
    """
    inner = layers.unwrap(layer)
    if isinstance(inner, keras.layers.Embedding):
        return None
    if isinstance(inner, _TRANSPOSED):
        return -2
    return -1


def rescale_weight(weight, mask, axis=-1):
    """``(rho * mask * weight, dead_units)`` for one kernel.

    ``rho_i = sqrt(sum_j W_ij^2 / sum_j W_ij^2 mask_ij)`` for output unit ``i`` along ``axis``
    (sums over every other axis). ``dead_units`` lists the units with no surviving non-zero
    weight; they stay 0. Computed in float64, returned in the weight's dtype.
    """
    weight = np.asarray(weight)
    mask = np.asarray(mask)
    if mask.shape != weight.shape:
        raise ValueError(f"mask: shape {mask.shape} does not match the weight's {weight.shape}")
    if axis is None:
        return weight * mask, np.zeros(0, np.int64)
    w = np.moveaxis(weight.astype(np.float64), axis, -1)
    m = np.moveaxis(mask.astype(np.float64), axis, -1)
    squares = np.square(w)
    reduce = tuple(range(w.ndim - 1))
    full = squares.sum(axis=reduce)
    kept = (squares * m).sum(axis=reduce)
    alive = kept > 0
    rho = np.where(alive, np.sqrt(np.divide(full, kept, out=np.ones_like(full), where=alive)), 0.0)
    new = np.moveaxis(w * m * rho, -1, axis)
    return new.astype(weight.dtype), np.flatnonzero(~alive)


def rescale_weights(weights, masks, axes=None):
    """Pure dict version: ``({key: rescaled}, {key: dead unit indices})`` for ``masks``' keys.

    ``axes`` gives each key's output axis (default -1; None leaves a weight unscaled).
    """
    new, dead = {}, {}
    for key, mask in masks.items():
        if key not in weights:
            raise ValueError(f"masks[{key!r}]: no weight with that key; weights have {list(weights)}")
        axis = -1 if axes is None else axes.get(key, -1)
        new[key], dead[key] = rescale_weight(weights[key], mask, axis)
    return new, dead


def rescale(model, dense_weights):
    """Rescale a wrapped model's masked kernels in place; return ``{key: dead unit indices}``.

    ``dense_weights`` ({key: array}) are the kernels BEFORE masking (the rescaling needs the
    pruned weights' norm); each wrapped layer's mask variable gives delta. The kernel variable
    becomes ``rho * delta * W``.
    """
    found = layers.prunable(model)
    dead = {}
    for key, weight in dense_weights.items():
        target = found.get(key)
        if target is None or target.mask is None:
            raise ValueError(f"dense_weights[{key!r}]: no wrapped prunable layer with that key")
        variable = target.variable
        new, dead[key] = rescale_weight(weight, target.mask.numpy(), output_axis(target.layer))
        variable.assign(new.astype(variable.dtype.as_numpy_dtype))
    return dead


# --------------------------------------------------------------------------- stable ResNet


def stable_resnet_scale(num_blocks):
    """``1 / sqrt(num_blocks)``: the residual-branch factor of a stable ResNet (Hayou et al.)."""
    return 1.0 / math.sqrt(check_int(num_blocks, "num_blocks", 1))


@_register
class BranchScale(keras.layers.Layer):
    """Multiply its input by a fixed ``scale`` (no weights); saved and reloaded with the model."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale):
            raise ValueError(f"scale={scale!r}: must be a finite number")
        self.scale = float(scale)

    def call(self, inputs):
        return inputs * tf.cast(self.scale, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def scale_branch(branch, num_blocks, name=None):
    """``branch / sqrt(num_blocks)`` as a :class:`BranchScale` layer (Functional API).

    Example (one residual block of a stable ResNet with ``L`` blocks)::

        y = keras.layers.Add()([x, tfprune.init.scale_branch(f(x), num_blocks=L)])
    """
    return BranchScale(stable_resnet_scale(num_blocks), name=name)(branch)
