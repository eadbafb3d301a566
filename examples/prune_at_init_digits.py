"""Prune an untrained MLP on digits at initialisation (SNIP, SynFlow, SBP-SI), train, compare.

Masks are chosen before training and stay frozen; 99% of the weights are removed.

    python examples/prune_at_init_digits.py
"""

import warnings

import tfprune  # first: tf.keras -> tf_keras
import tf_keras as keras
from tfprune import data
from tfprune.at_init import prune_at_init
from tfprune.collapse import CollapseWarning

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
        warnings.simplefilter("always", CollapseWarning)
        pruned, info = prune_at_init(model, SPARSITY, score=score, data=splits)  # the model itself is not modified
    for warning in caught:
        print(f"[{score}] warning: {warning.message}")
    pruned.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    pruned.fit(splits.train, epochs=30, verbose=0, callbacks=tfprune.callbacks(pruned))  # masks stay frozen
    small = tfprune.strip(pruned)
    small.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    report = info["report"]
    print(f"\n{score}: test accuracy {small.evaluate(splits.test, verbose=0)[1]:.3f}, "
          f"connected {report['connected']}, dead units {{{', '.join(f'{k}: {len(v)}' for k, v in report['dead_units'].items())}}}")
    print(tfprune.format_summary(tfprune.sparsity_summary(small)))

# Keep at least one weight per layer and per output unit (the collapse guard):
guarded, guarded_info = prune_at_init(model, SPARSITY, score="magnitude", min_per_layer=1, min_per_unit=1)
print("\nmagnitude + guard: connected", guarded_info["report"]["connected"])
