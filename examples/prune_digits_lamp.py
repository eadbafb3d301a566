"""Prune a small CNN on the offline digits data with LAMP, then strip and report.

    python examples/prune_digits_lamp.py
"""

import tfprune  # first: tf.keras -> tf_keras
from tfprune import data
from tfprune.cli.models import compile_for_classification, default_model
from tfprune.schedules import Gradual

splits = data.load("digits")
dense = compile_for_classification(default_model(splits.input_shape, splits.num_classes))
dense.fit(splits.train, epochs=10, verbose=0)
print("dense test accuracy:", dense.evaluate(splits.test, verbose=0)[1])

steps = 10 * int(splits.train.cardinality())
pruned = tfprune.prune(dense, allocation="lamp", schedule=Gradual(0.95, end_step=steps // 2, frequency=20))
compile_for_classification(pruned)
pruned.fit(splits.train, epochs=10, verbose=0, callbacks=tfprune.callbacks(pruned, log_dir="logs/lamp"))

small = compile_for_classification(tfprune.strip(pruned))
print("pruned test accuracy:", small.evaluate(splits.test, verbose=0)[1])
print(tfprune.format_summary(tfprune.sparsity_summary(small)))
