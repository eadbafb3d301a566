"""Write docs/models.md: the model-zoo support table, from the models and steps of tests/test_zoo.py.

Usage: ``python benchmarks/zoo_table.py`` (about as long as ``python -m pytest -m zoo``).
Every figure is measured by running the step; a step the tests leave out for time shows "-".
"""

import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import tfprune  # noqa: E402
import zoo_cases as zoo  # noqa: E402
from tfprune.allocation import budget  # noqa: E402
from tfprune.io import write_text  # noqa: E402

DOC = os.path.join(ROOT, "docs", "models.md")
HEADER = """# Model zoo: what tfprune prunes

Written by `python benchmarks/zoo_table.py` from the models and steps of `tests/test_zoo.py`
(which asserts the same results exactly). Every model is built with `weights=None`, 10 classes
and small inputs, and pruned one-shot to 90% sparsity.

- **prunable**: the weights TF-MOT can prune (its `PruneRegistry` and `PrunableLayer`), as
  `tfprune.layers.prunable` finds them: number of weight tensors and of parameters.
- **left dense**: the types of the layers with weights of which none is prunable (biases,
  normalisation, depthwise kernels: TF-MOT's choice), from `tfprune.layers.dense_layers`.
- **prune**: LAMP, ERK and uniform each keep exactly `floor(0.1 N + 1/2)` of the N prunable
  weights ("exact") or the number kept. On the applications only LAMP wraps the model
  (`tfprune.prune`); ERK and uniform run the same one-shot calls on the same weights
  (`tfprune.allocate`, then `tfprune.masks.magnitude_masks`) without wrapping it again.
- **strip**: max |stripped - wrapped| output on two inputs.
- **export**: `tfprune.export.to_tflite` with verification: max |LiteRT - Keras|; "-" where the
  tests leave it out for time.
- **at init**: `prune_at_init` with SynFlow (5 iterations) and SNIP: "exact" is the survivor count
  of every allocation; SynFlow follows the official loop's count, N - int(S N) less tied scores
  ("kept K").
- **TF-MOT**: plain `tfmot.sparsity.keras.prune_low_magnitude(model)` on the whole model.

The tests also train each hand-built model 2 batches of 2 with and without `jit_compile`, and
MobileNetV3Small without (XLA compilation of an application model takes minutes on a CPU):
the one-shot masks do not move and the survivor count stays exact.
"""


def _exact(model, params):
    kept = zoo.totals(model)[1]
    return "exact" if kept == budget.survivors(params, zoo.SPARSITY) else f"kept {kept}"


def _attempt(step):
    try:
        return step()
    except Exception as e:  # a failing step is a result of the table
        return f"fails: {type(e).__name__}: {str(e).splitlines()[0][:80]}"


def _export(case, pruned):
    if case.skip_export == zoo.RNN_EXPORT:
        def unrolled():
            with tempfile.TemporaryDirectory() as folder:
                layer = case.name.upper()
                result = zoo.export(zoo.fresh_pruned(zoo.recurrent(layer, unroll=True)()), folder)
                return f"refused; unroll=True: {result.max_abs_error:.1g}"
        return _attempt(unrolled)
    if not case.export:
        return "-"

    def verified():
        with tempfile.TemporaryDirectory() as folder:
            result = zoo.export(pruned, folder)
            return f"{result.max_abs_error:.1g}" + (" (warnings)" if result.warnings else "")
    return _attempt(verified)


def row(case):
    """The table row of ``case`` and the seconds it took."""
    start = time.perf_counter()
    model = case.model()
    params = zoo.totals(model)[0]
    pruned = _attempt(lambda: zoo.fresh_pruned(model, "lamp"))
    prune = []
    for a in zoo.ALLOCATIONS:
        if a == "lamp" or case.wrap_each:
            p = pruned if a == "lamp" else _attempt(lambda a=a: zoo.fresh_pruned(model, a))
            prune.append(f"{a} " + (p if isinstance(p, str) else _exact(p, params)))
        else:
            kept = zoo.one_shot_totals(model, a)[1]
            prune.append(f"{a} " + ("exact" if kept == budget.survivors(params, zoo.SPARSITY) else f"kept {kept}"))
    prune = ", ".join(prune)
    if isinstance(pruned, str):
        strip = export = "-"
    else:
        x, _ = zoo.inputs(model)
        strip = _attempt(lambda: f"{zoo.strip_error(pruned, x):.1g}")
        export = _export(case, pruned)
    at_init = "-"
    if case.at_init:
        at_init = ", ".join(
            f"{s} " + _attempt(lambda s=s: _exact(zoo.at_init(model, s), params)) for s in ("synflow", "snip"))
    cells = [f"{case.name} ({case.source})", str(len(tfprune.layers.prunable(model))), f"{params:,}",
             ", ".join(zoo.dense_types(model)) or "none", prune, strip, export, at_init,
             zoo.tfmot_result(model)]
    return "| " + " | ".join(cells) + " |", time.perf_counter() - start


def main():
    header = "| model | prunable weights | prunable params | left dense | prune (90%) | strip | export | at init | TF-MOT |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for case in zoo.CASES:
        line, seconds = row(case)
        lines.append(line)
        print(f"{case.name}: {seconds:.1f} s", flush=True)
    write_text(DOC, HEADER + "\n" + "\n".join(lines) + "\n")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    np.random.seed(0)
    main()
