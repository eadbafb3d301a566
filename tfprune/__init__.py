"""tfprune: layer-adaptive and at-initialisation pruning for Keras, on top of TF-MOT.

``import tfprune`` sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow resolves ``tf.keras``; build
models with ``import tf_keras as keras``.

Typical use::

    import tfprune, tf_keras as keras
    pruned = tfprune.prune(model, allocation="lamp",
                           schedule=tfprune.schedules.Gradual(0.9, end_step=2000))
    pruned.compile(optimizer="adam", loss=..., metrics=["accuracy"])
    pruned.fit(x, y, epochs=5, callbacks=tfprune.callbacks(pruned))
    small = tfprune.strip(pruned)
    print(tfprune.format_summary(tfprune.sparsity_summary(small)))
"""

from tfprune import backend as _backend  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)
from tfprune import allocation, init, schedules, scoring
from tfprune.at_init import CollapseWarning, collapse_report, prune_at_init
from tfprune.allocation import ALLOCATIONS, allocate
from tfprune.callbacks import callbacks
from tfprune.guard import MissingPruningCallbacks
from tfprune.prune import is_pruned, prune, strip
from tfprune.saving import load_model
from tfprune.summary import format_summary, sparsity_summary
from tfprune import tuning  # noqa: E402  (last: it builds on the names above)

__version__ = "0.1.0"

__all__ = [
    "ALLOCATIONS",
    "CollapseWarning",
    "MissingPruningCallbacks",
    "allocate",
    "allocation",
    "callbacks",
    "collapse_report",
    "format_summary",
    "init",
    "is_pruned",
    "load_model",
    "prune",
    "prune_at_init",
    "schedules",
    "scoring",
    "sparsity_summary",
    "strip",
    "tuning",
]
