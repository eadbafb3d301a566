"""``PruningHyperModel``: a user's model-building function plus a pruning search space.

The search space added to the user's own hyperparameters (all names start with ``pruning/``):

=========================  ===========================================================  ==============
name                       meaning                                                      default spec
=========================  ===========================================================  ==============
``pruning/sparsity``       overall target sparsity (fraction of prunable weights        ``(0.5, 0.95)``
                           removed)
``pruning/allocation``     how the budget is split over layers                          all five
                           (lamp, global, uniform, uniform+, erk)
``pruning/schedule``       ``oneshot``, ``gradual`` (Zhu & Gupta), ``iterative``        the first three
                           (LAMP-paper rounds) or ``at_init`` (pruning at
                           initialisation, masks frozen in training)
``pruning/end_fraction``   gradual / iterative: fraction of the trial's training steps  ``(0.3, 0.8)``
                           by which the target is reached
``pruning/power``          gradual only: exponent of the polynomial ramp                ``3``
``pruning/rate``           iterative only: fraction of the remaining weights removed    ``(0.2, 0.5)``
                           per round
``pruning/score``          at_init only: the saliency (snip, grasp, synflow,            ``snip``,
                           magnitude, random, sbp-si) of                               ``synflow``,
                           :func:`tfprune.at_init.prune_at_init`                        ``magnitude``
=========================  ===========================================================  ==============

Every spec is either a single value (the hyperparameter is ``Fixed``), a list (a ``Choice``)
or a tuple ``(low, high)`` / ``(low, high, step)`` (a ``Float`` range). The schedule
parameters are conditional on ``pruning/schedule``.

Timing: the tuner tells :meth:`PruningHyperModel.prune` how many training steps the trial
has (``epochs x steps_per_epoch``); a gradual schedule ends at
``end_step = max(1, round(end_fraction * total_steps))`` with a pruning step every
``frequency = max(1, ceil(end_step / 10))`` steps (about ten events) and the final event at
``end_step`` itself; an iterative schedule gets
``steps_per_round = max(1, floor(end_fraction * total_steps / rounds))``. Either way the
sampled target is reached before training ends, so the trained model is scored at the sparsity
it was asked for. ``at_init`` prunes the untrained model once with
:func:`tfprune.at_init.prune_at_init` (data-driven scores use a class-balanced batch from the
start of the training data) and trains with the masks frozen.
"""

import math
import numbers

from tfprune import backend as _backend  # noqa: F401,I001  (TF_USE_LEGACY_KERAS before Keras Tuner)

import keras_tuner as kt  # noqa: E402

from tfprune import layers
from tfprune._validate import check_int
from tfprune.allocation import ALLOCATIONS
from tfprune.pruning import prune as _prune
from tfprune.schedules import SCHEDULES as SCHEDULES_REGISTRY
from tfprune.schedules import OneShot, ScheduleTooShort
from tfprune.scoring import SCORERS

#: The schedules a search can sample (every registered schedule, and ``at_init``) -- as of import;
#: a :class:`PruningHyperModel` reads the registries when it is made.
SCHEDULES = (*SCHEDULES_REGISTRY, "at_init")
#: Schedules searched unless told otherwise.
DEFAULT_SCHEDULES = ("oneshot", "gradual", "iterative")
#: At-initialisation scores searched by default when ``"at_init"`` is among the schedules.
DEFAULT_SCORES = ("snip", "synflow", "magnitude")
PREFIX = "pruning/"

class ModelTypeError(kt.errors.FatalTypeError):
    """``build_model(hp)`` returned something tfprune cannot prune (e.g. a Keras 3 model).

    A ``TypeError``; Keras Tuner treats it as fatal, so the search stops with it instead of
    recording a failed trial.
    """


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_value(argument, value, low, high, low_open=False, high_open=False):
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{argument}={value!r}: must be a number")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{argument}={value!r}: must be in {interval}")
    return float(value)


def _numeric_spec(argument, spec, low, high, low_open=False, high_open=False):
    """Normalise a numeric spec to ("fixed", v) | ("choice", [v...]) | ("range", lo, hi, step)."""

    def check(v, arg=argument):
        return _check_value(arg, v, low, high, low_open, high_open)

    if _is_number(spec):
        return ("fixed", check(spec))
    if isinstance(spec, list):
        if not spec:
            raise ValueError(f"{argument}=[]: give at least one value")
        values = sorted({check(v) for v in spec})
        return ("fixed", values[0]) if len(values) == 1 else ("choice", values)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        lo, hi = check(spec[0]), check(spec[1])
        if not lo < hi:
            raise ValueError(f"{argument}={spec!r}: a range (low, high) needs low < high")
        step = None
        if len(spec) == 3:
            step = spec[2]
            if not _is_number(step) or not 0 < step <= hi - lo:
                raise ValueError(f"{argument}={spec!r}: step must be a number in (0, high - low]")
            step = float(step)
        return ("range", lo, hi, step)
    raise ValueError(
        f"{argument}={spec!r}: give a number (fixed), a list of numbers (choice) or a tuple "
        "(low, high) / (low, high, step) (range)"
    )


def _names_spec(argument, spec, allowed):
    if isinstance(spec, str):
        spec = [spec]
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ValueError(f"{argument}={spec!r}: give one name or a non-empty list of names from {list(allowed)}")
    names = []
    for name in spec:
        if name not in allowed:
            raise ValueError(f"{argument}={spec!r}: unknown name {name!r}; choose from {list(allowed)}")
        if name not in names:
            names.append(name)
    return names


def _declare_numeric(hp, name, spec, parent=None):
    kind = spec[0]
    condition = {} if parent is None else {"parent_name": parent[0], "parent_values": parent[1]}
    if kind == "fixed":
        return hp.Fixed(name, spec[1], **condition)
    if kind == "choice":
        return hp.Choice(name, spec[1], ordered=True, **condition)
    return hp.Float(name, spec[1], spec[2], step=spec[3], **condition)


def _declare_names(hp, name, names, parent=None):
    condition = {} if parent is None else {"parent_name": parent[0], "parent_values": parent[1]}
    if len(names) == 1:
        return hp.Fixed(name, names[0], **condition)
    return hp.Choice(name, names, **condition)


class PruningHyperModel(kt.HyperModel):
    """Wrap a model-building function and add the pruning search space.

    Args:
      build_model: ``build_model(hp) -> tf_keras model`` (Sequential or Functional), or a
        ``keras_tuner.HyperModel`` whose ``build`` does that. The model may be compiled (its
        optimizer, loss and metrics are reused for the pruned copy) or not (then give
        ``optimizer``/``loss``/``metrics`` to the tuner).
      sparsity: target sparsity spec in [0, 1): number, list or ``(low, high[, step])``.
      allocation: one name or a list from :data:`tfprune.allocation.ALLOCATIONS` (default: all,
        user-registered ones included).
      schedule: one name or a list from :data:`tfprune.schedules.SCHEDULES` and ``at_init``.
      end_fraction: spec in (0, 1] -- when (as a fraction of the trial's training steps)
        gradual and iterative schedules reach the target.
      power: spec > 0 -- exponent of the gradual ramp.
      rate: spec in (0, 1) -- per-round pruning rate of the iterative schedule.
      score: with ``at_init`` only: one name or a list from :data:`tfprune.scoring.SCORERS` (snip,
        grasp, synflow, magnitude, random, sbp-si, and any registered scorer; default: snip,
        synflow, magnitude).
      exclude: layer names (or a predicate) never pruned, passed to :func:`tfprune.prune`.

    Example::

        def build(hp):
            model = keras.Sequential([keras.layers.Flatten(input_shape=(8, 8, 1)),
                                      keras.layers.Dense(hp.Choice("units", [32, 64]), "relu"),
                                      keras.layers.Dense(10)])
            model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
            return model

        hypermodel = PruningHyperModel(build, sparsity=(0.5, 0.9), allocation=["lamp", "erk"])
    """

    def __init__(
        self,
        build_model,
        sparsity=(0.5, 0.95),
        allocation=None,
        schedule=DEFAULT_SCHEDULES,
        end_fraction=(0.3, 0.8),
        power=3,
        rate=(0.2, 0.5),
        score=None,
        exclude=None,
        name=None,
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        if isinstance(build_model, PruningHyperModel):
            raise TypeError("build_model: is already a PruningHyperModel; pass it to the tuner directly")
        if not (isinstance(build_model, kt.HyperModel) or callable(build_model)):
            raise TypeError(
                f"build_model={build_model!r}: expected a function build_model(hp) -> tf_keras model "
                "or a keras_tuner.HyperModel"
            )
        self.build_model = build_model
        self.sparsity = _numeric_spec("sparsity", sparsity, 0.0, 1.0, high_open=True)
        allocation = tuple(ALLOCATIONS) if allocation is None else allocation
        self.allocations = _names_spec("allocation", allocation, tuple(ALLOCATIONS))
        self.schedules = _names_spec("schedule", schedule, (*SCHEDULES_REGISTRY, "at_init"))
        self.end_fraction = _numeric_spec("end_fraction", end_fraction, 0.0, 1.0, low_open=True)
        self.power = _numeric_spec("power", power, 0.0, math.inf, low_open=True, high_open=True)
        self.rate = _numeric_spec("rate", rate, 0.0, 1.0, low_open=True, high_open=True)
        self.scores = None
        if "at_init" in self.schedules:
            self.scores = _names_spec("score", DEFAULT_SCORES if score is None else score, tuple(SCORERS))
        elif score is not None:
            raise ValueError(
                f"score={score!r}: only used with schedule 'at_init', which is not among schedule={self.schedules!r}"
            )
        self.exclude = exclude

    # ------------------------------------------------------------------ search space

    def declare_pruning(self, hp):
        """Register the pruning hyperparameters in ``hp``; return this trial's values.

        Returns a dict with keys ``sparsity``, ``allocation``, ``schedule`` and, when they
        apply, ``end_fraction``, ``power``, ``rate``, ``score``.
        """
        values = {
            "sparsity": float(_declare_numeric(hp, PREFIX + "sparsity", self.sparsity)),
            "allocation": _declare_names(hp, PREFIX + "allocation", self.allocations),
            "schedule": _declare_names(hp, PREFIX + "schedule", self.schedules),
        }
        single = len(self.schedules) == 1

        def parent(names):
            return None if single else (PREFIX + "schedule", names)

        if self.scores is not None:
            score = _declare_names(hp, PREFIX + "score", self.scores, parent(["at_init"]))
            if values["schedule"] == "at_init":
                values["score"] = score
        timed = [s for s in self.schedules if s not in ("oneshot", "at_init")]
        if not timed:
            return values
        end = _declare_numeric(hp, PREFIX + "end_fraction", self.end_fraction, parent(timed))
        power = rate = None
        if "gradual" in self.schedules:
            power = _declare_numeric(hp, PREFIX + "power", self.power, parent(["gradual"]))
        if "iterative" in self.schedules:
            rate = _declare_numeric(hp, PREFIX + "rate", self.rate, parent(["iterative"]))
        if values["schedule"] in ("gradual", "iterative"):
            values["end_fraction"] = float(end)
        if values["schedule"] == "gradual":
            values["power"] = float(power)
        if values["schedule"] == "iterative":
            values["rate"] = float(rate)
        return values

    def build(self, hp):
        """The user's dense model for ``hp`` (the pruning hyperparameters are declared too)."""
        self.declare_pruning(hp)
        if isinstance(self.build_model, kt.HyperModel):
            model = self.build_model.build(hp)
        else:
            model = self.build_model(hp)
        try:
            layers.check_model(model, argument="the model returned by build_model(hp)")
        except TypeError as e:
            raise ModelTypeError(str(e)) from None
        return model

    # ------------------------------------------------------------------ pruning

    def make_schedule(self, hp, total_steps):
        """The tfprune schedule for ``hp`` when the trial trains for ``total_steps`` steps.

        Raises :class:`ScheduleTooShort` when an iterative schedule has more rounds than the
        steps available before ``end_fraction`` of training.
        """
        check_int(total_steps, "total_steps", 1)
        values = self.declare_pruning(hp)
        sparsity, kind = values["sparsity"], values["schedule"]
        if kind == "at_init":
            return OneShot(sparsity)
        params = {"gradual": {"power": values.get("power")}, "iterative": {"rate": values.get("rate")}}
        return SCHEDULES_REGISTRY.get(kind).load().for_run(
            sparsity, total_steps, values.get("end_fraction", 1.0), **params.get(kind, {})
        )

    def prune(self, hp, model, total_steps, data=None, seed=0):
        """``model`` wrapped for pruning with this trial's sparsity, allocation and schedule.

        :func:`tfprune.prune`, or for ``at_init`` :func:`tfprune.at_init.prune_at_init` with
        ``data`` (the scoring data: ``(x, y)`` arrays or a ``tf.data.Dataset`` of ``(x, y)``;
        needed by snip, grasp and sbp-si) and ``seed``.
        """
        values = self.declare_pruning(hp)
        if values["schedule"] == "at_init":
            from tfprune.at_init import prune_at_init

            return prune_at_init(
                model,
                values["sparsity"],
                score=values["score"],
                allocation=values["allocation"],
                data=data,
                exclude=self.exclude,
                seed=seed,
            ).model
        return _prune(
            model,
            allocation=values["allocation"],
            schedule=self.make_schedule(hp, total_steps),
            exclude=self.exclude,
        )


def as_pruning_hypermodel(hypermodel):
    """A :class:`PruningHyperModel` from one, from a ``keras_tuner.HyperModel`` or a build function
    (those two get the default pruning search space)."""
    if isinstance(hypermodel, PruningHyperModel):
        return hypermodel
    if hypermodel is None:
        raise ValueError("hypermodel=None: give a build function build(hp) -> tf_keras model or a PruningHyperModel")
    return PruningHyperModel(hypermodel)
