"""Load a saved (possibly mid-pruning) model with tfprune's Keras objects registered and the
training guard re-installed.

Importing this module registers every Keras object tfprune saves (the pruning wrapper, the
schedules, ``BranchScale``); after that, plain ``keras.models.load_model`` works too.
"""

from __future__ import annotations

import os
from typing import Any

from tfprune import schedules, training_guard, wrapper  # noqa: F401  (registered Keras objects)
from tfprune.backend import keras
from tfprune.pruning import is_pruned
from tfprune.scoring import sbp_si  # noqa: F401  (BranchScale)


def load_model(path: str, compile: bool = True) -> Any:
    """``keras.models.load_model`` for .keras, .h5 and SavedModel files of pruned models.

    No custom objects are needed: tfprune's wrapper, schedules and layers are registered.
    Training a loaded wrapped model continues its schedule from the saved pruning step.
    """
    if not os.path.exists(path):
        raise ValueError(f"path={path!r}: no such file or folder")
    model = keras.models.load_model(path, compile=compile)
    return training_guard.install(model) if is_pruned(model) else model
