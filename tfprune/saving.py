"""Load a saved (possibly mid-pruning) model with tfprune's Keras objects registered and the
training guard re-installed.

Importing this module registers every Keras object tfprune saves (the pruning wrapper, the
schedules, ``BranchScale``); after that, plain ``keras.models.load_model`` works too.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

from tfprune._validate import named
from tfprune import schedules, training_guard, wrapper  # noqa: F401  (registered Keras objects)
from tfprune.backend import keras
from tfprune.pruning import is_pruned
from tfprune.scoring import sbp_si  # noqa: F401  (BranchScale)


#: What :func:`load_model` reads, for error messages.
FORMATS = "a tf_keras (Keras 2) model saved as .keras, .h5 or a SavedModel folder"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _keras_version(path):
    """The Keras version recorded in a .keras archive or an HDF5 file ('' when none is)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "metadata.json" not in archive.namelist():
                return ""
            return str(json.loads(archive.read("metadata.json")).get("keras_version", ""))
    import h5py

    with h5py.File(path, "r") as f:
        version = f.attrs.get("keras_version", "")
    return version.decode() if isinstance(version, bytes) else str(version)


def check_model_file(path: str, argument: str = "path") -> None:
    """Fail with one clear line, naming the file, when ``path`` is not a model tfprune can load:
    missing, empty, truncated or not a Keras file, or saved by Keras 3."""
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
        version = _keras_version(path)
    except (OSError, ValueError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"{name}: a damaged model file ({error}); save the model again") from None
    if version.startswith("3"):
        raise ValueError(
            f"{name}: saved by Keras {version}; tfprune needs {FORMATS}: build and save it with "
            "`import tf_keras as keras` (Keras 3 models are not converted)"
        )


def load_model(path: str, compile: bool = True, safe_mode: bool = True) -> Any:
    """``keras.models.load_model`` for .keras, .h5 and SavedModel files of pruned models.

    No custom objects are needed: tfprune's wrapper, schedules and layers are registered.
    Training a loaded wrapped model continues its schedule from the saved pruning step.
    ``safe_mode=False`` loads .keras files holding Lambda layers (it runs the code stored in
    the file: only for files you trust).
    """
    check_model_file(path)
    model = keras.models.load_model(path, compile=compile, safe_mode=safe_mode)
    return training_guard.install(model) if is_pruned(model) else model
