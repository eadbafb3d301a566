"""The cost of one masking step, ``weight <- weight * mask``: TF-MOT's float32 mask vs tfprune's
bit-packed mask, unpacked by the byte table (the default) or by elementwise bit tests (the
other byte order's path).

One traced function per weight shape (a 3x3 conv kernel to a 2.4M-weight one), called in a loop;
graph mode and ``jit_compile=True``; the configurations take turns, median of ``--repeats``
rounds of ``--calls`` calls. The time includes the function call itself (the ``float32``
column's floor), so ratios on small shapes understate the difference of the masking ops.

    python benchmarks/bench_mask_unpack.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _report import machine, update_section

from tfprune import mask_storage
from tfprune.backend import tf

SHAPES = [(3, 3, 32, 64), (3, 3, 64, 128), (1024, 256), (3, 3, 512, 512)]
KINDS = ["float32 mask (TF-MOT)", "packed, byte table", "packed, bit tests"]


def maskers(shape, jit):
    """{kind: traced function masking one weight of ``shape``}, all on the same weights and mask."""
    rng = np.random.default_rng(0)
    mask = rng.random(shape) > 0.9
    weight = tf.Variable(rng.standard_normal(shape).astype(np.float32))
    float_mask = tf.Variable(mask.astype(np.float32))
    bits = tf.Variable(mask_storage.pack_numpy(mask))

    def packed(little_endian):
        def run():
            saved, mask_storage._LITTLE_ENDIAN = mask_storage._LITTLE_ENDIAN, little_endian
            try:  # the byte order is read when the function is traced
                weight.assign(weight * mask_storage.unpack(bits, shape, tf.float32))
            finally:
                mask_storage._LITTLE_ENDIAN = saved
        return run

    def float32():
        weight.assign(weight * float_mask)

    functions = {KINDS[0]: float32, KINDS[1]: packed(True), KINDS[2]: packed(False)}
    return {kind: tf.function(f, jit_compile=jit) for kind, f in functions.items()}


def measure(shape, jit, repeats, calls):
    functions = maskers(shape, jit)
    for f in functions.values():
        f()  # trace, compile
    times = {kind: [] for kind in functions}
    for _ in range(repeats):
        for kind, f in functions.items():
            start = time.perf_counter()
            for _ in range(calls):
                f()
            times[kind].append((time.perf_counter() - start) / calls)
    return {kind: statistics.median(t) for kind, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    lines = [
        "## Masking step: float32 mask vs packed bits",
        "",
        f"`python benchmarks/bench_mask_unpack.py` on {machine()}.",
        "One traced `weight.assign(weight * mask)` per weight shape, 90% of the mask zero; microseconds per call "
        f"(function call included), median of {args.repeats} interleaved rounds of {args.calls} calls. "
        "tfprune unpacks with the byte table; the bit tests are the fallback for big-endian machines.",
        "",
        "| weight shape | weights | jit_compile | " + " | ".join(KINDS) + " | byte table / float32 |",
        "|---|---|---|" + "---|" * len(KINDS) + "---|",
    ]
    for jit in (False, True):
        for shape in SHAPES:
            median = measure(shape, jit, args.repeats, args.calls)
            row = " | ".join(f"{median[k] * 1e6:.0f}" for k in KINDS)
            lines.append(f"| {'x'.join(map(str, shape))} | {int(np.prod(shape)):,} | {jit} | {row} | "
                         f"{median[KINDS[1]] / median[KINDS[0]]:.2f}x |")
            print(lines[-1], flush=True)
    if not args.no_write:
        update_section("mask_unpack", "\n".join(lines))


if __name__ == "__main__":
    main()
