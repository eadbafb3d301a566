"""Sharpness-aware minimisation (SAM) for tf_keras models, respecting pruning masks.

Foret, Kleiner, Mobahi, Neyshabur, "Sharpness-Aware Minimization for Efficiently Improving
Generalization", ICLR 2021. One step from weights ``w`` with gradient ``g``::

    e = rho * g / ||g||            (ascent to the worst nearby point, L2 ball of radius rho)
    g_sam = grad L(w + e)          (the gradient there)
    w <- optimizer step from w with g_sam

Zhou et al. (ICML 2023) use ``rho`` as a temperature-like parameter of dense training. In a
model wrapped for pruning, gradients of pruned weights are multiplied by their masks before the
norm and the perturbation, so the ascent never moves a pruned weight. The ascent pass changes no
state: masks, pruning step, BatchNorm statistics and the loss metric are restored after it; the
reported loss and metrics are those at ``w``. Works with ``jit_compile=True`` and with
``tfprune.callbacks``. Not for distribution strategies (the step assigns to the variables).
"""

from __future__ import annotations

import math
import types
from typing import Any, Sequence

from tfprune import layers
from tfprune._validate import is_real
from tfprune.backend import keras, tf


def sam_perturbation(gradients: Sequence[Any], masks: Sequence[Any], rho: float) -> list:
    """``e = rho * g / ||g||`` with ``g`` the gradients times their masks (None: no mask; a
    None gradient gives a None entry). ``e`` is zero when ``g`` is."""
    masked = [None if g is None else (g if m is None else g * tf.cast(m, g.dtype))
              for g, m in zip(gradients, masks)]
    present = [g for g in masked if g is not None]
    norm = tf.linalg.global_norm(present) if present else tf.constant(0.0)
    out = []
    for g in masked:
        out.append(None if g is None else g * tf.math.divide_no_nan(tf.cast(rho, g.dtype), tf.cast(norm, g.dtype)))
    return out


def _masks_by_variable(model: Any) -> dict:
    """{variable ref: mask variable} for the pruned weights of a wrapped model."""
    try:
        found = layers.prunable(model)
    except (TypeError, ValueError):  # a subclassed model holds no tfprune wrappers
        return {}
    return {w.variable.ref(): w.mask for w in found.values() if w.mask is not None}


def sam_train_step(model: Any, data: Any, rho: float) -> dict:
    """One SAM step of ``model`` on a batch ``data`` (what ``use_sam`` installs as ``train_step``)."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x, y, y_pred, sample_weight)
    model._validate_target_and_loss(y, loss)
    gradients = tape.gradient(loss, variables)
    masks = _masks_by_variable(model)
    ascent = sam_perturbation(gradients, [masks.get(v.ref()) for v in variables], rho)
    state = list(model.non_trainable_variables) + [v for m in model.metrics for v in m.variables]
    saved_state = [tf.identity(v) for v in state]
    saved_weights = [tf.identity(v) for v in variables]
    for variable, step in zip(variables, ascent):
        if step is not None:
            variable.assign_add(step)
    with tf.GradientTape() as tape:
        perturbed_loss = model.compute_loss(x, y, model(x, training=True), sample_weight)
    sharp_gradients = tape.gradient(perturbed_loss, variables)
    for variable, value in zip(variables + state, saved_weights + saved_state):
        variable.assign(value)
    model.optimizer.apply_gradients(
        [(g, v) for g, v in zip(sharp_gradients, variables) if g is not None])
    return model.compute_metrics(x, y, y_pred, sample_weight)


def use_sam(model: Any, rho: float) -> Any:
    """Make ``model.fit`` train ``model`` with SAM of radius ``rho`` (``rho = 0``: the plain optimizer).

    Installs a SAM ``train_step`` on this model object (compile before or after; not saved with
    the model). Returns ``model``.

    Example::

        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=..., jit_compile=True)
        tfprune.diagnostics.use_sam(model, rho=0.05).fit(x, y, epochs=5)
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model: expected a tf_keras Model, got {type(model).__name__}")
    if not is_real(rho) or not math.isfinite(rho) or rho < 0:
        raise ValueError(f"rho={rho!r}: must be a finite number >= 0 (the radius of SAM's ascent step)")
    model.train_step = types.MethodType(lambda self, data: sam_train_step(self, data, float(rho)), model)
    model.train_function = None  # rebuilt with the SAM step on the next fit
    model._tfprune_sam_rho = float(rho)
    return model
