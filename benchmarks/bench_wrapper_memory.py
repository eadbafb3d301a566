"""Memory the pruning wrappers add per prunable weight: tfprune vs plain TF-MOT.

Counts the bytes of every variable a wrapper adds beyond the weights themselves (masks,
thresholds, the pruning step, and tfprune's per-weight target sparsities), divided by the
number of prunable weights, for the digits CNN and MobileNetV2 (``tf_keras.applications``,
``weights=None``, 32x32x3 input). Peer, same run: TF-MOT's ``prune_low_magnitude`` (a float32
mask per weight). Goal: tfprune at most 0.25 bytes per prunable weight. Transient tensors of
the training step (the unpacked mask, the masked weight) are not stored and not counted.

    python benchmarks/bench_wrapper_memory.py
"""

import numpy as np

from _report import machine, update_section

import tfprune
from tfprune import data, layers
from tfprune.backend import PruneLowMagnitude, keras, tfmot
from tfprune.cli.models import default_model
from tfprune.schedules import LayerSchedule

GOAL = 0.25


def models():
    splits = data.load("digits")
    yield "digits CNN", lambda: default_model(splits.input_shape, splits.num_classes)
    yield "MobileNetV2 (32x32x3)", lambda: keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), weights=None, classes=10)


def added_bytes(model):
    """(bytes of the variables the pruning wrappers add, prunable weights)."""
    total, weights = 0, 0
    for layer in model.submodules:
        if not isinstance(layer, PruneLowMagnitude):
            continue
        for weight, mask, threshold in layer.pruning_vars:
            weights += weight.shape.num_elements()
            total += sum(v.shape.num_elements() * v.dtype.size for v in (mask, threshold))
        total += layer.pruning_step.dtype.size
        if isinstance(layer.pruning_schedule, LayerSchedule):
            target = layer.pruning_schedule.target
            total += target.shape.num_elements() * target.dtype.size
    return total, weights


def main():
    rows = []
    for name, build in models():
        schedule = tfmot.sparsity.keras.ConstantSparsity(0.9, begin_step=0)
        tfmot_model = tfmot.sparsity.keras.prune_low_magnitude(build(), pruning_schedule=schedule)
        ours = tfprune.prune(build(), 0.9, allocation="uniform")
        (theirs_bytes, theirs_weights), (our_bytes, our_weights) = added_bytes(tfmot_model), added_bytes(ours)
        assert our_weights == sum(np.prod(w.variable.shape) for w in layers.prunable(ours).values())
        rows.append((name, our_weights, theirs_weights, theirs_bytes / theirs_weights, our_bytes / our_weights))
        print(rows[-1])
    lines = [
        "## Pruning wrapper memory per prunable weight",
        "",
        f"`python benchmarks/bench_wrapper_memory.py` on {machine()}.",
        "Bytes of the variables the pruning wrappers add beyond the weights (masks, thresholds, pruning "
        "step, tfprune's per-weight targets) per prunable weight. tfprune stores each mask bit-packed in "
        "`int64` words (one bit per weight); TF-MOT stores a float32 copy. Transient tensors of the training step "
        f"are not counted. Goal: tfprune <= {GOAL} bytes per prunable weight.",
        "",
        "| model | prunable weights (tfprune / TF-MOT) | TF-MOT (B / weight) | tfprune (B / weight) | TF-MOT / tfprune | goal |",
        "|---|---|---|---|---|---|",
    ]
    for name, ours, theirs, theirs_per, ours_per in rows:
        met = "met" if ours_per <= GOAL else "**not met**"
        lines.append(f"| {name} | {ours:,} / {theirs:,} | {theirs_per:.4f} | {ours_per:.4f} | "
                     f"{theirs_per / ours_per:.1f}x | {met} |")
    update_section("wrapper_memory", "\n".join(lines))


if __name__ == "__main__":
    main()
