"""Keras Tuner searches over pruning, for tf_keras models.

* :class:`PruningHyperModel` -- your ``build(hp)`` plus the pruning search space (target
  sparsity, allocation, schedule and its parameters).
* :class:`PruningTuner` -- a Keras Tuner ``BaseTuner`` that builds, prunes, trains and scores
  tf_keras models (Keras Tuner's own ``Tuner`` only accepts Keras 3 models), with the random,
  Bayesian and Hyperband oracles, chief/worker distributed search, per-trial
  ``tf.distribute`` strategies and resume.
* :class:`Constrained` -- best accuracy subject to a minimum sparsity / maximum size.
* :func:`pareto.write_report` / :meth:`PruningTuner.pareto_report` -- the accuracy-sparsity
  Pareto front as a markdown table and a PNG.

Example::

    import tfprune, tf_keras as keras
    from tfprune import data as datasets, tuning

    def build(hp):
        model = keras.Sequential([keras.layers.Flatten(input_shape=(8, 8, 1)),
                                  keras.layers.Dense(hp.Choice("units", [32, 64]), activation="relu"),
                                  keras.layers.Dense(10)])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    data = datasets.load("digits")
    tuner = tuning.PruningTuner(tuning.PruningHyperModel(build, sparsity=(0.5, 0.9)),
                                oracle="bayesian", max_trials=8, min_sparsity=0.8,
                                directory="runs", project_name="digits")
    tuner.search(data.train, validation_data=data.validation, epochs=3)
    best = tfprune.strip(tuner.get_best_models(1)[0])
    tuner.pareto_report()
"""

from tfprune import backend as _backend  # noqa: F401  (sets TF_USE_LEGACY_KERAS before Keras Tuner)
from tfprune.tuning import pareto
from tfprune.tuning.hypermodel import DEFAULT_SCHEDULES, SCHEDULES, ModelTypeError, PruningHyperModel, ScheduleTooShort
from tfprune.tuning.objectives import Constrained, estimate_size_bytes, model_size_kb
from tfprune.tuning.tuner import ORACLES, PruningTuner, make_oracle

__all__ = [
    "DEFAULT_SCHEDULES",
    "ORACLES",
    "SCHEDULES",
    "Constrained",
    "ModelTypeError",
    "PruningHyperModel",
    "PruningTuner",
    "ScheduleTooShort",
    "estimate_size_bytes",
    "make_oracle",
    "model_size_kb",
    "pareto",
]
