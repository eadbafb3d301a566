"""Layer collapse after pruning at initialisation: empty layers, dead units, lost connectivity.

A layer with no surviving weight disconnects the network (Tanaka et al. 2020; Hayou et al.
2021). :func:`collapse_report` lists empty layers and dead output units and checks exactly
whether any input-output path survives (:func:`is_connected`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tfprune import layers
from tfprune.backend import tf
from tfprune.scoring import _common
from tfprune.scoring.sbp_si import output_axis


class CollapseWarning(UserWarning):
    """A pruned-at-init model has an empty layer or no path left from input to output."""


def is_connected(model: Any) -> bool | None:
    """True when some input still reaches the output through non-zero weights; None if unknown.

    Works on a float64 clone: every kernel as |w| (masked, for a wrapped model), biases, BN
    betas and moving means set to 0, other weights |w|; with an all-ones input the gradient of
    the summed logits w.r.t. the input is non-zero exactly when an input-output path survives
    (for networks of Dense/Conv/pooling/BatchNorm layers with monotone activations). None when
    that cannot be checked: inputs that are not differentiable (token ids into an Embedding),
    input shapes not fully known, or layers that cannot be cloned in float64.
    """
    layers.check_model(model)
    zeroed = ("bias", "beta", "moving_mean")

    def transform(layer, name, value):
        short = name.split("/")[-1].split(":")[0]
        return np.zeros_like(value) if short in zeroed else np.abs(value)

    try:
        clone = _common.float_clone(model, "float64", transform)
        masked = layers.prunable_weights(model)
        for key, weight in layers.prunable(clone).items():
            if key in masked:
                weight.variable.assign(np.abs(masked[key]))
        net = _common.logits_model(clone) if len(clone.outputs) == 1 else clone
        inputs = _common.ones_inputs(net, tf.float64)
    except (ValueError, TypeError, NotImplementedError):
        return None
    inputs = inputs if isinstance(inputs, list) else [inputs]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = net(inputs if len(inputs) > 1 else inputs[0], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        total = tf.add_n([tf.reduce_sum(tf.cast(o, tf.float64)) for o in outputs])
    grads = tape.gradient(total, inputs)
    if any(g is None for g in grads):
        return None
    return any(bool(tf.reduce_any(tf.not_equal(g, 0.0))) for g in grads)


def collapse_report(model: Any, exclude: Any = None) -> dict:
    """Which layers and output units a (pruned) model has lost, and whether it is still connected.

    Returns ``{"collapsed": [layer paths with no non-zero weight], "dead_units": {name:
    [indices of output units with no non-zero incoming weight]} (only those with some),
    "units": {name: number of output units}, "connected": bool or None}`` (None: could not
    be checked, see :func:`is_connected`). ``name`` is the layer path for a layer with one
    prunable weight, the weight's key for layers with several (LSTM, MultiHeadAttention).
    """
    found = layers.prunable(model, exclude)
    per_layer = {}
    for weight in found.values():
        per_layer[weight.path] = per_layer.get(weight.path, 0) + 1
    dead, units, alive_in = {}, {}, {}
    for key, weight in found.items():
        name = weight.path if per_layer[weight.path] == 1 else key
        value = weight.value()
        alive_in[weight.path] = alive_in.get(weight.path, False) or bool(np.any(value))
        axis = output_axis(weight.layer)
        if axis is None or value.ndim < 2:
            continue
        moved = np.moveaxis(value, axis, -1)
        alive = np.any(moved.reshape(-1, moved.shape[-1]) != 0, axis=0)
        units[name] = int(alive.size)
        if not alive.all():
            dead[name] = [int(i) for i in np.flatnonzero(~alive)]
    collapsed = [path for path, alive in alive_in.items() if not alive]
    return {"collapsed": collapsed, "dead_units": dead, "units": units, "connected": is_connected(model)}


def warn_collapse(report):
    if report["connected"] is False:
        warnings.warn(
            CollapseWarning(
                "pruning at initialisation disconnected the network: no path from the input to the "
                f"output survives (empty layers: {report['collapsed'] or 'none'}; layers with dead "
                f"units: {sorted(report['dead_units']) or 'none'}). Training cannot recover from this; "
                "lower the sparsity, use a scorer that avoids layer collapse (synflow, sbp-si), or "
                "pass min_per_layer=1 / min_per_unit=1."
            ),
            stacklevel=3,
        )
    elif report["collapsed"]:
        warnings.warn(
            CollapseWarning(
                f"pruning at initialisation emptied layers {report['collapsed']} (the network stays "
                "connected through other paths); pass min_per_layer=1 to keep a weight in every layer."
            ),
            stacklevel=3,
        )
