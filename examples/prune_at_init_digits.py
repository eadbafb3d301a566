"""Prune an untrained MLP on digits at initialisation (SNIP, SynFlow, SBP-SI), train, compare.

Masks are chosen before training and stay frozen; 99% of the weights are removed.

    python examples/prune_at_init_digits.py

``TFPRUNE_EXAMPLE_TINY=1`` trains one epoch instead of 30 (the test suite runs every example
that way).
"""

import os
import warnings

import tfprune  # first: tf.keras -> tf_keras
import tf_keras as keras
from tfprune import data

TINY = os.environ.get("TFPRUNE_EXAMPLE_TINY") == "1"
EPOCHS = 1 if TINY else 30
SPARSITY = 0.99
splits = data.load("digits")


def mlp(seed=0):
    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential([
        keras.Input(splits.input_shape),
        keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu", kernel_initializer=init, name="fc1"),
        keras.layers.Dense(100, activation="relu", kernel_initializer=init, name="fc2"),
        keras.layers.Dense(splits.num_classes, kernel_initializer=init, name="logits"),
    ])


model = mlp()
for score in ("magnitude", "snip", "synflow", "sbp-si"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", tfprune.CollapseWarning)
        # The model itself is not modified; `report` says what was done and what survived.
        pruned, report = tfprune.prune_at_init(model, SPARSITY, score=score, data=splits)
    for warning in caught:
        print(f"[{score}] warning: {warning.message}")
    pruned.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    pruned.fit(splits.train, epochs=EPOCHS, verbose=0, callbacks=tfprune.callbacks(pruned))  # masks stay frozen
    small = tfprune.strip(pruned)
    small.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    collapse = report["report"]
    dead = ", ".join(f"{name}: {len(units)}" for name, units in collapse["dead_units"].items())
    print(f"\n{score}: test accuracy {small.evaluate(splits.test, verbose=0)[1]:.3f}, "
          f"connected {collapse['connected']}, dead units {{{dead}}}")
    print(tfprune.format_summary(tfprune.sparsity_summary(small)))

# Keep at least one weight per layer and per output unit (the collapse guard):
guarded, guarded_report = tfprune.prune_at_init(model, SPARSITY, score="magnitude", min_per_layer=1, min_per_unit=1)
print("\nmagnitude + guard: connected", guarded_report["report"]["connected"])
