"""Search pruning settings for a small network on the offline digits data with Keras Tuner.

Finds the most accurate model that is at least 80% sparse, trying target sparsities between
0.6 and 0.95, every allocation and the one-shot / gradual / iterative schedules, plus the
hidden width. Writes the Pareto table and plot and the best stripped model to
``tune-digits-output/``. Run it again to resume (finished trials are not re-run); pass
``--overwrite`` to start afresh.

    python examples/tune_digits.py [--trials 8] [--epochs 4] [--oracle bayesian] [--overwrite]

``TFPRUNE_EXAMPLE_TINY=1`` makes the defaults 3 trials of 2 epochs and searches targets between
0.85 and 0.95 only, so that every trial meets the 80% constraint (the test suite runs every
example that way).
"""

import argparse
import os

import tfprune  # first: makes tf.keras the tf_keras that TF-MOT needs
import tf_keras as keras
from tfprune import data as datasets, tuning
from tfprune.io import atomic_path

TINY = os.environ.get("TFPRUNE_EXAMPLE_TINY") == "1"
SPARSITY_RANGE = (0.85, 0.95) if TINY else (0.6, 0.95)


def build(hp):
    model = keras.Sequential(
        [
            keras.layers.Input(shape=(8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(hp.Choice("units", [32, 64, 128]), activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3 if TINY else 8)
    parser.add_argument("--epochs", type=int, default=2 if TINY else 4)
    parser.add_argument("--oracle", choices=tuning.ORACLES, default="bayesian")
    parser.add_argument("--output", default="tune-digits-output")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()

    data = datasets.load("digits", batch_size=64, seed=0)
    hypermodel = tuning.PruningHyperModel(build, sparsity=SPARSITY_RANGE)
    os.makedirs(args.output, exist_ok=True)
    extra = {"max_epochs": args.epochs} if args.oracle == "hyperband" else {"max_trials": args.trials}
    tuner = tuning.PruningTuner(
        hypermodel,
        args.oracle,
        min_sparsity=0.8,  # best val_accuracy among trials at least 80% sparse
        seed=0,
        directory=args.output,
        project_name="search",
        overwrite=args.overwrite,
        **extra,
    )
    tuner.search(data.train, validation_data=data.validation, epochs=args.epochs, verbose=1)

    report = tuner.pareto_report(args.output)
    print(open(report["table"]).read())
    best_trials = tuner.get_best_trials(1)
    if not best_trials:
        print("no trial reached 80% sparsity; widen the sparsity range or run more trials")
        return
    best_trial = best_trials[0]
    best = tfprune.strip(tuner.load_model(best_trial))
    path = os.path.join(args.output, "best_model.keras")
    with atomic_path(path) as tmp:
        best.save(tmp)
    x, y = data.numpy("test")
    best.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    _, test_accuracy = best.evaluate(x, y, verbose=0)
    print(f"best trial {best_trial.trial_id}: {dict(best_trial.hyperparameters.values)}")
    print(tfprune.format_summary(tfprune.sparsity_summary(best)))
    print(f"test accuracy {test_accuracy:.4f}; wrote {path}, {report['table']}, {report['png']}")


if __name__ == "__main__":
    main()
