"""Keras Tuner oracles by name, the search objective (plain or constrained), chief/worker roles.

Seeds: Keras Tuner's oracles treat seed 0 as "no seed" (``seed or random.randint(...)``), so
tfprune hands them ``seed + 1`` (:func:`oracle_seed`): every seed, 0 included, samples the same
trials twice.
"""

from datetime import datetime

import keras_tuner as kt
from keras_tuner.src.engine.oracle import Display

from tfprune._validate import check_int
from tfprune.tuning.objectives import Constrained

ORACLES = ("random", "bayesian", "hyperband")


_KNOWN_DIRECTIONS = {"sparsity": "max", "size_kb": "min"}


def _has_chief_oracle():
    from keras_tuner.src.distribute import utils as dist_utils

    return dist_utils.has_chief_oracle()


def _is_chief():
    from keras_tuner.src.distribute import utils as dist_utils

    return dist_utils.is_chief_oracle()


def _resolve_objective(objective, min_sparsity, max_size_kb):
    """(keras_tuner.Objective the oracle optimises, Constrained or None)."""
    if isinstance(objective, Constrained):
        if min_sparsity is not None or max_size_kb is not None:
            raise ValueError(
                "min_sparsity/max_size_kb: already given by objective=Constrained(...); give them in one place"
            )
        return kt.Objective(objective.name, "max"), objective
    if isinstance(objective, str):
        if not objective:
            raise ValueError("objective='': give a metric name such as 'val_accuracy'")
        name = objective
        try:
            direction = _KNOWN_DIRECTIONS.get(name) or _infer_direction(name)
        except ValueError as e:
            direction = None
            unknown = e
        base = kt.Objective(name, direction) if direction else None
    elif isinstance(objective, kt.Objective):
        name, base = objective.name, objective
    else:
        raise TypeError(
            f"objective={objective!r}: expected a metric name (e.g. 'val_accuracy'), a keras_tuner.Objective "
            "or tfprune.tuning.Constrained"
        )
    if min_sparsity is not None or max_size_kb is not None:
        if base is not None and base.direction != "max":
            shown = repr(objective) if isinstance(objective, str) else f"Objective({name!r}, {base.direction!r})"
            raise ValueError(
                f"objective={shown}: a min_sparsity/max_size_kb constraint needs a metric to maximise "
                "in [0, 1] (accuracy, AUC, ...)"
            )
        constraint = Constrained(name, min_sparsity=min_sparsity, max_size_kb=max_size_kb)
        return kt.Objective(constraint.name, "max"), constraint
    if base is None:
        raise ValueError(f"objective={name!r}: {unknown}")
    return base, None


def _infer_direction(name):
    from keras_tuner.src.engine import metrics_tracking

    direction = metrics_tracking.infer_metric_direction(name)
    if direction is None:
        raise ValueError(
            "cannot tell whether to maximise or minimise it; pass keras_tuner.Objective(name, 'max'|'min')"
        )
    return direction


def oracle_seed(seed):
    """The seed the Keras Tuner oracle gets for tfprune's ``seed``: ``seed + 1`` (0 would mean none)."""
    return None if seed is None else seed + 1


class TrialDisplay(Display):
    """Keras Tuner's console lines, with trials named by their id (their folder is ``trial_<id>``)
    instead of numbered from 1."""

    def on_trial_begin(self, trial):
        if self.verbose < 1:
            return
        started = datetime.now()
        self.trial_start[trial.trial_id] = started
        if self.search_start is None:
            self.search_start = started
        self.trial_number[trial.trial_id] = trial.trial_id
        print(f"\nSearch: running trial {trial.trial_id} (folder trial_{trial.trial_id})\n")
        self.show_hyperparameter_table(trial)
        print()


def _with_display(oracle):
    oracle._display = TrialDisplay(oracle=oracle, verbose=oracle._display.verbose)
    return oracle


def make_oracle(oracle, objective, max_trials=None, max_epochs=None, seed=None, **kwargs):
    """A Keras Tuner oracle by name: "random", "bayesian" or "hyperband".

    ``seed`` (an int >= 0 or None) is given to the oracle as :func:`oracle_seed` (``seed + 1``).
    ``max_trials`` defaults to 10 for random and bayesian; for hyperband it is optional (a cap
    on the trials Hyperband's brackets would run) and ``max_epochs`` is required.
    """
    if oracle not in ORACLES:
        raise ValueError(f"oracle={oracle!r}: choose one of {list(ORACLES)} or pass a keras_tuner.Oracle")
    seed = oracle_seed(check_int(seed, "seed", minimum=0, allow_none=True))
    if oracle == "hyperband":
        max_epochs = check_int(max_epochs, "max_epochs", minimum=1, allow_none=True)
        if max_epochs is None:
            raise ValueError("max_epochs=None: oracle='hyperband' needs max_epochs (an integer >= 1)")
        max_trials = check_int(max_trials, "max_trials", minimum=1, allow_none=True)
        result = kt.oracles.HyperbandOracle(objective=objective, max_epochs=max_epochs, seed=seed, **kwargs)
        result.max_trials = max_trials
        return _with_display(result)
    if max_epochs is not None:
        raise ValueError(f"max_epochs={max_epochs!r}: only used by oracle='hyperband'; pass epochs= to search()")
    max_trials = check_int(10 if max_trials is None else max_trials, "max_trials", minimum=1)
    cls = kt.oracles.RandomSearchOracle if oracle == "random" else kt.oracles.BayesianOptimizationOracle
    return _with_display(cls(objective=objective, max_trials=max_trials, seed=seed, **kwargs))


def serve(oracle, poll_interval):
    """Serve ``oracle`` to the workers (Keras Tuner's gRPC servicer at ``KERASTUNER_ORACLE_IP`` and
    ``KERASTUNER_ORACLE_PORT``) until all are done, checking every ``poll_interval`` seconds."""
    import os
    import time
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as e:
        raise RuntimeError(f"KERASTUNER_ORACLE_IP/PORT: cannot listen on {address}: {e}") from None
    if not bound:
        raise RuntimeError(f"KERASTUNER_ORACLE_IP/PORT: cannot listen on {address}")
    server.start()
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(oracle)):
            time.sleep(poll_interval)
    finally:
        server.stop(grace=2).wait()
