"""tfprune: layer-adaptive and at-initialisation pruning for Keras, on top of TF-MOT."""

from tfprune import backend as _backend  # noqa: F401  (sets TF_USE_LEGACY_KERAS first)

__version__ = "0.1.0"
