"""How a trial's pruned model is compiled, trained and scored."""

import copy
import os

from keras_tuner import errors as kt_errors

from tfprune.backend import keras
from tfprune.pruning_callbacks import callbacks as pruning_callbacks
from tfprune.summary import sparsity_summary
from tfprune.tuning import objectives


def compile_args(dense, optimizer=None, loss=None, metrics=None):
    """The compile arguments of a trial's pruned model: the dense model's own, overridden by the
    tuner's ``optimizer``/``loss``/``metrics``; a fresh optimizer object for each trial."""
    args = {}
    if getattr(dense, "_is_compiled", False):
        args = {k: v for k, v in dense._get_compile_args().items() if v is not None}
        optimizer = args.get("optimizer")
        if optimizer is not None and not isinstance(optimizer, str):
            try:
                args["optimizer"] = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
            except (ValueError, TypeError):
                pass
        if getattr(dense, "_jit_compile", None):
            args["jit_compile"] = True
    if optimizer is not None:
        if not isinstance(optimizer, str):
            optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        args["optimizer"] = optimizer
    if loss is not None:
        args["loss"] = loss
    if metrics is not None:
        args["metrics"] = metrics
    if args.get("loss") is None:
        raise kt_errors.FatalValueError(
            "build(hp) returned an uncompiled model and the tuner has no loss: compile the model in build(hp) "
            "or pass loss= (and optimizer=, metrics=) to PruningTuner"
        )
    args.setdefault("optimizer", "adam")
    return args


def trial_callbacks(model, user_callbacks, trial_id):
    """tfprune's pruning callbacks plus a fresh copy of the user's; TensorBoard logs per trial."""
    try:
        user_callbacks = copy.deepcopy(list(user_callbacks or []))
    except Exception:
        raise kt_errors.FatalValueError(
            "callbacks: every callback given to search() must be deep-copyable (each trial gets a fresh copy)"
        ) from None
    log_dir = None
    for callback in user_callbacks:
        if isinstance(callback, keras.callbacks.TensorBoard):
            callback.log_dir = os.path.join(str(callback.log_dir), str(trial_id))
            log_dir = log_dir or os.path.join(callback.log_dir, "sparsity")
    return pruning_callbacks(model, log_dir=log_dir) + user_callbacks


def trial_metrics(model, logs, metric, constraint, size):
    """The trial's metrics: ``logs`` plus sparsity, size and, with a constraint, its score."""
    summary = sparsity_summary(model)
    metrics = dict(logs)
    metrics[objectives.SPARSITY] = float(summary["total"]["sparsity"])
    metrics[objectives.SIZE_KB] = float(objectives.model_size_kb(model, size))
    wanted = metric
    if wanted not in metrics:
        hint = " pass validation_data= to search()," if wanted.startswith("val_") else ""
        raise kt_errors.FatalValueError(
            f"objective={wanted!r} is not among the trial's metrics {sorted(metrics)}:{hint} or choose one "
            "of those as objective"
        )
    if constraint is not None:
        try:
            score, feasible, _ = constraint.evaluate(
                metrics[wanted],
                metrics[objectives.SPARSITY],
                metrics[objectives.SIZE_KB],
                prunable_params=summary["total"]["params"],
            )
        except ValueError as e:
            raise kt_errors.FatalValueError(str(e)) from None
        metrics[objectives.FEASIBLE] = 1.0 if feasible else 0.0
        metrics[constraint.name] = float(score)
    return metrics
