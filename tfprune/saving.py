"""Load a saved (possibly mid-pruning) model with tfprune's Keras objects registered and the
training guard re-installed.

Importing this module registers every Keras object tfprune saves (the pruning wrapper, the
schedules, ``BranchScale``); after that, plain ``keras.models.load_model`` works too.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

from tfprune._validate import named
from tfprune import schedules, training_guard, wrapper  # noqa: F401  (registered Keras objects)
from tfprune.backend import keras
from tfprune.keras3 import from_keras3, is_keras3_file, keras_version
from tfprune.pruning import is_pruned
from tfprune.scoring import sbp_si  # noqa: F401  (BranchScale)


#: What :func:`load_model` reads, for error messages.
FORMATS = "a Keras model saved as .keras or .h5 (by tf_keras or Keras 3) or a tf_keras SavedModel folder"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_model_file(path: str, argument: str = "path") -> None:
    """Fail with one clear line, naming the file, when ``path`` is not a model tfprune can load:
    missing, empty, truncated or not a Keras file."""
    name = named(argument, path)
    if not os.path.exists(path):
        raise ValueError(f"{name}: no such file or folder")
    if os.path.isdir(path):
        if not any(os.path.exists(os.path.join(path, f)) for f in ("saved_model.pb", "saved_model.pbtxt")):
            raise ValueError(f"{name}: is a folder without saved_model.pb, not a SavedModel; expected {FORMATS}")
        return
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise ValueError(f"{name}: the file is empty (0 bytes); expected {FORMATS}")
    if head[:4] == b"PK\x03\x04" and not zipfile.is_zipfile(path):
        raise ValueError(f"{name}: a truncated or damaged .keras (zip) archive; save the model again")
    if not zipfile.is_zipfile(path) and head != _HDF5_SIGNATURE:
        raise ValueError(f"{name}: not a Keras model file (neither a .keras archive nor HDF5); expected {FORMATS}")
    try:
        keras_version(path)
    except (OSError, ValueError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"{name}: a damaged model file ({error}); save the model again") from None


def load_model(path: str, compile: bool = True, safe_mode: bool = True, argument: str = "path") -> Any:
    """``keras.models.load_model`` for .keras, .h5 and SavedModel files of pruned models.

    No custom objects are needed: tfprune's wrapper, schedules and layers are registered.
    Training a loaded wrapped model continues its schedule from the saved pruning step.
    ``safe_mode=False`` loads .keras files holding Lambda layers (it runs the code stored in
    the file: only for files you trust). A file saved by Keras 3 is rebuilt in tf_keras with
    :func:`tfprune.from_keras3` (uncompiled). ``argument``: how errors name ``path``.
    """
    check_model_file(path, argument)
    if is_keras3_file(path):
        return from_keras3(path, argument=argument, safe_mode=safe_mode)
    model = keras.models.load_model(path, compile=compile, safe_mode=safe_mode)
    return training_guard.install(model) if is_pruned(model) else model
