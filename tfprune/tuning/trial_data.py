"""What a trial needs to know about the training data passed to ``search``: its steps per epoch
(to lay the pruning schedule over the trial) and a dataset for the at-initialisation scorers."""

import math

from keras_tuner import errors as kt_errors

from tfprune._validate import check_int
from tfprune.backend import keras, tf


def _first_array(x):
    if isinstance(x, dict):
        x = next(iter(x.values()))
    if isinstance(x, (list, tuple)):
        x = x[0]
    return x


def steps_per_epoch(fit_args, fit_kwargs):
    """Training steps per epoch ``model.fit`` will run for these arguments."""
    if fit_kwargs.get("steps_per_epoch") is not None:
        return check_int(fit_kwargs["steps_per_epoch"], "steps_per_epoch", 1)
    x = fit_args[0] if fit_args else fit_kwargs.get("x")
    if x is None:
        raise kt_errors.FatalValueError("search(): give the training data (x, y or a dataset) as for model.fit")
    if isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality().numpy())
        if cardinality <= 0:
            raise kt_errors.FatalValueError(
                "search(x=dataset): the dataset has infinite or unknown length; pass steps_per_epoch= so the "
                "pruning schedule can be laid out over the trial's training steps"
            )
        return cardinality
    if isinstance(x, keras.utils.Sequence):
        return len(x)
    array = _first_array(x)
    try:
        n = len(array)
    except TypeError:
        raise kt_errors.FatalValueError(
            f"search(x={type(x).__name__}): cannot tell the number of training steps; pass steps_per_epoch="
        ) from None
    split = fit_kwargs.get("validation_split") or 0.0
    if split:
        n = int(n * (1.0 - split))
    batch_size = fit_kwargs.get("batch_size") or 32
    return max(1, math.ceil(n / batch_size))


def scoring_data(fit_args, fit_kwargs):
    """The training data as at-initialisation scorers take it: a dataset of (x, y), or None."""
    x = fit_args[0] if fit_args else fit_kwargs.get("x")
    y = fit_args[1] if len(fit_args) > 1 else fit_kwargs.get("y")
    if isinstance(x, tf.data.Dataset):
        return x
    if x is None or y is None or isinstance(x, keras.utils.Sequence):
        return None
    return tf.data.Dataset.from_tensor_slices((x, y))


def made_data(fit_args, kwargs):
    """``x`` given as a function (``x()`` -> the training data) called now, once per trial, so every
    trial -- a rerun one too -- sees its data in the same order."""
    if fit_args and callable(fit_args[0]) and not isinstance(fit_args[0], tf.data.Dataset):
        fit_args = (fit_args[0](), *fit_args[1:])
    elif callable(kwargs.get("x")) and not isinstance(kwargs["x"], tf.data.Dataset):
        kwargs["x"] = kwargs["x"]()
    return fit_args, kwargs
