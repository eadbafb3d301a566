"""Linear mode connectivity between two models, with BatchNorm statistics recomputed at each point.

Zhou, Yang, Chang, Mahoney, "A three-regime model of network pruning", ICML 2023: evaluate the
training error ``e(t)`` at evenly spaced ``t`` on the straight line ``(1 - t) w_a + t w_b``
between two models' weights, then::

    mc = (e(0) + e(1)) / 2 - e(t*),   t* = argmax_t |(e(0) + e(1)) / 2 - e(t)|

``mc < 0``: the path climbs over a barrier (poorly connected); ``mc > 0``: the middle of the path
is better than its ends. BatchNorm statistics of an interpolated model are meaningless (the
average of two models' statistics), so at every point they are reset and recomputed from data
in one pass over it in training mode, as a cumulative average (momentum ``b / (seen + b)`` for
a batch of ``b`` after ``seen`` examples) of the first and second moments of each layer's inputs:
the moving mean and variance end up the exact mean and (population) variance of those inputs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from tfprune import layers
from tfprune._validate import check_int
from tfprune.backend import keras, tf
from tfprune.diagnostics._batches import batches, labels
from tfprune.pruning import copy_model, is_pruned, strip


@dataclasses.dataclass(frozen=True)
class ConnectivityResult:
    """The path between two models: ``t``, training ``errors`` and ``losses`` at each ``t``, and ``mc``."""

    t: tuple
    errors: tuple
    losses: tuple
    mc: float
    t_star: float
    bn_recomputed: bool

    @property
    def barrier(self) -> bool:
        """True when the path rises above the mean of its end points (``mc < 0``)."""
        return self.mc < 0

    def as_dict(self) -> dict:
        """The fields as a plain dict (JSON-ready)."""
        return dataclasses.asdict(self)


def connectivity(errors: Any) -> tuple[float, int]:
    """``(mc, index of t*)`` from the errors along the path (first and last are the end points)."""
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim != 1 or len(errors) < 3:
        raise ValueError(f"errors: shape {errors.shape}; expected at least 3 values along the path")
    deviation = (errors[0] + errors[-1]) / 2.0 - errors
    index = int(np.argmax(np.abs(deviation)))
    return float(deviation[index]), index


def batchnorm_layers(model: Any) -> list:
    """Every BatchNormalization layer of ``model`` (nested sub-models and wrappers included)."""
    return [layers.unwrap(layer) for _, layer in layers.iter_layers(model)
            if isinstance(layers.unwrap(layer), keras.layers.BatchNormalization)]


def recompute_batchnorm(model: Any, data: Any) -> int:
    """Reset every BatchNorm layer's moving statistics and recompute them on ``data``.

    One pass over ``data`` in training mode (each layer normalises with its batch statistics,
    as during training); each layer's moving mean and variance become the cumulative averages
    of the first and second moments of its inputs, i.e. their exact mean and population
    variance over ``data``. Returns the number of BatchNorm layers (0: nothing to do).
    """
    found = batchnorm_layers(model)
    if not found:
        return 0
    fixed = batches(data, "bn_data")
    sums = {}

    def recorder(layer, call):
        def recording_call(inputs, *args, **kwargs):
            values = tf.cast(inputs, tf.float64)
            axes = [a for a in range(values.shape.rank) if a not in _axes(layer, values.shape.rank)]
            count = float(np.prod([values.shape[a] for a in axes]))
            seen, mean, square = sums.get(id(layer), (0.0, 0.0, 0.0))
            momentum = count / (seen + count)  # the paper's cumulative average
            mean = mean + momentum * (tf.reduce_mean(values, axes).numpy() - mean)
            square = square + momentum * (tf.reduce_mean(tf.square(values), axes).numpy() - square)
            sums[id(layer)] = (seen + count, mean, square)
            return call(inputs, *args, **kwargs)
        return recording_call

    for layer in found:
        layer.moving_mean.assign(tf.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(tf.ones_like(layer.moving_variance))
        layer.call = recorder(layer, layer.call)
    try:
        for x, _ in fixed:
            model(x, training=True)
    finally:
        for layer in found:
            del layer.call
    for layer in found:
        _, mean, square = sums[id(layer)]
        layer.moving_mean.assign(np.reshape(mean, layer.moving_mean.shape))
        layer.moving_variance.assign(np.reshape(np.maximum(square - mean ** 2, 0.0), layer.moving_variance.shape))
    return len(found)


def _axes(layer, rank):
    return [a % rank for a in layer.axis]


def _plain(model: Any, argument: str) -> Any:
    """A stripped copy of ``model`` (masks baked in); wrapped models are stripped."""
    layers.check_model(model, argument)
    return strip(model) if is_pruned(model) else model


def _check_same_masks(model_a: Any, model_b: Any) -> None:
    """Two wrapped models must hold the same masks (compared in model order: names may differ)."""
    if not (is_pruned(model_a) and is_pruned(model_b)):
        return
    found_a, found_b = (list(layers.prunable(m).values()) for m in (model_a, model_b))
    masks_a = [None if w.mask is None else w.mask.numpy() for w in found_a]
    masks_b = [None if w.mask is None else w.mask.numpy() for w in found_b]
    differ = [w.key for w, ma, mb in zip(found_a, masks_a, masks_b)
              if (ma is None) != (mb is None) or (ma is not None and not np.array_equal(ma, mb))]
    if differ or len(masks_a) != len(masks_b):
        raise ValueError(f"model_a, model_b: their pruning masks differ (model_a's {differ or 'weights'}); "
                         "mode connectivity compares two models retrained from the same mask")


def _check_architecture(a: list, b: list) -> None:
    shapes_a, shapes_b = [w.shape for w in a], [w.shape for w in b]
    if shapes_a != shapes_b:
        raise ValueError(f"model_a, model_b: different architectures (weight shapes {shapes_a} vs {shapes_b}); "
                         "the path between two models needs the same architecture")


def interpolate(weights_a: list, weights_b: list, t: float) -> list:
    """The weights at ``t`` on the straight line: exactly ``weights_a`` at 0 and ``weights_b`` at 1."""
    if t == 0.0:
        return list(weights_a)
    if t == 1.0:
        return list(weights_b)
    return [(a + t * (b.astype(np.float64) - a)).astype(a.dtype) if np.issubdtype(a.dtype, np.floating) else a
            for a, b in zip(weights_a, weights_b)]


def _default_loss(model):
    loss = getattr(model, "loss", None)
    if callable(loss):
        return loss
    if isinstance(loss, str):
        return keras.losses.get(loss)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def evaluate(model: Any, fixed: list, loss: Callable | None = None) -> tuple[float, float]:
    """``(error, mean loss)`` of ``model`` (inference mode) over the batches ``fixed``; the loss is
    NaN when ``loss`` is None."""
    wrong, total, loss_sum = 0, 0, 0.0
    for x, y in fixed:
        predictions = model(x, training=False)
        wrong += int(np.sum(np.argmax(predictions.numpy(), axis=-1) != labels(y)))
        loss_sum += float("nan") if loss is None else float(loss(y, predictions)) * len(y)
        total += len(y)
    return wrong / total, loss_sum / total


def mode_connectivity(model_a: Any, model_b: Any, data: Any, points: int = 11, bn_data: Any = "data",
                      loss: Callable | None = None) -> ConnectivityResult:
    """Training error and loss on the straight line between two models, and the connectivity ``mc``.

    Args:
      model_a, model_b: tf_keras models of the same architecture: plain, stripped, or both wrapped
        for pruning with the same masks (they are stripped first). Not modified.
      data: the training data the errors are measured on (a ``tf.data.Dataset`` of ``(x, y)``
        batches, a ``tfprune.data.Splits``, an ``(x, y)`` pair or a list of batches).
      points: evenly spaced points on ``[0, 1]``, end points included (the paper: 11).
      bn_data: the data BatchNorm statistics are recomputed on at each point: ``"data"`` (the
        default: ``data``), other data, or None to keep the interpolated statistics.
      loss: ``loss(y_true, y_pred)``; default: ``model_a``'s compiled loss, else sparse
        categorical cross-entropy on logits.

    Returns:
      A :class:`ConnectivityResult`; ``mc < 0`` means a barrier (Zhou et al. 2023).
    """
    points = check_int(points, "points", minimum=3)
    _check_same_masks(model_a, model_b)
    plain_a, plain_b = _plain(model_a, "model_a"), _plain(model_b, "model_b")
    weights_a, weights_b = plain_a.get_weights(), plain_b.get_weights()
    _check_architecture(weights_a, weights_b)
    fixed = batches(data, "data")
    bn_source = fixed if isinstance(bn_data, str) and bn_data == "data" else bn_data
    loss = _default_loss(model_a) if loss is None else loss
    if not callable(loss):
        raise TypeError(f"loss={loss!r}: expected a callable loss(y_true, y_pred) or None")
    net = copy_model(plain_a)
    recompute = bn_source is not None and bool(batchnorm_layers(net))
    ts = np.linspace(0.0, 1.0, points)
    errors, losses = [], []
    for t in ts:
        net.set_weights(interpolate(weights_a, weights_b, float(t)))
        if recompute:
            recompute_batchnorm(net, bn_source)
        error, mean_loss = evaluate(net, fixed, loss)
        errors.append(error)
        losses.append(mean_loss)
    mc, index = connectivity(errors)
    return ConnectivityResult(tuple(float(t) for t in ts), tuple(errors), tuple(losses), mc, float(ts[index]),
                              recompute)
