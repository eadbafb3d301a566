"""Prune with LAMP under XLA (``jit_compile=True``) and ``tf.distribute.MirroredStrategy``.

    python examples/xla_mirrored_digits.py

With GPUs, one run: MirroredStrategy over every GPU with XLA-compiled training steps. Without,
TensorFlow itself cannot run XLA-compiled steps under MirroredStrategy on *logical* CPU devices
(see docs/guide.md, "XLA and distribution"), so the example shows the two separately: XLA on one
CPU, then MirroredStrategy over two logical CPUs without XLA. Every run builds, prunes and
compiles the model inside the strategy's scope, trains with ``tfprune.callbacks`` and reaches
the scheduled sparsity. ``TFPRUNE_EXAMPLE_TINY=1`` trains one epoch of 10 batches instead of
five epochs (the test suite runs every example that way).
"""

import os

import tfprune  # first: tf.keras -> tf_keras
import tensorflow as tf
from tfprune import data
from tfprune.cli.models import compile_for_classification, default_model
from tfprune.schedules import Gradual

TINY = os.environ.get("TFPRUNE_EXAMPLE_TINY") == "1"
EPOCHS = 1 if TINY else 5
SPARSITY = 0.9

# Devices are fixed before TensorFlow first touches them (loading the data does).
GPUS = tf.config.list_physical_devices("GPU")
if not GPUS:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

if GPUS:
    RUNS = [("MirroredStrategy over the GPUs", tf.distribute.MirroredStrategy(), True)]
else:
    print("no GPU: XLA and MirroredStrategy run separately (XLA under MirroredStrategy fails inside "
          "TensorFlow on logical CPU devices)")
    RUNS = [("one CPU", tf.distribute.get_strategy(), True),
            ("MirroredStrategy over 2 logical CPUs", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), False)]

splits = data.load("digits")
train = splits.train.take(10) if TINY else splits.train
steps = EPOCHS * int(train.cardinality())
for label, strategy, jit_compile in RUNS:
    with strategy.scope():  # variables (weights, masks, per-weight targets) are created per replica
        model = default_model(splits.input_shape, splits.num_classes)
        pruned = tfprune.prune(model, allocation="lamp",
                               schedule=Gradual(SPARSITY, end_step=steps // 2, frequency=max(1, steps // 10)))
        compile_for_classification(pruned, jit_compile=jit_compile)
    pruned.fit(train, epochs=EPOCHS, verbose=0, callbacks=tfprune.callbacks(pruned))
    small = compile_for_classification(tfprune.strip(pruned))
    total = tfprune.sparsity_summary(small)["total"]
    print(f"{label}: {strategy.num_replicas_in_sync} replica(s), jit_compile={jit_compile}: "
          f"sparsity {total['sparsity']:.2%} (target {SPARSITY:.0%}), "
          f"test accuracy {small.evaluate(splits.test, verbose=0)[1]:.3f}")
