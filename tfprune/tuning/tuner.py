"""``PruningTuner``: Keras Tuner search over pruned tf_keras models.

Keras Tuner 1.4.8 runs on Keras 3 when it is installed (TensorFlow >= 2.16 installs it), and its
``Tuner`` class rejects tf_keras models with ``FatalTypeError``; ``TF_USE_LEGACY_KERAS`` does
not change that. ``BaseTuner`` -- the oracles, trial bookkeeping, resume, chief/worker mode --
is model-agnostic, so :class:`PruningTuner` subclasses it and does the Keras part itself with
tf_keras: build (via :class:`~tfprune.tuning.PruningHyperModel`) -> :func:`tfprune.prune` ->
compile -> ``fit`` with :func:`tfprune.callbacks` added -> score (the last epoch's logs plus the
achieved sparsity and size) -> save the trial's model.

Per trial, in ``<directory>/<project_name>/trial_<id>/``:

* ``checkpoint.weights.h5`` -- tf_keras weights of the wrapped model (masks, pruning step),
* ``model.keras`` -- the whole wrapped model; ``tfprune.load_model`` or plain
  ``keras.models.load_model`` reads it with no custom objects,
* ``run.json`` -- which tuner ran it, the epochs/steps, the schedule, and the metrics,
* ``trial.json`` -- Keras Tuner's own record.

The trial is scored on its final epoch, not its best one: the pruning schedules reach their
target before training ends, so the final model is the one at the sampled sparsity.
"""

import gc
import json
import os
import sys
import time
import warnings
import zlib

import keras_tuner as kt
from keras_tuner import errors as kt_errors
from keras_tuner.engine import base_tuner
from keras_tuner.engine import trial as trial_module

from tfprune.backend import keras, tf
from tfprune.io import atomic_path, write_text
from tfprune.saving import load_model as _load_model
from tfprune.tuning import objectives, resume
from tfprune.tuning.hypermodel import ScheduleTooShort, as_pruning_hypermodel
from tfprune.tuning.oracles import (  # noqa: F401
    ORACLES, _has_chief_oracle, _is_chief, _resolve_objective, make_oracle, serve,
)
from tfprune.tuning.trial_data import made_data, scoring_data, steps_per_epoch
from tfprune.tuning.trial_setup import compile_args, trial_callbacks, trial_metrics
from tfprune._validate import check_int

WEIGHTS_FILE = "checkpoint.weights.h5"
MODEL_FILE = "model.keras"
RUN_FILE = "run.json"


def failure_reason(message):
    """The last line of a failed trial's traceback, without the exception's module path."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return "no message"
    kind, _, text = lines[-1].partition(": ")
    return text if text and "." in kind and " " not in kind else lines[-1]


class PruningTuner(base_tuner.BaseTuner):
    """Search over pruned tf_keras models with a Keras Tuner oracle.

    Args:
      hypermodel: a :class:`~tfprune.tuning.PruningHyperModel`, or a build function
        ``build(hp) -> tf_keras model`` / ``keras_tuner.HyperModel`` (wrapped with the default
        pruning search space).
      oracle: "random", "bayesian", "hyperband" or a ``keras_tuner.Oracle`` instance (whose
        objective is then used; ``objective``, ``max_trials`` etc. must be left at their defaults).
      objective: metric to optimise (default ``"val_accuracy"``), a ``keras_tuner.Objective``
        or a :class:`~tfprune.tuning.Constrained`.
      max_trials: trials to run (default 10; for hyperband an optional cap).
      max_epochs: hyperband only: the most epochs a trial trains.
      min_sparsity: constraint: trials whose achieved sparsity is below it are infeasible.
      max_size_kb: constraint: trials whose size (see ``size``) exceeds it are infeasible.
      size: "estimate" (sparse-storage estimate, :func:`~tfprune.tuning.estimate_size_bytes`)
        or "tflite" (``tfprune.export.to_tflite`` file size, when available).
      seed: an int >= 0: seeds the oracle (with ``seed + 1``: Keras Tuner takes 0 for "no seed")
        and every trial (from the seed and the trial's id, so a rerun trial is the same).
      optimizer, loss, metrics: compile arguments overriding (or supplying, for uncompiled
        models) those of the model that ``build`` returns.
      distribution_strategy: a ``tf.distribute.Strategy``; every trial is built, pruned,
        compiled and trained under its scope.
      directory, project_name: where the search lives (``directory/project_name``).
      overwrite: start afresh (delete the project). With ``False`` (default) an existing
        project is resumed: finished trials are kept and not run again.
      tuner_id: this tuner's id (default: ``$KERASTUNER_TUNER_ID`` or "tuner0").
      **oracle_kwargs: passed to the oracle (e.g. ``num_initial_points``, ``factor``).

    Distributed search: start the same script as one chief and any number of workers with
    Keras Tuner's environment variables ``KERASTUNER_TUNER_ID`` (``chief``, ``tuner0``, ...),
    ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``. The chief only serves the oracle;
    workers run trials and must see the same ``directory`` (a shared file system), where they
    write the trials' models. Workers never delete the project (``overwrite`` is ignored there).
    """

    def __init__(
        self,
        hypermodel,
        oracle="random",
        *,
        objective="val_accuracy",
        max_trials=None,
        max_epochs=None,
        min_sparsity=None,
        max_size_kb=None,
        size="estimate",
        seed=None,
        optimizer=None,
        loss=None,
        metrics=None,
        distribution_strategy=None,
        directory=None,
        project_name=None,
        overwrite=False,
        tuner_id=None,
        **oracle_kwargs,
    ):
        if size not in objectives.SIZE_METHODS:
            raise ValueError(f"size={size!r}: choose one of {list(objectives.SIZE_METHODS)}")
        if size == "tflite" and not objectives.tflite_available():
            raise ValueError("size='tflite': tfprune.export.to_tflite is not available; use size='estimate'")
        if distribution_strategy is not None and not isinstance(distribution_strategy, tf.distribute.Strategy):
            raise TypeError(
                f"distribution_strategy={distribution_strategy!r}: expected a tf.distribute.Strategy, "
                "e.g. tf.distribute.MirroredStrategy()"
            )
        if directory is not None and not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory={directory!r}: expected a folder path")
        self.seed = check_int(seed, "seed", minimum=0, allow_none=True)
        oracle_name = oracle if isinstance(oracle, str) else type(oracle).__name__
        hypermodel = as_pruning_hypermodel(hypermodel)
        if isinstance(oracle, kt.Oracle):
            if oracle_kwargs or max_trials is not None or max_epochs is not None:
                raise ValueError(
                    "oracle: a keras_tuner.Oracle instance was given; set max_trials/max_epochs/options on it"
                )
            if objective != "val_accuracy" or min_sparsity is not None or max_size_kb is not None:
                raise ValueError("oracle: a keras_tuner.Oracle instance was given; its objective is used")
            self.constraint = None
        else:
            oracle_objective, self.constraint = _resolve_objective(objective, min_sparsity, max_size_kb)
            objectives.check_reachable(self.constraint, hypermodel.sparsity)
            oracle = make_oracle(
                oracle, oracle_objective, max_trials=max_trials, max_epochs=max_epochs, seed=self.seed,
                **oracle_kwargs,
            )
        self.size = size
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.distribution_strategy = distribution_strategy
        #: Seconds between the chief's checks whether the search is over.
        self.poll_interval = 0.2
        worker = _has_chief_oracle() and not _is_chief()
        if overwrite and worker:
            warnings.warn("overwrite=True is ignored on a distributed worker; only the chief may start afresh")
            overwrite = False
        directory = None if directory is None else os.fspath(directory)
        project_dir = os.path.join(directory or ".", project_name or "untitled_project")
        if not overwrite and not worker:
            resume.check_oracle(project_dir, oracle_name)
        try:
            super().__init__(oracle=oracle, hypermodel=hypermodel, directory=directory,
                             project_name=project_name, overwrite=overwrite)
        except RuntimeError as error:
            if "Error reloading" not in str(error):
                raise
            raise resume.reload_failed(project_dir, oracle_name) from None
        if tuner_id is not None:
            self.tuner_id = str(tuner_id)
        if not worker:
            asked = kt.HyperParameters()
            self.hypermodel.declare_pruning(asked)
            resume.check_space(project_dir, self.oracle.hyperparameters, asked)
            os.makedirs(project_dir, exist_ok=True)
            resume.record(project_dir, oracle_name)

    # ------------------------------------------------------------------ objective

    @property
    def objective(self):
        """The ``keras_tuner.Objective`` the oracle optimises."""
        return self.oracle.objective

    @property
    def metric(self):
        """Name of the model metric behind the objective (e.g. ``val_accuracy``)."""
        return self.constraint.metric if self.constraint is not None else self.objective.name

    # ------------------------------------------------------------------ search

    def search(self, *fit_args, **fit_kwargs):
        """Run the search; arguments are those of ``model.fit`` (``x``, ``y``, ``epochs``,
        ``validation_data``, ``callbacks``, ``verbose``, ...).

        ``x`` may be a function returning the training data: it is called at the start of every
        trial, after seeding, so that every trial (a rerun one too) sees the data in the same
        order (a shuffled ``tf.data.Dataset`` reshuffles differently on every pass).
        The pruning callbacks are added to every trial's ``fit``; user ``callbacks`` must be
        tf_keras callbacks and deep-copyable (each trial gets fresh copies). A
        ``keras.callbacks.TensorBoard`` gets a per-trial ``log_dir`` and per-layer sparsity
        summaries. On a chief (``KERASTUNER_TUNER_ID=chief``) this serves the oracle until the
        workers have finished.
        """
        callbacks = fit_kwargs.get("callbacks")
        if callbacks is not None:
            if not isinstance(callbacks, (list, tuple)):
                raise TypeError(f"callbacks={callbacks!r}: expected a list of tf_keras callbacks")
            for callback in callbacks:
                if not isinstance(callback, keras.callbacks.Callback):
                    raise TypeError(
                        f"callbacks: {type(callback).__module__}.{type(callback).__name__} is not a tf_keras "
                        "callback; tfprune trains tf_keras models, build callbacks with `import tf_keras as keras`"
                    )
        if len(fit_args) > 2:
            raise ValueError("search(): pass x and y positionally at most; give the other fit arguments by name")
        if "verbose" in fit_kwargs and not self._is_worker():
            self.oracle.verbose = fit_kwargs["verbose"]
        if _is_chief():
            self.save()
            self._serve()
            return
        return super().search(*fit_args, **fit_kwargs)

    def _serve(self):
        """Serve the oracle to the workers until all are done."""
        serve(self.oracle, self.poll_interval)
        self.save()

    def on_search_begin(self):
        # Save at once, so that a search killed during its first trial also resumes.
        self.save()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if trial.status in (trial_module.TrialStatus.INVALID, trial_module.TrialStatus.FAILED):
            print(f"tfprune: trial {trial.trial_id} {trial.status.lower()}: {failure_reason(trial.message)}",
                  file=sys.stderr)

    # ------------------------------------------------------------------ one trial

    def _scope(self):
        return kt.engine.tuner.maybe_distribute(self.distribution_strategy)

    def _trial_seed(self, trial_id):
        """The seed of trial ``trial_id``: from the search's seed and the trial's id only."""
        return zlib.crc32(f"{self.seed or 0}/{trial_id}".encode()) % 2**31

    def _seed_trial(self, trial_id):
        if self.seed is not None:
            keras.utils.set_random_seed(self._trial_seed(trial_id))

    def _load_for_continuation(self, hp, previous_id):
        path = os.path.join(self.get_trial_dir(previous_id), MODEL_FILE)
        if not os.path.exists(path):
            raise kt_errors.FailedTrialError(f"Hyperband: trial {previous_id} left no {MODEL_FILE} to continue from")
        dense = self.hypermodel.build(hp)
        model = _load_model(path, compile=False)
        model.compile(**compile_args(dense, self.optimizer, self.loss, self.metrics))
        return model

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        """Build, prune, compile, train and score one trial; returns its metrics dict.

        Metrics: the final epoch's ``fit`` logs (``loss``, ``accuracy``, ``val_*`` ...),
        ``sparsity`` (achieved, over the prunable weights), ``size_kb`` and, with a
        constraint, ``feasible`` (1.0/0.0) and the constrained objective.
        """
        started = time.time()
        hp = trial.hyperparameters
        self._seed_trial(trial.trial_id)
        fit_args, kwargs = made_data(fit_args, dict(fit_kwargs))
        user_callbacks = kwargs.pop("callbacks", None)
        epochs = check_int(kwargs.pop("epochs", 1), "epochs", 1)
        initial_epoch = check_int(kwargs.pop("initial_epoch", 0), "initial_epoch", minimum=0)
        if "tuner/epochs" in hp.values:
            epochs = int(hp.values["tuner/epochs"])
            initial_epoch = int(hp.values["tuner/initial_epoch"])
        if epochs <= initial_epoch:
            raise kt_errors.FatalValueError(f"epochs={epochs}: must exceed initial_epoch={initial_epoch}")
        previous = hp.values.get("tuner/trial_id")
        per_epoch = steps_per_epoch(fit_args, kwargs)
        total_steps = (epochs - initial_epoch) * per_epoch

        keras.backend.clear_session()
        self._seed_trial(trial.trial_id)
        gc.collect()
        schedule = None
        with self._scope():
            if previous is not None:
                # Hyperband continuation: the previous trial's model, its pruning schedule (all of
                # whose events lie in the steps already trained) and its masks.
                model = self._load_for_continuation(hp, previous)
            else:
                dense = self.hypermodel.build(hp)
                try:
                    schedule = self.hypermodel.make_schedule(hp, total_steps)
                    data = scoring_data(fit_args, kwargs)
                    seed = self._trial_seed(trial.trial_id)
                    model = self.hypermodel.prune(hp, dense, total_steps, data=data, seed=seed)
                except ScheduleTooShort as e:
                    raise kt_errors.FailedTrialError(str(e)) from None
                model.compile(**compile_args(dense, self.optimizer, self.loss, self.metrics))
        history = model.fit(
            *fit_args,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=trial_callbacks(model, user_callbacks, trial.trial_id),
            **kwargs,
        )
        logs = {name: float(values[-1]) for name, values in history.history.items() if values}
        metrics = self._trial_metrics(model, logs)
        self.save_model(trial.trial_id, model)
        record = {
            "trial_id": trial.trial_id,
            "tuner_id": self.tuner_id,
            "hyperparameters": dict(hp.values),
            "epochs": epochs,
            "initial_epoch": initial_epoch,
            "steps_per_epoch": per_epoch,
            "total_steps": total_steps,
            "continued_from": previous,
            "schedule": None if schedule is None else schedule.get_config(),
            "metrics": metrics,
            "seconds": round(time.time() - started, 3),
        }
        write_text(os.path.join(self.get_trial_dir(trial.trial_id), RUN_FILE), json.dumps(record, indent=2) + "\n")
        return metrics

    def _trial_metrics(self, model, logs):
        return trial_metrics(model, logs, self.metric, self.constraint, self.size)

    # ------------------------------------------------------------------ models

    def save_model(self, trial_id, model, step=0):
        """Write the trial's weights (``checkpoint.weights.h5``) and model (``model.keras``), atomically."""
        folder = self.get_trial_dir(trial_id)
        with atomic_path(os.path.join(folder, WEIGHTS_FILE)) as tmp:
            model.save_weights(tmp)
        with atomic_path(os.path.join(folder, MODEL_FILE)) as tmp:
            model.save(tmp)

    def model_path(self, trial_id):
        """Path of the trial's saved wrapped model (``model.keras``)."""
        return os.path.join(self.get_trial_dir(trial_id), MODEL_FILE)

    def load_model(self, trial):
        """The trained, wrapped model of ``trial`` (a Trial or a trial id), compiled when possible."""
        trial_id = trial if isinstance(trial, str) else trial.trial_id
        path = self.model_path(trial_id)
        if not os.path.exists(path):
            raise ValueError(f"trial={trial_id!r}: no saved model at {path} (the trial did not complete)")
        with self._scope():
            try:
                return _load_model(path)
            except (ValueError, TypeError):
                return _load_model(path, compile=False)

    # ------------------------------------------------------------------ results

    def _all_trials(self):
        if isinstance(self.oracle, kt.Oracle):
            return [self.oracle.trials[k] for k in sorted(self.oracle.trials)]
        return sorted(self.oracle.get_best_trials(10**6), key=lambda t: t.trial_id)

    def _feasible(self, trial):
        if self.constraint is None:
            return True
        return trial.metrics.exists(objectives.FEASIBLE) and trial.metrics.get_last_value(objectives.FEASIBLE) >= 0.5

    def get_best_trials(self, num_trials=1):
        """The best completed trials, best first; with a constraint only feasible ones (possibly fewer
        than ``num_trials``, or none)."""
        check_int(num_trials, "num_trials", 1)
        trials = [
            t
            for t in self._all_trials()
            if t.status == trial_module.TrialStatus.COMPLETED and t.score is not None and self._feasible(t)
        ]
        trials.sort(key=lambda t: t.score, reverse=self.objective.direction == "max")
        return trials[:num_trials]

    def get_best_models(self, num_models=1):
        """The trained, wrapped models of :meth:`get_best_trials` (strip them with ``tfprune.strip``)."""
        return [self.load_model(t) for t in self.get_best_trials(num_models)]

    def get_best_hyperparameters(self, num_trials=1):
        """``HyperParameters`` of :meth:`get_best_trials`; rebuild with ``tuner.hypermodel.build(hp)``."""
        return [t.hyperparameters for t in self.get_best_trials(num_trials)]

    def results(self):
        """One dict per completed trial: ``trial_id``, ``score``, ``hyperparameters``, ``metrics``."""
        out = []
        for t in self._all_trials():
            if t.status != trial_module.TrialStatus.COMPLETED:
                continue
            metrics = {name: float(t.metrics.get_last_value(name)) for name in t.metrics.metrics}
            out.append(
                {
                    "trial_id": t.trial_id,
                    "score": None if t.score is None else float(t.score),
                    "hyperparameters": dict(t.hyperparameters.values),
                    "metrics": metrics,
                }
            )
        return out

    def pareto_report(self, directory=None, name="pareto"):
        """Write the accuracy-sparsity Pareto table (``.md``) and plot (``.png``); see
        :func:`tfprune.tuning.pareto.write_report`. Default folder: the project directory."""
        from tfprune.tuning import pareto

        return pareto.write_report(self.results(), self.metric, directory or self.project_dir, name=name)
