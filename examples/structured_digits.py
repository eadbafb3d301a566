"""Structured pruning on digits: greedy forward selection against L1, then a narrower model.

Greedy forward selection (Ye et al., "Good subnetworks provably exist: pruning via greedy
forward selection", ICML 2020) grows each layer from nothing, adding the neuron or filter that
lowers the training loss most; L1 (Li et al. 2017) keeps the filters of largest kernel norm.
Both keep half of every layer's channels here, and model surgery builds a model that is
physically half as wide: a plain tf_keras model, saved and reloaded without custom objects.

    python examples/structured_digits.py

Writes ./structured-digits/greedy.keras. ``TFPRUNE_EXAMPLE_TINY=1`` trains one epoch instead
of ten and lets greedy try fewer candidates on a smaller subsample (the test suite runs every
example that way).
"""

import os

import numpy as np

import tfprune  # first: tf.keras -> tf_keras
import tf_keras as keras
from tfprune import data
from tfprune import structured as st
from tfprune.cli.models import compile_for_classification, default_model

TINY = os.environ.get("TFPRUNE_EXAMPLE_TINY") == "1"
EPOCHS = 1 if TINY else 10
GREEDY = {"candidates": 8, "subsample": 128} if TINY else {"candidates": 50, "subsample": 1000}
WIDTH = 0.5

splits = data.load("digits")
dense = compile_for_classification(default_model(splits.input_shape, splits.num_classes))
dense.fit(splits.train, epochs=EPOCHS, verbose=0)
for name, group in st.channel_groups(dense).items():
    print(f"{name}: {group.width} channels, prunable {group.prunable}{'' if group.prunable else ' (' + group.reason + ')'}")

results = {}
for method, options in (("greedy", GREEDY), ("l1", {})):
    small, report = st.select(dense, splits, method, width=WIDTH, progress=False, **options)
    results[method] = small
    widths = ", ".join(f"{n} {w['before']}->{w['after']}" for n, w in report.widths.items())
    print(f"{method}: {widths}; params {report.params_before} -> {report.params_after}, "
          f"FLOPs {report.flops_before} -> {report.flops_after}, "
          f"test accuracy {report.accuracy_before:.3f} -> {report.accuracy_after:.3f} ({report.seconds:.1f} s)")

os.makedirs("structured-digits", exist_ok=True)
path = os.path.join("structured-digits", "greedy.keras")
results["greedy"].save(path)
reloaded = keras.models.load_model(path)  # plain Keras: no tfprune objects needed
x = next(iter(splits.test))[0]
same = np.array_equal(reloaded.predict(x, verbose=0), results["greedy"].predict(x, verbose=0))
print(f"reloaded {path} with plain keras.models.load_model: same outputs {same}")
