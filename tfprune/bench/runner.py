"""One benchmark run, through tfprune's public API, and what its record holds.

- iterative (``lamp-protocol``): a fresh model trained dense for ``dense_epochs``, then
  ``Iterative.from_rounds(rounds, ...)`` -- 20% of the remaining weights per round, every
  allocation recomputed on the surviving weights, ``epochs`` of retraining per round, optionally
  rewinding the survivors to the end of the first dense epoch -- in one ``fit`` with
  :class:`tfprune.RoundLog` evaluating on the test split at the end of every round;
- at_init: :func:`tfprune.prune_at_init` on a fresh model, then ``epochs`` of training;
- structured: a model trained dense for ``dense_epochs``, :func:`tfprune.structured.select`
  at the width, then ``epochs`` of fine-tuning.

Accuracies are test accuracies. The data split and order are the same for every seed (``seed=0``
of :func:`tfprune.data.load`); the seed sets the initialisation and the methods' randomness.
"""

from __future__ import annotations

import platform
from typing import Any, Callable

from tfprune.bench.runs import REWIND_EPOCH, Run, SweepConfig, round_sparsity, rounds_for


def versions() -> dict:
    """Versions of tfprune, Python, NumPy, TensorFlow, tf_keras and TF-MOT."""
    import numpy as np
    import tf_keras

    from tfprune._version import __version__
    from tfprune.backend import tf, tfmot

    return {"tfprune": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
            "tfmot": getattr(tfmot, "__version__", "unknown")}


def _compile(model: Any, learning_rate: float) -> Any:
    from tfprune.backend import keras
    from tfprune.scoring._common import output_activation

    probabilities = output_activation(model) == "softmax"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities),
                  metrics=["accuracy"])
    return model


def _layer_sparsity(model: Any) -> dict:
    from tfprune.summary import sparsity_summary

    summary = sparsity_summary(model)
    return {r["key"]: r["sparsity"] for r in summary["layers"]}, summary["total"]["sparsity"]


def _floats(values: dict) -> dict:
    return {k: float(v) for k, v in values.items()}


def _iterative(config: SweepConfig, run: Run, model: Any, splits: Any) -> dict:
    import tfprune
    from tfprune.schedules import Iterative

    steps = int(splits.train.cardinality())
    rounds = config.rounds
    schedule = Iterative.from_rounds(rounds, steps_per_round=config.epochs * steps,
                                     begin_step=config.dense_epochs * steps + 1,
                                     rewind_step=REWIND_EPOCH * steps if run.rewind else None)
    pruned = _compile(tfprune.prune(model, allocation=run.method, schedule=schedule), config.learning_rate)
    log = tfprune.RoundLog(eval_data=splits.test)
    pruned.fit(splits.train, epochs=config.dense_epochs + rounds * config.epochs, verbose=0,
               callbacks=tfprune.callbacks(pruned) + [log])
    table = [{"round": r["round"], "step": r["step"], "sparsity": r["sparsity"], "layers": r["layers"],
              "metrics": _floats(r["metrics"]), "eval": _floats(r["eval"])} for r in log.records]
    by_round = {r["round"]: r for r in table}
    points = []
    for level in config.levels:
        row = by_round[rounds_for(level)]
        points.append({"level": level, "round": row["round"], "remaining": 1.0 - row["sparsity"],
                       "accuracy": row["eval"]["accuracy"]})
    layers, total = _layer_sparsity(tfprune.strip(pruned))
    return {"accuracy": table[-1]["eval"]["accuracy"], "sparsity": total, "layers": layers, "points": points,
            "curve": [[1.0 - r["sparsity"], r["eval"]["accuracy"]] for r in table], "rounds": table,
            "round_sparsity": [round_sparsity(k) for k in range(1, rounds + 1)]}


def _at_init(config: SweepConfig, run: Run, model: Any, splits: Any) -> dict:
    import tfprune

    pruned, info = tfprune.prune_at_init(model, run.level, score=run.method, data=splits, seed=run.seed,
                                         warn=False)
    _compile(pruned, config.learning_rate)
    pruned.fit(splits.train, epochs=config.epochs, verbose=0, callbacks=tfprune.callbacks(pruned))
    accuracy = float(pruned.evaluate(splits.test, verbose=0, return_dict=True)["accuracy"])
    layers, total = _layer_sparsity(tfprune.strip(pruned))
    return {"accuracy": accuracy, "sparsity": total, "layers": layers, "connected": bool(info["report"]["connected"]),
            "points": [{"level": run.level, "remaining": 1.0 - total, "accuracy": accuracy}],
            "curve": [[1.0 - total, accuracy]]}


def _structured(config: SweepConfig, run: Run, model: Any, splits: Any) -> dict:
    from tfprune.structured import select

    _compile(model, config.learning_rate)
    model.fit(splits.train, epochs=config.dense_epochs, verbose=0)
    small, report = select(model, splits, run.method, width=run.level, seed=run.seed, progress=False,
                           finetune_epochs=config.epochs)
    remaining = report.params_after / report.params_before
    layers = {name: 1.0 - w["after"] / w["before"] for name, w in report.widths.items()}
    return {"accuracy": report.accuracy_after, "accuracy_before": report.accuracy_before, "sparsity": 1.0 - remaining,
            "layers": layers, "params": [report.params_before, report.params_after],
            "points": [{"level": run.level, "remaining": remaining, "accuracy": report.accuracy_after}],
            "curve": [[remaining, report.accuracy_after]]}


KINDS = {"iterative": _iterative, "at_init": _at_init, "structured": _structured}


def run_one(config: SweepConfig, run: Run, build_model: Callable[[tuple, int, int], Any]) -> dict:
    """Execute ``run`` of ``config``; the result part of its record.

    ``build_model(input_shape, num_classes, seed)`` returns a fresh, untrained tf_keras model.
    """
    from tfprune import data
    from tfprune.backend import tf

    tf.keras.utils.set_random_seed(run.seed)
    splits = data.load(config.dataset, batch_size=config.batch_size, seed=0, data_dir=config.data_dir)
    model = build_model(splits.input_shape, splits.num_classes, run.seed)
    return KINDS[config.kind](config, run, model, splits)
