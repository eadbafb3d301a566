"""Three-regime sweep (Zhou et al., ICML 2023) on digits (BatchNorm CNN) and MNIST-1D (BatchNorm MLP).

Temperature: dense training epochs (Adam, default rate 1e-3, batch 64, constant rate, so each is the checkpoint of
one run at that epoch); load: density of uniform magnitude pruning; two retraining seeds from the same
mask (same recipe for every cell). Writes, per data set, the phase diagram ``docs/regimes_<data>.png``
and the report ``docs/regimes_<data>_report.md``; the records stay in ``runs/regimes-<data>`` (rerun
the same command to resume). Prints the time per cell and for the whole sweep.

    python benchmarks/bench_regimes.py [--datasets digits,mnist1d] [--epochs 2,4,8,16]
        [--densities 0.05,0.1,0.2,0.4,0.8] [--retrain-epochs 8] [--learning-rate 1e-3] [--threads 2]
(a rate other than 1e-3 tags the outputs: ``docs/regimes_<data>_lr<rate>.png``...)
"""

import argparse
import os
import platform
import shutil
import time

from _checkout import ROOT  # noqa: E402  (this checkout first on the path)

import tfprune  # noqa: E402,F401  (tf_keras before TensorFlow)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,mnist1d")
    parser.add_argument("--epochs", default="2,4,8,16")
    parser.add_argument("--densities", default="0.05,0.1,0.2,0.4,0.8")
    parser.add_argument("--retrain-epochs", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam, dense training and retraining")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from tfprune.backend import tf
    from tfprune import data
    from tfprune.diagnostics.sweep import sweep
    from tfprune.diagnostics.trainers import bn_model, make_trainer

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    epochs = [int(v) for v in args.epochs.split(",")]
    densities = [float(v) for v in args.densities.split(",")]
    for name in args.datasets.split(","):
        splits = data.load(name, batch_size=64)
        train = make_trainer("epochs", splits.numpy("train"), batch_size=64, retrain_epochs=args.retrain_epochs,
                             learning_rate=args.learning_rate)
        tag = name if args.learning_rate == 1e-3 else f"{name}_lr{args.learning_rate:g}"
        started = time.perf_counter()
        result = sweep(lambda seed: bn_model(splits.input_shape, splits.num_classes, seed=seed), train, epochs,
                       densities, train_data=splits.numpy("train"), test_data=splits.numpy("test"),
                       out_dir=os.path.join(ROOT, "runs", f"regimes-{tag}"), temperature_name="epochs")
        wall = time.perf_counter() - started
        paths = result.write()
        shutil.copyfile(paths["phase_diagram"], os.path.join(ROOT, "docs", f"regimes_{tag}.png"))
        report = open(paths["report"], encoding="utf-8").read().replace("phase_diagram.png", f"regimes_{tag}.png")
        cells = [r["seconds"] for r in result.records]
        report += (f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, {args.threads} threads, Python "
                   f"{platform.python_version()}. Wall time of this run (resumed runs: only the part done now): "
                   f"{wall:.0f} s; per cell {min(cells):.1f}-{max(cells):.1f} s (mean {sum(cells) / len(cells):.1f} s).\n"
                   f"Command: `python benchmarks/bench_regimes.py --datasets {name} --epochs {args.epochs} "
                   f"--densities {args.densities} --retrain-epochs {args.retrain_epochs} --learning-rate {args.learning_rate:g}`\n")
        tfprune.io.write_text(os.path.join(ROOT, "docs", f"regimes_{tag}_report.md"), report)
        print(f"{tag}: {len(cells)} cells, wall {wall:.0f} s, mean {sum(cells) / len(cells):.1f} s per cell")


if __name__ == "__main__":
    main()
