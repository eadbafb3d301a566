"""Shared test set-up: quiet TensorFlow, two logical CPU devices, seeded randomness."""

import os
import random

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tfprune  # noqa: E402,F401  (before TensorFlow: tf_keras)
from tfprune.backend import tf  # noqa: E402

# Two logical CPUs so MirroredStrategy can be tested on one machine; must happen before
# TensorFlow initialises its devices.
try:
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
    )
except RuntimeError:
    pass


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One MirroredStrategy over the two logical CPUs for the whole session.

    Several MirroredStrategy objects in one process reuse collective instance keys, and their
    all-reduces then clash ("Shape mismatch in the collective instance"); tests share this one.
    """
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    tf.random.set_seed(0)
    yield
