"""tfprune: layer-adaptive, at-initialisation and structured pruning for Keras, on top of TF-MOT.

``import tfprune`` sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow resolves ``tf.keras``
and imports nothing else: every name below is loaded on first use, so the command line starts
fast and ``import tfprune`` costs nothing until it is used. Build models with
``import tf_keras as keras``.

Typical use::

    import tfprune, tf_keras as keras
    pruned = tfprune.prune(model, allocation="lamp",
                           schedule=tfprune.schedules.Gradual(0.9, end_step=2000))
    pruned.compile(optimizer="adam", loss=..., metrics=["accuracy"])
    pruned.fit(x, y, epochs=5, callbacks=tfprune.callbacks(pruned))
    small = tfprune.strip(pruned)
    print(tfprune.format_summary(tfprune.sparsity_summary(small)))
"""

import importlib
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tfprune._version import __version__  # noqa: E402

# public name -> (module, attribute or None for the module itself)
_LAZY = {
    "ALLOCATIONS": ("tfprune.allocation", "ALLOCATIONS"),
    "SCORERS": ("tfprune.scoring", "SCORERS"),
    "SCHEDULES": ("tfprune.schedules", "SCHEDULES"),
    "AtInitResult": ("tfprune.at_init", "AtInitResult"),
    "CollapseWarning": ("tfprune.collapse", "CollapseWarning"),
    "EmptyLayerWarning": ("tfprune.allocation", "EmptyLayerWarning"),
    "MissingPruningCallbacks": ("tfprune.training_guard", "MissingPruningCallbacks"),
    "RoundLog": ("tfprune.round_log", "RoundLog"),
    "SparsityNotReachedWarning": ("tfprune.pruning_callbacks", "SparsityNotReachedWarning"),
    "allocate": ("tfprune.allocation", "allocate"),
    "callbacks": ("tfprune.pruning_callbacks", "callbacks"),
    "collapse_report": ("tfprune.collapse", "collapse_report"),
    "format_summary": ("tfprune.summary", "format_summary"),
    "from_keras3": ("tfprune.keras3", "from_keras3"),
    "is_pruned": ("tfprune.pruning", "is_pruned"),
    "load_model": ("tfprune.saving", "load_model"),
    "prune": ("tfprune.pruning", "prune"),
    "prune_at_init": ("tfprune.at_init", "prune_at_init"),
    "set_masks": ("tfprune.masks", "apply_masks"),
    "sparsity_summary": ("tfprune.summary", "sparsity_summary"),
    "strip": ("tfprune.pruning", "strip"),
    "to_keras3": ("tfprune.keras3", "to_keras3"),
    "wrap": ("tfprune.pruning", "wrap"),
}
# sub-packages and modules, under their own names
_LAZY.update({name: (f"tfprune.{name}", None) for name in (
    "allocation", "at_init", "bench", "collapse", "data", "diagnostics", "export", "layers", "masks", "schedules",
    "score_masks", "scoring", "structured", "tuning")})
_LAZY["init"] = ("tfprune.scoring.sbp_si", None)  # SBP-SI's initialisation, rescaling and stable ResNets
_LAZY["regimes"] = ("tfprune.diagnostics", None)  # tfprune.regimes.sweep(...), as in the paper's wording


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'tfprune' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY) + ["__version__"]
