"""Load a saved (possibly mid-pruning) model with the training guard re-installed."""

import os

from tfprune import training_guard
from tfprune.backend import keras
from tfprune.pruning import is_pruned


def load_model(path, compile=True):
    """``keras.models.load_model`` for .keras, .h5 and SavedModel files of pruned models.

    No custom objects are needed: tfprune's schedules and TF-MOT's wrapper are registered.
    Training a loaded wrapped model continues its schedule from the saved pruning step.
    """
    if not os.path.exists(path):
        raise ValueError(f"path={path!r}: no such file or folder")
    model = keras.models.load_model(path, compile=compile)
    return training_guard.install(model) if is_pruned(model) else model
