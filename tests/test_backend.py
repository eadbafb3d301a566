"""``import tfprune`` gives tf_keras whatever the import order (fresh interpreters)."""

import os
import subprocess
import sys

import pytest

# What ``tf.keras.__name__`` is when TensorFlow resolved ``tf.keras`` to Keras 3 (no
# TF_USE_LEGACY_KERAS): Keras 3's module for TensorFlow's ``tf.keras``, not tf_keras.
KERAS3_TF_KERAS = "keras._tf_keras.keras"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = {
    "tfprune first": "import tfprune, tensorflow as tf; print(tf.keras.__name__)",
    "tensorflow first": "import tensorflow as tf; import tfprune; print(tf.keras.__name__)",
    "tf.keras already Keras 3": (
        "import tensorflow as tf; k = tf.keras.__name__; import tfprune, tf_keras as keras; "
        "m = tfprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), sparsity=0.5); "
        "print(k, tfprune.sparsity_summary(m)['total']['nonzeros'])"
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_import_order(name):
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    out = subprocess.run([sys.executable, "-c", CASES[name]], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    if name == "tf.keras already Keras 3":
        # tf.keras had already resolved to Keras 3 (its tf.keras shim) before tfprune was
        # imported, and tfprune still prunes with tf_keras: 6 of the 4 x 3 kernel survive at 50%.
        keras_name, nonzeros = last.split()
        assert keras_name == KERAS3_TF_KERAS
        assert nonzeros == "6"
    else:
        assert last.startswith("tf_keras")
