"""The callbacks ``model.fit`` needs to prune, in one bundle: ``tfprune.callbacks(model)``.

* TF-MOT's ``UpdatePruningStep`` (sets the pruning step to 0 before the first batch; re-masks the
  weights at each epoch's end),
* :class:`UpdateMasks`: before the batch of each pruning step, recomputes the masks (the training
  step of a model fitted with these callbacks does not evaluate the schedule: see
  :mod:`tfprune.wrapper`),
* :class:`RefreshAllocation` in its place for LAMP and global magnitude: before every pruning step
  the per-layer targets are recomputed from the current (masked) weights, as the LAMP paper does,
  then the masks,
* :class:`Rewind` when the schedule asks for weight rewinding,
* :class:`SparsitySummaries` (TensorBoard, per-layer sparsity) when ``log_dir`` is given,
* :class:`ScheduleEndCheck`: warns (:class:`SparsityNotReachedWarning`) when ``fit`` ends before
  the schedule's last pruning event, so the model is less sparse than its target.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from tfprune import allocation as allocations
from tfprune import layers, strategies, training_guard
from tfprune.backend import PruneLowMagnitude, keras, tf, tfmot
from tfprune.schedules import LayerSchedule


def _layer_schedules(model):
    """{layer path: LayerSchedule} of the model's tfprune wrappers."""
    out = {}
    for path, layer in layers.prunable_layers(model).items():
        if isinstance(layer, PruneLowMagnitude) and isinstance(layer.pruning_schedule, LayerSchedule):
            out[path] = layer.pruning_schedule
    return out


def _pruning_step(model):
    """The training step of the last batch trained (0 before training)."""
    for layer in layers.prunable_layers(model).values():
        if isinstance(layer, PruneLowMagnitude):
            step = layer.schedule_step() if hasattr(layer, "schedule_step") else layer.pruning_step
            return max(int(step.numpy()), 0)
    return 0


def _count_calls(model):
    """Tell every tfprune wrapper how often it runs per training step (shared layers: more than once)."""
    counts = layers.calls_per_step(model)
    for _, layer in layers.iter_layers(model):
        if hasattr(layer, "schedule_step"):
            layer.calls_per_step = counts.get(id(layer), 1)


class _StepCounter(keras.callbacks.Callback):
    """Marks the pruning callbacks as present for the guard, and knows the pruning step the next
    batch runs at, without reading the device per batch."""

    def __init__(self):
        super().__init__()
        self._supports_tf_logs = True  # never forces a device sync of the logs

    def on_train_begin(self, logs=None):
        unset = [path for path, layer in layers.prunable_layers(self.model).items()
                 if isinstance(layer, PruneLowMagnitude) and int(layer.pruning_step.numpy()) < 0]
        if unset:
            raise training_guard.MissingPruningCallbacks(
                f"the pruning step of {unset[:3]} is still unset (-1) when tfprune's callbacks start: TF-MOT's "
                "UpdatePruningStep, first in tfprune.callbacks(model), did not run before them. Pass "
                "tfprune.callbacks(model) whole and in its order (you may add your own callbacks to that list)."
            )
        training_guard.mark_active(self.model)
        _count_calls(self.model)
        spe = getattr(self.model, "_steps_per_execution", None)
        if spe is not None and int(spe.numpy()) != 1:
            raise ValueError(
                f"steps_per_execution={int(spe.numpy())}: tfprune's pruning callbacks act between steps; "
                "compile the pruned model with steps_per_execution=1"
            )
        self._next_step = _pruning_step(self.model) + 1

    def on_train_batch_begin(self, batch, logs=None):
        self.before_step(self._next_step)
        self._next_step += 1

    def before_step(self, step):
        """Called before the batch that runs at pruning step ``step``."""


def step_sparsity(schedule, step, weights):
    """The overall sparsity the allocation is asked for at ``step``, given the current (masked)
    ``weights``: :meth:`tfprune.schedules.Schedule.sparsity_for`."""
    alive = sum(int(np.count_nonzero(w)) for w in weights.values())
    return schedule.sparsity_for(step, alive, sum(int(w.size) for w in weights.values()))


class UpdateMasks(_StepCounter):
    """Recompute the masks of every tfprune wrapper before the batch of each of its pruning steps
    (:meth:`tfprune.wrapper.PruneLowMagnitude.update_masks`)."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._due = {}
        for layer in layers.prunable_layers(self.model).values():
            for step in layer.pruning_steps() if hasattr(layer, "update_masks") else ():
                self._due.setdefault(step, []).append(layer)

    def before_step(self, step):
        for layer in self._due.get(step, ()):
            layer.update_masks(step)


def allocation_of(schedule: Any, allocation: str | Callable | None = None) -> Callable:
    """The allocation function a model's re-allocations run: ``allocation`` when given, else the
    one its :class:`~tfprune.schedules.LayerSchedule` holds (a function kept in memory, or a
    registered name); a clear error for a saved model pruned with an unregistered function."""
    chosen = allocation or schedule.function or schedule.allocation
    if chosen is None:
        raise ValueError(
            "allocation=None: this model was pruned with an unregistered allocation function, which a saved "
            "model cannot name; pass it again with tfprune.callbacks(model, allocation=function), or register "
            "it with tfprune.allocation.register(name, function) before pruning"
        )
    return allocations.get(chosen)


class RefreshAllocation(UpdateMasks):
    """Recompute the per-layer targets from the current weights before each pruning step, then the
    masks."""

    def __init__(self, allocation=None):
        super().__init__()
        self.allocation = allocation

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._schedules = _layer_schedules(self.model)
        first = next(iter(self._schedules.values()))
        self._allocate = allocation_of(first, self.allocation)
        self._overrides = first.overrides
        self._timing = first.schedule
        self._steps = set(self._timing.pruning_steps())

    def before_step(self, step):
        if step in self._steps:
            self.refresh(step)
        super().before_step(step)

    def refresh(self, step):
        """Set every weight's target to the allocation at the schedule's sparsity for ``step``."""
        found = {k: w for k, w in layers.prunable(self.model).items() if w.path in self._schedules}
        weights = {k: w.value() for k, w in found.items()}
        per_weight = allocations.allocate(self._allocate, weights, step_sparsity(self._timing, step, weights),
                                          self._overrides)
        targets = {}
        for key, weight in found.items():
            targets.setdefault(weight.path, []).append(per_weight[key])
        for path, schedule in self._schedules.items():
            schedule.target.assign(targets[path], read_value=False)
        return per_weight


def rewound_variables(model):
    """The model's variables that rewinding resets: all but TF-MOT's masks, thresholds and steps."""
    bookkeeping = set()
    for layer in layers.prunable_layers(model).values():
        if isinstance(layer, PruneLowMagnitude):
            bookkeeping.add(id(layer.pruning_step))
            bookkeeping.update(id(v) for _, mask, threshold in layer.pruning_vars for v in (mask, threshold))
    return [v for v in model.trainable_variables + model.non_trainable_variables if id(v) not in bookkeeping]


class Rewind(_StepCounter):
    """Weight rewinding (Frankle et al. 2020): after each pruning round, reset the weights that
    survive to their values at ``schedule.rewind_step``; masks and optimizer state are kept."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        timing = next(iter(_layer_schedules(self.model).values())).schedule
        self._rewind_step = timing.rewind_step
        self._after_rounds = {step + 1 for step in timing.pruning_steps()}
        self._variables = rewound_variables(self.model)
        if not hasattr(self.model, "_tfprune_rewind_values"):
            self.model._tfprune_rewind_values = None

    def before_step(self, step):
        if step == self._rewind_step:
            self.model._tfprune_rewind_values = [v.numpy() for v in self._variables]
        elif step in self._after_rounds and self.model._tfprune_rewind_values is not None:
            for variable, value in zip(self._variables, self.model._tfprune_rewind_values):
                variable.assign(value)
            for layer in layers.prunable_layers(self.model).values():
                if isinstance(layer, PruneLowMagnitude):
                    layer.pruning_obj.weight_mask_op()


class SparsitySummaries(keras.callbacks.Callback):
    """Write each layer's sparsity and the overall sparsity to TensorBoard at every epoch end."""

    def __init__(self, log_dir):
        super().__init__()
        if not isinstance(log_dir, str) or not log_dir:
            raise ValueError(f"log_dir={log_dir!r}: must be a non-empty folder path")
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        weights = layers.prunable_weights(self.model)
        nonzeros = {key: np.count_nonzero(w) for key, w in weights.items()}
        total = sum(w.size for w in weights.values())
        with self._writer.as_default():
            for key, w in weights.items():
                tf.summary.scalar(f"sparsity/{key}", 1.0 - nonzeros[key] / w.size, step=epoch)
            tf.summary.scalar("sparsity/overall", 1.0 - sum(nonzeros.values()) / total, step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class SparsityNotReachedWarning(UserWarning):
    """Training ended before the pruning schedule's last event: the model is below its target sparsity."""


class ScheduleEndCheck(keras.callbacks.Callback):
    """At the end of ``fit``, warn when the pruning step is before the schedule's last event."""

    def on_train_end(self, logs=None):
        schedules = _layer_schedules(self.model)
        if not schedules:
            return
        timing = next(iter(schedules.values())).schedule
        step = _pruning_step(self.model)
        if timing.events and step < timing.last_step:
            warnings.warn(
                f"training ended at pruning step {step}, before the schedule's last pruning event at step "
                f"{timing.last_step}: the model is at sparsity {timing.sparsity_at(step):.4g}, not the target "
                f"{timing.sparsity:.4g}; train {timing.last_step - step} more steps (another fit continues "
                "the schedule) or fit the schedule to the run with for_run(sparsity, total_steps)",
                SparsityNotReachedWarning,
                stacklevel=2,
            )


def callbacks(model: Any, log_dir: str | None = None, allocation: str | Callable | None = None) -> list:
    """Every callback ``model.fit`` needs to prune ``model`` as planned.

    Args:
      model: a model returned by :func:`tfprune.prune` (or loaded with :func:`tfprune.load_model`).
      log_dir: when given, per-layer sparsity goes to TensorBoard there.
      allocation: only for a saved model pruned with an unregistered allocation function (a
        registered one is recorded by name; the model returned by ``prune`` keeps its function).
    """
    schedules = _layer_schedules(model)
    if not schedules:
        raise ValueError("model: has no tfprune pruning wrappers; wrap it with tfprune.prune(model, ...) first")
    strategies.check_strategy(model.distribute_strategy, "model.distribute_strategy")
    training_guard.install(model)  # a model wrapped by hand: fit refuses to run without these callbacks
    first = next(iter(schedules.values()))
    bundle = [tfmot.sparsity.keras.UpdatePruningStep()]
    adaptive = first.adaptive and first.schedule.pruning_steps()
    # an unknown or missing allocation fails here, not inside fit
    bundle.append(RefreshAllocation(allocation_of(first, allocation)) if adaptive else UpdateMasks())
    if getattr(first.schedule, "rewind_step", None) is not None:
        bundle.append(Rewind())
    if log_dir is not None:
        bundle.append(SparsitySummaries(log_dir))
    bundle.append(ScheduleEndCheck())
    return bundle
