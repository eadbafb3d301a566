"""``prune`` = allocate + wrap + schedule; ``wrap`` (no masks); ``strip``; ``is_pruned``.

The per-weight sparsities come from an allocation (:data:`tfprune.allocation.ALLOCATIONS`);
each layer with prunable weights gets a pruning wrapper (:mod:`tfprune.wrapper`, TF-MOT's
``PruneLowMagnitude``) whose :class:`~tfprune.schedules.LayerSchedule` holds each weight's
target in a ``tf.Variable``, so TF-MOT's own magnitude masks execute the allocation.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from tfprune import allocation as allocations
from tfprune import layers, masks, strategies, training_guard
from tfprune._validate import check_sparsity
from tfprune.backend import PruneLowMagnitude, keras, tf, tfmot
from tfprune.schedules import LayerSchedule, OneShot, Schedule
from tfprune.wrapper import wrap_layer


def copy_model(model: Any) -> Any:
    """An independent copy of ``model`` (same architecture and weights, no shared variables)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _clone(model, replace, prefix=""):
    """``model`` rebuilt with ``replace(path, layer)`` for every non-model layer (nested too)."""

    def clone_function(layer):
        if isinstance(layer, keras.Model):
            return _clone(layer, replace, f"{prefix}{layer.name}/")
        return replace(f"{prefix}{layer.name}", layer)

    return keras.models.clone_model(model, clone_function=clone_function)


def _resolve_schedule(sparsity, schedule):
    if schedule is None:
        if sparsity is None:
            raise ValueError("sparsity=None: give a target sparsity in [0, 1) or a schedule")
        return OneShot(sparsity)
    if not isinstance(schedule, Schedule):
        raise TypeError(
            f"schedule={schedule!r}: expected a tfprune.schedules.Schedule (OneShot, Gradual, Iterative, "
            "or a registered one)"
        )
    if sparsity is not None and abs(check_sparsity(sparsity) - schedule.sparsity) > 1e-12:
        raise ValueError(
            f"sparsity={sparsity!r} disagrees with schedule sparsity={schedule.sparsity!r}; give one of them"
        )
    return schedule


def wrap(model: Any, schedules: Mapping[str, LayerSchedule]) -> Any:
    """A copy of ``model`` with the layers at the paths of ``schedules`` ({layer path:
    :class:`~tfprune.schedules.LayerSchedule}`, as :func:`layer_schedules` makes them) wrapped;
    masks all ones. ``model`` is not modified."""
    _check_unwrapped(model)
    if not isinstance(schedules, Mapping):
        raise TypeError(f"schedules={type(schedules).__name__}: expected a mapping {{layer path: LayerSchedule}}")
    paths = list(dict.fromkeys(w.path for w in layers.prunable(model).values()))
    unknown = [p for p in schedules if p not in paths]
    if unknown:
        raise ValueError(f"schedules: {unknown} are not paths of prunable layers; the prunable layers are {paths}")
    wrong = {p: type(s).__name__ for p, s in schedules.items() if not isinstance(s, LayerSchedule)}
    if wrong:
        raise TypeError(f"schedules: {wrong}: expected tfprune.schedules.LayerSchedule values")
    return wrap_private_copy(copy_model(model), schedules)


def wrap_private_copy(model: Any, schedules: Mapping[str, LayerSchedule]) -> Any:
    """:func:`wrap` on a private copy ``model`` (its unwrapped layers are reused), unchecked."""
    def replace(path, layer):
        schedule = schedules.get(path)
        return layer if schedule is None else wrap_layer(layer, schedule)

    return _clone(model, replace)


def _check_unwrapped(model):
    layers.check_model(model)
    if is_pruned(model):
        raise ValueError("model: already wrapped for pruning; call tfprune.strip(model) first")


def prunable_or_fail(model: Any, exclude: Any = None) -> dict:
    """:func:`tfprune.layers.prunable` of ``model``; a ValueError when nothing is prunable."""
    found = layers.prunable(model, exclude)
    if not found:
        dense = ", ".join(f"{d['path']} ({d['type']}: {d['reason']})" for d in layers.dense_layers(model, exclude))
        raise ValueError(
            "model: no prunable layers (no weight TF-MOT can prune)" + (f" left after exclude={exclude!r}" if exclude else "")
            + (f"; layers left dense: {dense}" if dense else "")
        )
    return found


def layer_schedules(found: Mapping[str, Any], schedule: Schedule, targets: Mapping[str, float],
                    adaptive: bool = False, allocation: str | Callable | None = None,
                    overrides: Mapping[str, float] | None = None) -> dict[str, LayerSchedule]:
    """{layer path: LayerSchedule} holding ``targets`` ({key: sparsity}) for the weights in ``found``.

    ``allocation``: a registered name or function is recorded by name; an unregistered function is
    kept in memory (``LayerSchedule.function``) and recorded as None, so a saved model never
    continues with another allocation that happens to share its ``__name__``.
    """
    name, function = None, None
    if allocation is not None:
        method = allocations.entry(allocation)
        if allocations.ALLOCATIONS.get(method.name, None) is method:
            name = method.name
        else:
            function = method.load()
    by_path = {}
    for key, weight in found.items():
        by_path.setdefault(weight.path, []).append(targets[key])
    return {path: LayerSchedule(schedule, values, adaptive, name, overrides, function)
            for path, values in by_path.items()}


def prune(model: Any, sparsity: float | None = None, allocation: str | Callable = "lamp",
          schedule: Schedule | None = None, exclude: Any = None,
          overrides: Mapping[str, float] | None = None, reallocate: bool = True) -> Any:
    """Wrap ``model`` for pruning to an overall ``sparsity`` split over weights by ``allocation``.

    Args:
      model: a tf_keras Sequential or Functional model. It is not modified.
      sparsity: overall fraction of prunable weights removed, in [0, 1).
      allocation: a name in :data:`tfprune.allocation.ALLOCATIONS` ("lamp", "global",
        "uniform", "uniform+", "erk", or a registered one) or an allocation function.
      schedule: :class:`~tfprune.schedules.OneShot` (default: prune now, masks fixed),
        :class:`~tfprune.schedules.Gradual` or :class:`~tfprune.schedules.Iterative`.
      exclude: layer names, or a predicate ``layer -> bool``, to leave dense.
      overrides: {layer name or key: sparsity} fixed per weight; the rest share the remaining budget.
      reallocate: True (default, the LAMP paper's protocol): before every pruning step of a
        gradual or iterative schedule the allocation runs again on the surviving weights.
        False: allocations that read only shapes (``uses_values=False``) give each weight its
        final target once, scaled along the global ramp (``target * s(t) / s_final``), with no
        per-step Python; LAMP and global are always re-allocated.

    Returns:
      A new, uncompiled model with pruning wrappers. Compile it, then train with
      ``model.fit(..., callbacks=tfprune.callbacks(model))``.

    Example::

        pruned = tfprune.prune(model, schedule=tfprune.schedules.Gradual(0.9, end_step=2000))
        pruned.compile(...)
        pruned.fit(x, y, epochs=5, callbacks=tfprune.callbacks(pruned))
        small = tfprune.strip(pruned)
    """
    _check_unwrapped(model)
    strategies.check_strategy(tf.distribute.get_strategy(), "tf.distribute.get_strategy()")
    schedule = _resolve_schedule(sparsity, schedule)
    method = allocations.entry(allocation)
    model = copy_model(model)
    found = prunable_or_fail(model, exclude)
    weights = {k: w.value() for k, w in found.items()}
    final = allocations.allocate(allocation, weights, schedule.sparsity, overrides)
    allocations.warn_empty(allocation, final, {k: w.size for k, w in weights.items()}, schedule.sparsity)
    adaptive = bool(reallocate or method.adaptive)
    first_event = schedule.events[0][1] if schedule.events else schedule.sparsity
    initial = allocations.allocate(allocation, weights, first_event, overrides) if adaptive else final
    pruned = wrap_private_copy(model, layer_schedules(found, schedule, initial, adaptive, allocation, overrides))
    if not schedule.events:
        masks.apply_masks(pruned, masks.magnitude_masks(weights, final))
    return training_guard.install(pruned)


def is_pruned(model: Any) -> bool:
    """True when ``model`` holds pruning wrappers."""
    return any(isinstance(layer, PruneLowMagnitude) for layer in model.submodules)


def strip(model: Any) -> Any:
    """A plain tf_keras model with the masks baked into its weights (wrappers removed).

    The result shares no variables with ``model``; its outputs equal the wrapped model's.
    """
    layers.check_model(model)
    if not is_pruned(model):
        return copy_model(model)
    # In the model's strategy's scope (cross-replica context): a model trained under
    # MirroredStrategy has mirrored weights, which TF-MOT's mask op cannot update from outside it.
    with model.distribute_strategy.scope():
        for layer in model.submodules:
            if isinstance(layer, PruneLowMagnitude) and layer.pruning_vars:
                layer.pruning_obj.weight_mask_op()
    return copy_model(tfmot.sparsity.keras.strip_pruning(model))
