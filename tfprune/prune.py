"""``prune``: wrap a tf_keras model for pruning with per-layer targets; ``strip``: unwrap it.

The per-layer sparsities come from an allocation (LAMP, global, uniform, uniform+, ERK);
each prunable layer gets a TF-MOT ``PruneLowMagnitude`` wrapper whose
:class:`~tfprune.schedules.LayerSchedule` holds the layer's target in a ``tf.Variable``, so
TF-MOT's own magnitude masks execute the allocation.
"""

import numpy as np

from tfprune import allocation as allocations
from tfprune import guard, masks, targets
from tfprune.allocation import budget
from tfprune.backend import PruneLowMagnitude, keras, tfmot
from tfprune.schedules import LayerSchedule, OneShot, Schedule


def _copy(model):
    """An independent copy of ``model`` (same architecture and weights, no shared variables)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _clone(model, clone_function):
    def recurse(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=recurse)
        return clone_function(layer)

    return keras.models.clone_model(model, clone_function=recurse)


def _resolve_schedule(sparsity, schedule):
    if schedule is None:
        if sparsity is None:
            raise ValueError("sparsity=None: give a target sparsity in [0, 1) or a schedule")
        return OneShot(sparsity)
    if not isinstance(schedule, Schedule):
        raise TypeError(
            f"schedule={schedule!r}: expected tfprune.schedules.OneShot, Gradual or Iterative"
        )
    if sparsity is not None and abs(budget.check_sparsity(sparsity) - schedule.sparsity) > 1e-12:
        raise ValueError(
            f"sparsity={sparsity!r} disagrees with schedule sparsity={schedule.sparsity!r}; give one of them"
        )
    return schedule


def prune(model, sparsity=None, allocation="lamp", schedule=None, exclude=None, overrides=None):
    """Wrap ``model`` for pruning to an overall ``sparsity`` split over layers by ``allocation``.

    Args:
      model: a tf_keras Sequential or Functional model. It is not modified.
      sparsity: overall fraction of prunable weights removed, in [0, 1).
      allocation: "lamp", "global", "uniform", "uniform+" or "erk".
      schedule: :class:`~tfprune.schedules.OneShot` (default: prune now, masks fixed),
        :class:`~tfprune.schedules.Gradual` or :class:`~tfprune.schedules.Iterative`.
      exclude: layer names, or a predicate ``layer -> bool``, to leave dense.
      overrides: {layer name: sparsity} fixed per layer; the rest share the remaining budget.

    Returns:
      A new, uncompiled model with TF-MOT wrappers. Compile it, then train with
      ``model.fit(..., callbacks=tfprune.callbacks(model))``.

    Example::

        pruned = tfprune.prune(model, schedule=tfprune.schedules.Gradual(0.9, end_step=2000))
        pruned.compile(...)
        pruned.fit(x, y, epochs=5, callbacks=tfprune.callbacks(pruned))
        small = tfprune.strip(pruned)
    """
    targets.check_model(model)
    if any(isinstance(layer, PruneLowMagnitude) for layer in model.submodules):
        raise ValueError("model: already wrapped for pruning; call tfprune.strip(model) first")
    schedule = _resolve_schedule(sparsity, schedule)
    method = allocation if isinstance(allocation, str) else getattr(allocation, "__name__", "custom")
    allocate = allocations.get(allocation)
    adaptive = allocation in allocations.ADAPTIVE
    model = _copy(model)
    layers = targets.prunable_layers(model, exclude)
    if not layers:
        raise ValueError(
            "model: no prunable layers (Dense, Conv1D/2D/3D, SeparableConv, Embedding)"
            + (f" left after exclude={exclude!r}" if exclude else "")
        )
    weights = targets.prunable_weights(model, exclude)
    final = allocations.allocate(allocate, weights, schedule.sparsity, overrides)
    first_event = schedule.events[0][1] if schedule.events else schedule.sparsity
    initial = allocations.allocate(allocate, weights, first_event, overrides) if adaptive else final
    by_layer = {layer.name: key for key, layer in layers.items()}

    def wrap(layer):
        key = by_layer.get(layer.name)
        if key is None:
            return layer
        layer_schedule = LayerSchedule(
            schedule, initial[key] if adaptive else final[key], adaptive, method, overrides
        )
        return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=layer_schedule)

    pruned = _clone(model, wrap)
    if not schedule.events:
        sizes = {k: weights[k].size for k in final}
        keep = masks.keep_counts(final, sizes)
        masks.apply_masks(pruned, {k: masks.top_k_mask(np.abs(weights[k]), keep[k]) for k in final})
    return guard.install(pruned)


def is_pruned(model):
    """True when ``model`` holds TF-MOT pruning wrappers."""
    return any(isinstance(layer, PruneLowMagnitude) for layer in model.submodules)


def strip(model):
    """A plain tf_keras model with the masks baked into its weights (wrappers removed).

    The result shares no variables with ``model``; its outputs equal the wrapped model's.
    """
    targets.check_model(model)
    if not is_pruned(model):
        return _copy(model)
    for layer in model.submodules:
        if isinstance(layer, PruneLowMagnitude) and layer.pruning_vars:
            layer.pruning_obj.weight_mask_op()
    return _copy(tfmot.sparsity.keras.strip_pruning(model))
