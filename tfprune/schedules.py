"""When to prune and to what overall sparsity, as TF-MOT ``PruningSchedule`` subclasses.

Step numbering is TF-MOT's: the first training batch runs at step 1, and the step count
carries on across ``fit`` calls and through save/load.

* :class:`OneShot` prunes once, when :func:`tfprune.prune` is called; masks are then fixed.
* :class:`Gradual` follows Zhu & Gupta (2017): ``s(t) = s_f + (s_i - s_f)(1 - p)^power``,
  ``p = (t - begin_step) / (end_step - begin_step)``, every ``frequency`` steps and at
  ``end_step`` itself, so the target is reached exactly at ``end_step``.
* :class:`Iterative` is the LAMP paper's protocol: every ``steps_per_round`` steps remove
  ``rate`` of the remaining weights (sparsity ``1 - (1 - rate)^k`` after round k, the last
  round capped at the target), retraining in between, optionally rewinding the surviving
  weights to those of step ``rewind_step``.

Each schedule lists its pruning steps in Python (``pruning_steps()`` and ``sparsity_at``);
the graph looks the step up in that table, so Python and graph agree by construction.
:class:`LayerSchedule` is what each TF-MOT wrapper runs: it reads the layer's target from a
``tf.Variable``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from tfprune._validate import check_int, check_sparsity, is_real
from tfprune.backend import keras, tf
from tfprune.registry import Registry
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_schedule

_register = keras.utils.register_keras_serializable(package="tfprune")

#: Pruning events a gradual schedule fitted to a run gets (about; the last is at ``end_step``).
GRADUAL_EVENTS = 10


class ScheduleTooShort(ValueError):
    """The training run is too short for the schedule to reach its target sparsity."""


def _check_step(value, argument, minimum):
    return check_int(value, argument, minimum)


def _check_fraction(value, argument):
    if not is_real(value) or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{argument}={value!r}: must be a number in (0, 1], a fraction of the training steps")
    return float(value)


class Schedule(pruning_schedule.PruningSchedule):
    """Base class: a finite table of (step, overall sparsity) pruning events."""

    def __init__(self, sparsity: float):
        self.sparsity = check_sparsity(sparsity)
        self._table = None

    def _events(self):
        """List of (step, sparsity) pruning events, steps increasing."""
        raise NotImplementedError

    @property
    def events(self):
        """The (step, overall sparsity) pruning events, steps increasing (computed once)."""
        if self._table is None:
            self._table = self._events()
        return self._table

    def pruning_steps(self) -> list[int]:
        """The steps at which pruning happens."""
        return [step for step, _ in self.events]

    def sparsity_at(self, step: int) -> float:
        """Overall sparsity after the last pruning event at or before ``step`` (0 before any)."""
        current = 0.0
        for event_step, value in self.events:
            if event_step > step:
                break
            current = value
        return current

    def sparsity_for(self, step: int, alive: int, total: int) -> float:
        """The overall sparsity to prune to at pruning step ``step`` when ``alive`` of ``total``
        weights survive: :meth:`sparsity_at` (schedules fixed in advance)."""
        return self.sparsity_at(step)

    @property
    def last_step(self):
        """Step of the last pruning event (0 when pruning happens outside training)."""
        return self.events[-1][0] if self.events else 0

    def __call__(self, step):
        if not self.events:
            return tf.constant(False), tf.constant(self.sparsity, tf.float32)
        return self.lookup(step, [v for _, v in self.events])

    def lookup(self, step, column):
        """Graph ops: (whether ``step`` is a pruning step, ``column[i]`` of the last event ``i`` at or
        before ``step``, 0 before any), ``column`` holding one float32 value per event."""
        steps = tf.constant([s for s, _ in self.events], tf.int64)
        values = tf.constant(column, tf.float32)
        step = tf.cast(step, tf.int64)
        index = tf.searchsorted(steps, tf.reshape(step, [1]), side="right")[0] - 1
        found = index >= 0
        safe = tf.maximum(index, 0)
        should_prune = tf.logical_and(found, tf.equal(tf.gather(steps, safe), step))
        value = tf.where(found, tf.gather(values, safe), 0.0)
        return should_prune, value

    def get_config(self):
        """``{"class_name", "config"}``, read back by :func:`deserialize` (saved models keep it)."""
        return {"class_name": keras.utils.get_registered_name(type(self)), "config": self._config()}

    def _config(self):
        return {"sparsity": self.sparsity}


@_register
class OneShot(Schedule):
    """Prune once, immediately, when the model is wrapped; masks stay fixed in training."""

    def _events(self):
        return []

    @classmethod
    def for_run(cls, sparsity: float, total_steps: int, end_fraction: float = 1.0, **params) -> "OneShot":
        """Prune before training: the run's length does not matter."""
        check_int(total_steps, "total_steps", 1)
        return cls(sparsity)


@_register
class Gradual(Schedule):
    """Polynomial (cubic by default) ramp from ``initial_sparsity`` to ``sparsity``."""

    def __init__(self, sparsity: float, end_step: int, begin_step: int = 1, frequency: int = 100,
                 power: float = 3, initial_sparsity: float = 0.0):
        super().__init__(sparsity)
        self.begin_step = _check_step(begin_step, "begin_step", 1)
        self.end_step = _check_step(end_step, "end_step", self.begin_step)
        self.frequency = _check_step(frequency, "frequency", 1)
        if isinstance(power, bool) or not isinstance(power, numbers.Real) or not power > 0:
            raise ValueError(f"power={power!r}: must be a positive number (3 is the usual cubic ramp)")
        self.power = float(power)
        self.initial_sparsity = check_sparsity(initial_sparsity, "initial_sparsity")
        if self.initial_sparsity > self.sparsity:
            raise ValueError(
                f"initial_sparsity={initial_sparsity!r}: must not exceed sparsity={sparsity!r}"
            )

    @classmethod
    def for_run(cls, sparsity: float, total_steps: int, end_fraction: float = 2 / 3, power: float = 3) -> "Gradual":
        """The ramp over the first ``end_fraction`` of ``total_steps``, about ten pruning events:
        ``end_step = max(1, round(end_fraction * total_steps))``,
        ``frequency = max(1, ceil(end_step / 10))``."""
        total_steps = check_int(total_steps, "total_steps", 1)
        end_step = max(1, round(_check_fraction(end_fraction, "end_fraction") * total_steps))
        frequency = max(1, math.ceil(end_step / GRADUAL_EVENTS))
        return cls(sparsity, end_step=end_step, frequency=frequency, power=power)

    def _events(self):
        steps = list(range(self.begin_step, self.end_step + 1, self.frequency))
        if steps[-1] != self.end_step:
            steps.append(self.end_step)
        span = max(self.end_step - self.begin_step, 1)
        events = []
        for step in steps:
            progress = min(1.0, (step - self.begin_step) / span) if self.end_step > self.begin_step else 1.0
            value = self.sparsity + (self.initial_sparsity - self.sparsity) * (1.0 - progress) ** self.power
            events.append((step, float(value)))
        return events

    def _config(self):
        return {
            "sparsity": self.sparsity,
            "end_step": self.end_step,
            "begin_step": self.begin_step,
            "frequency": self.frequency,
            "power": self.power,
            "initial_sparsity": self.initial_sparsity,
        }


@_register
class Iterative(Schedule):
    """Rounds that each remove ``rate`` of the remaining weights, with retraining between."""

    def __init__(self, sparsity: float, steps_per_round: int, rate: float = 0.2, begin_step: int = 1,
                 rewind_step: int | None = None):
        super().__init__(sparsity)
        self.steps_per_round = _check_step(steps_per_round, "steps_per_round", 1)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 < rate < 1.0:
            raise ValueError(f"rate={rate!r}: must be in (0, 1), the fraction of remaining weights removed per round")
        self.rate = float(rate)
        self.begin_step = _check_step(begin_step, "begin_step", 1)
        if rewind_step is not None:
            rewind_step = _check_step(rewind_step, "rewind_step", 1)
            if rewind_step > self.begin_step:
                raise ValueError(
                    f"rewind_step={rewind_step!r}: must be <= begin_step={self.begin_step} "
                    "(weights are rewound to a point before the first pruning round)"
                )
        self.rewind_step = rewind_step

    @property
    def rounds(self):
        """The number of rounds: the fewest of ``rate`` each that reach ``sparsity``."""
        if self.sparsity == 0.0:
            return 0
        return max(1, math.ceil(math.log(1.0 - self.sparsity) / math.log(1.0 - self.rate) - 1e-9))

    @classmethod
    def from_rounds(cls, rounds: int, steps_per_round: int, rate: float = 0.2, **kwargs) -> "Iterative":
        """``rounds`` rounds of ``rate`` each (sparsity ``1 - (1 - rate)^rounds``): the LAMP paper's
        protocol is ``Iterative.from_rounds(19, steps_per_round=epochs_per_round * steps_per_epoch)``
        (1.44% of the weights left)."""
        rounds = check_int(rounds, "rounds", 1)
        return cls(1.0 - (1.0 - rate) ** rounds, steps_per_round=steps_per_round, rate=rate, **kwargs)

    @classmethod
    def for_run(cls, sparsity: float, total_steps: int, end_fraction: float = 1.0, rate: float = 0.2,
                rewind_step: int | None = None) -> "Iterative":
        """Rounds spread evenly over the first ``end_fraction`` of ``total_steps``:
        ``steps_per_round = floor(end_fraction * total_steps / rounds)``; raises
        :class:`ScheduleTooShort` when the last round would fall after ``total_steps``."""
        total_steps = check_int(total_steps, "total_steps", 1)
        end_step = max(1, round(_check_fraction(end_fraction, "end_fraction") * total_steps))
        rounds = max(cls(sparsity, steps_per_round=1, rate=rate).rounds, 1)
        schedule = cls(sparsity, steps_per_round=max(1, end_step // rounds), rate=rate, rewind_step=rewind_step)
        if schedule.last_step > total_steps:
            raise ScheduleTooShort(
                f"iterative schedule with rate={rate:.3g} needs {rounds} pruning rounds to reach "
                f"sparsity={sparsity:.3g}, but the run trains only {total_steps} steps (at least "
                f"{schedule.last_step} needed); train longer or raise the rate"
            )
        return schedule

    @property
    def total_steps(self):
        """Training steps for all rounds, each followed by ``steps_per_round`` of retraining."""
        return self.begin_step - 1 + self.rounds * self.steps_per_round

    def _events(self):
        return [
            (self.begin_step + k * self.steps_per_round, min(self.sparsity, 1.0 - (1.0 - self.rate) ** (k + 1)))
            for k in range(self.rounds)
        ]

    def sparsity_for(self, step: int, alive: int, total: int) -> float:
        """Each round keeps ``round(alive * (1 - rate))`` of the ``alive`` survivors, rounded
        round by round as the LAMP paper's code does; the last round lands exactly on the target."""
        if step >= self.last_step or alive <= 0:
            return self.sparsity
        keep = int(np.round(alive * (1.0 - self.rate)))
        return min(max(1.0 - keep / total, 0.0), self.sparsity)

    def _config(self):
        return {
            "sparsity": self.sparsity,
            "steps_per_round": self.steps_per_round,
            "rate": self.rate,
            "begin_step": self.begin_step,
            "rewind_step": self.rewind_step,
        }


#: Every schedule, with how to fit it to a run: ``SCHEDULES.get(name).load().for_run(sparsity, steps)``.
SCHEDULES = Registry("schedule", "schedule", {"rounds": False})
SCHEDULES.register("oneshot", OneShot, summary="prune once before training; masks fixed")
SCHEDULES.register("gradual", Gradual, summary="cubic ramp while training (Zhu & Gupta 2017)")
SCHEDULES.register("iterative", Iterative, rounds=True,
                   summary="rounds removing a fraction of the remaining weights, retraining between")
register = SCHEDULES.register


def deserialize(config):
    """A schedule from ``get_config()`` output (or the schedule itself)."""
    if isinstance(config, Schedule):
        return config
    return keras.utils.deserialize_keras_object(config)


@_register
class LayerSchedule(pruning_schedule.PruningSchedule, tf.Module):
    """The schedule one pruning wrapper runs: the global timing, per-weight target variables.

    ``target`` holds one sparsity per prunable weight of the layer (an LSTM has two, a
    MultiHeadAttention four), in the order of the wrapper's ``pruning_vars``:

    * fixed allocations (``adaptive=False``): the final sparsity of each weight; each event
      prunes to ``target * s(t) / s_final`` -- the weights follow the global ramp.
    * adaptive allocations (LAMP, global): each weight's sparsity for the next event;
      :class:`tfprune.pruning_callbacks.RefreshAllocation` recomputes it from the current weights
      before every pruning step.

    ``allocation`` (a registered name) and ``overrides`` are recorded so a saved model knows how
    to continue. ``function``, an unregistered allocation function, is kept in memory only: a
    saved model records ``allocation=None`` for it.
    """

    def __init__(self, schedule, target, adaptive=False, allocation=None, overrides=None, function=None):
        tf.Module.__init__(self, name="layer_schedule")
        self.schedule = deserialize(schedule)
        self.adaptive = bool(adaptive)
        self.allocation = allocation
        self.function = function
        self.overrides = dict(overrides or {})
        values = np.atleast_1d(np.asarray(target, dtype=np.float32))
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"target={target!r}: expected one sparsity per prunable weight")
        self.target = tf.Variable(values, trainable=False, dtype=tf.float32, name="target_sparsity")

    def _scales(self):
        """Whether each weight's target is scaled by the ramp ``s(t) / s_final`` (fixed allocations)."""
        return not self.adaptive and self.schedule.sparsity != 0.0 and bool(self.schedule.events)

    def _ramp(self):
        """``s(t) / s_final`` at each event, rounded once to float32 (graph and NumPy read the same)."""
        return [value / self.schedule.sparsity for _, value in self.schedule.events]

    def targets(self, step):
        """Graph ops: (whether ``step`` prunes, every weight's target at ``step``): one float32 product
        ``target * ramp`` of two run-time values, which graph rewrites cannot reassociate."""
        should_prune, _ = self.schedule(step)
        if not self._scales():
            return should_prune, tf.identity(self.target)
        return should_prune, self.target * self.schedule.lookup(step, self._ramp())[1]

    def sparsities_at(self, step: int) -> np.ndarray:
        """Every weight's target at pruning step ``step``, float32, in NumPy: the same product as
        :meth:`targets` (tested equal), for the callbacks' mask update between steps."""
        target = np.asarray(self.target.numpy(), np.float32)
        if not self._scales():
            return target
        return target * np.float32(self.schedule.sparsity_at(step) / self.schedule.sparsity)

    def for_weight(self, index):
        """The ``(step) -> (should_prune, sparsity)`` schedule of the layer's weight ``index``."""

        @tf.autograph.experimental.do_not_convert  # plain TF ops; no Python control flow to convert
        def schedule(step):
            should_prune, targets = self.targets(step)
            return should_prune, targets[index]

        return schedule

    def __call__(self, step):
        """Timing, and the mean target over the layer's weights (what TF-MOT's summaries show)."""
        should_prune, targets = self.targets(step)
        return should_prune, tf.reduce_mean(targets)

    def get_config(self):
        """The global schedule, the per-weight targets and the allocation, for saving."""
        return {
            "class_name": keras.utils.get_registered_name(type(self)),
            "config": {
                "schedule": self.schedule.get_config(),
                "target": [float(v) for v in np.asarray(self.target.numpy()).reshape(-1)],
                "adaptive": self.adaptive,
                "allocation": self.allocation,
                "overrides": self.overrides,
            },
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
