"""Prune a small CNN on the offline digits data with LAMP, then strip and report.

    python examples/prune_digits_lamp.py

Writes TensorBoard logs to ./logs/lamp. ``TFPRUNE_EXAMPLE_TINY=1`` trains one epoch instead of
ten (the test suite runs every example that way).
"""

import os

import tfprune  # first: tf.keras -> tf_keras
from tfprune import data
from tfprune.cli.models import compile_for_classification, default_model
from tfprune.schedules import Gradual

TINY = os.environ.get("TFPRUNE_EXAMPLE_TINY") == "1"
EPOCHS = 1 if TINY else 10
SPARSITY = 0.95

splits = data.load("digits")
dense = compile_for_classification(default_model(splits.input_shape, splits.num_classes))
dense.fit(splits.train, epochs=EPOCHS, verbose=0)
print("dense test accuracy:", dense.evaluate(splits.test, verbose=0)[1])

steps = EPOCHS * int(splits.train.cardinality())
schedule = Gradual(SPARSITY, end_step=steps // 2, frequency=max(1, steps // 20))
pruned = tfprune.prune(dense, allocation="lamp", schedule=schedule)
compile_for_classification(pruned)
pruned.fit(splits.train, epochs=EPOCHS, verbose=0, callbacks=tfprune.callbacks(pruned, log_dir="logs/lamp"))

small = compile_for_classification(tfprune.strip(pruned))
print("pruned test accuracy:", small.evaluate(splits.test, verbose=0)[1])
print(tfprune.format_summary(tfprune.sparsity_summary(small)))
