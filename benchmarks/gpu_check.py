"""On a GPU: step time with and without XLA, the guard and the final sparsity under XLA, LAMP on 25M weights.

1. the training-step benchmark of ``bench_scale.py`` (dense / TF-MOT / tfprune uniform / tfprune
   LAMP on the digits CNN, ResNet-20 and MobileNetV2), graph mode and ``jit_compile=True``, with
   the device's peak memory per configuration;
2. under ``jit_compile=True``: training without ``tfprune.callbacks`` raises
   ``tfprune.MissingPruningCallbacks`` (TF-MOT's own check is compiled away), and training with
   them on a gradual schedule ends at the target sparsity exactly (LAMP, exact count);
3. the LAMP allocation time on 25M weights (ResNet-50 shapes), against one ``np.sort`` of them.

It writes its table, with the device name, to docs/benchmarks.md (section ``gpu_check``). With no
GPU it says so and exits 0; nothing else depends on it. ``--device cpu`` runs the same logic on the
CPU at tiny sizes (a dry run of the script: it prints, writes nothing, and its figures are not GPU
figures).

    python benchmarks/gpu_check.py                 # on a machine with a GPU, about 5 min
    python benchmarks/gpu_check.py --device cpu    # dry run on the CPU (a few minutes)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

FAILED = 1


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["auto", "gpu", "cpu"], default="auto",
                        help="auto/gpu: the first GPU (none: say so, exit 0); cpu: a dry run on the CPU, tiny "
                             "sizes, nothing written")
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args()


def guard_and_sparsity_under_xla(steps):
    """(guard message or None, target, reached sparsity) for LAMP on the digits CNN, jit_compile=True."""
    import tfprune
    from bench_scale import BATCH, compile_model, dense_model, synthetic
    from tfprune.schedules import Gradual

    x, y = synthetic("digits CNN", steps)
    pruned = compile_model(tfprune.prune(dense_model("digits CNN"), allocation="lamp",
                                         schedule=Gradual(0.9, end_step=steps, frequency=max(1, steps // 5))), True)
    try:
        pruned.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        guard = None
    except tfprune.MissingPruningCallbacks as error:
        guard = str(error)
    pruned.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=tfprune.callbacks(pruned))
    total = tfprune.sparsity_summary(pruned)["total"]
    return guard, 0.9, float(total["sparsity"]), int(total["params"])


def lamp_time(target, repeats):
    """(weights, np.sort seconds, LAMP seconds), medians, for ResNet-50 shapes scaled to ``target`` weights."""
    from bench_lamp_allocation import best_width, resnet50_shapes, timed

    from tfprune import allocation

    rng = np.random.default_rng(0)
    weights = {f"layer{i}/kernel": rng.standard_normal(s, dtype=np.float32)
               for i, s in enumerate(resnet50_shapes(best_width(target)))}
    flat = np.concatenate([w.reshape(-1) for w in weights.values()])
    return flat.size, timed(lambda: np.sort(flat), repeats), timed(lambda: allocation.lamp(weights, 0.9), repeats)


def main():
    args = parse()
    from _report import update_section  # puts this checkout first on the path

    from tfprune.backend import tf

    if args.device == "cpu":
        tf.config.set_visible_devices([], "GPU")
    gpus = tf.config.list_physical_devices("GPU")
    if args.device != "cpu" and not gpus:
        print("gpu_check: no GPU visible to TensorFlow; nothing to check (exit 0). "
              "Use --device cpu for a dry run of the script on the CPU.")
        return 0
    dry = args.device == "cpu"
    device = "CPU (dry run, not GPU figures)" if dry else tf.config.experimental.get_device_details(gpus[0]).get(
        "device_name", gpus[0].name)
    import bench_scale

    start = time.perf_counter()
    names = ["digits CNN"] if dry else list(bench_scale.MODELS)
    repeats = 2 if dry else args.repeats
    timing, memory = bench_scale.measure(names, 0.1 if dry else 1.0, repeats, 0 if dry else 12, on_gpu=not dry)
    guard, target, reached, params = guard_and_sparsity_under_xla(20 if dry else 200)
    weights, t_sort, t_lamp = lamp_time(1_000_000 if dry else 25_000_000, 1 if dry else 3)
    minutes = (time.perf_counter() - start) / 60

    guard_ok = guard is not None
    sparsity_ok = abs(reached - target) <= 1.0 / params
    lines = bench_scale.report(timing, memory, "`python benchmarks/gpu_check.py`", f"{device}, {minutes:.1f} min",
                               on_gpu=not dry)
    lines[0] = f"## GPU check: {device}"
    lines += [bench_scale.control_line(timing)]
    lines += [
        "",
        "Checks under `jit_compile=True` (digits CNN, LAMP, gradual to 90%):",
        "",
        f"- training without `tfprune.callbacks`: {'raises MissingPruningCallbacks' if guard_ok else '**trains silently**'}",
        f"- final sparsity with them: {reached:.4%} of {params:,} prunable weights, target {target:.0%}: "
        f"{'exact' if sparsity_ok else '**missed**'}",
        f"- LAMP allocation on {weights:,} weights: {t_lamp:.2f} s, one np.sort of them {t_sort:.2f} s "
        f"({t_lamp / t_sort:.2f}x; host CPU work, NumPy)",
    ]
    print("\n".join(lines))
    if not dry:
        update_section("gpu_check", "\n".join(lines))
    return 0 if guard_ok and sparsity_ok else FAILED


if __name__ == "__main__":
    sys.exit(main())
