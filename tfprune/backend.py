"""The one place tfprune imports TensorFlow, tf_keras and TF-MOT.

TF-MOT only works with Keras 2 (the ``tf_keras`` package). Setting
``TF_USE_LEGACY_KERAS=1`` before TensorFlow resolves ``tf.keras`` makes
``tf.keras`` point at tf_keras too. ``import tfprune`` does this first, so it works
whether TensorFlow was imported before or after tfprune, as long as ``tf.keras``
had not yet been used. If it had (Keras 3 is then loaded), tfprune still uses
``tf_keras`` itself; build your models with ``import tf_keras as keras``.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
from tensorflow_model_optimization.python.core.sparsity.keras import (  # noqa: E402
    pruning_wrapper,
)

#: TF-MOT's wrapper class; tfprune's own (:mod:`tfprune.wrapper`) subclasses it.
PruneLowMagnitude = pruning_wrapper.PruneLowMagnitude

# Models saved with TF-MOT's own wrapper load with plain ``keras.models.load_model`` too.
keras.utils.get_custom_objects().setdefault("PruneLowMagnitude", PruneLowMagnitude)

__all__ = ["tf", "keras", "tfmot", "PruneLowMagnitude"]
