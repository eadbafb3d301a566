"""Single-thread LiteRT latency of a ``.tflite`` file, and whether XNNPACK's sparse path can run here.

``measure_latency`` times ``Interpreter.invoke()`` on one fixed random input, after a
warm-up, and reports the median: the figure that matters for on-device latency.

XNNPACK sparse inference is switched on by the delegate itself (``XNN_FLAG_HINT_SPARSE_INFERENCE``)
when a delegated subgraph reads weights that the file stores sparse (DENSIFY of a static
tensor); there is no Python flag for it. XNNPACK then rewrites the subgraph to its CHW
sparse kernels only where the hardware is "CHW compatible": on x86 that means a CPU
*without* AVX (XNNPACK's sparse kernels there are SSE only, and on AVX CPUs dense is expected
to be faster); on ARM it is always allowed. :func:`xnnpack_sparse_path` reports this.
"""

import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Mapping

import numpy as np

from tfprune._validate import check_int, is_int
from tfprune.export.verify import RUNTIMES, _interpreter, _quantize_input


@dataclasses.dataclass
class Latency:
    """Timing of one file under one runtime (milliseconds)."""

    runtime: str
    num_threads: int
    runs: int
    median_ms: float = None
    p10_ms: float = None
    p90_ms: float = None
    error: str = None

    @property
    def loaded(self):
        """True when the runtime loaded and ran the file (no ``error``)."""
        return self.error is None


def _prepare(model, runtime, num_threads, seed):
    interp = _interpreter(model, runtime, num_threads)
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    x = np.random.default_rng(seed).standard_normal(detail["shape"]).astype(np.float32)
    interp.set_tensor(detail["index"], _quantize_input(x, detail))
    return interp


def _check_arguments(models, runtime, runs, warmup, num_threads, seed, rounds):
    """A clear error for every bad argument: a runtime that cannot run a file is a result
    (``Latency.error``), a file that is not there or a bad count is the caller's mistake."""
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime={runtime!r}: allowed values are {RUNTIMES}")
    if not isinstance(models, Mapping) or not models:
        raise TypeError(f"models={models!r}: expected a non-empty dict {{name: .tflite path or bytes}}")
    for name, model in models.items():
        if isinstance(model, (bytes, bytearray)):
            continue
        if not isinstance(model, (str, os.PathLike)):
            raise TypeError(f"models[{name!r}]={type(model).__name__}: expected a .tflite path or its bytes")
        if not os.path.isfile(model):
            raise ValueError(f"models[{name!r}]={os.fspath(model)!r}: no such file")
    check_int(runs, "runs", minimum=1)
    check_int(warmup, "warmup", minimum=0)
    check_int(seed, "seed", minimum=0)
    check_int(rounds, "rounds", minimum=1)
    if not (is_int(num_threads) and (num_threads == -1 or num_threads >= 1)):
        raise ValueError(f"num_threads={num_threads!r}: expected -1 (the interpreter's default) or an integer >= 1")


def measure_latencies(models, runtime="xnnpack", runs=200, warmup=20, num_threads=1, seed=0, rounds=10):
    """Time several files under one runtime, interleaved, so that they see the same machine load.

    Every file gets ``warmup`` untimed invocations, then ``rounds`` rounds in which each file in
    turn runs ``runs / rounds`` timed invocations; the median over all of a file's runs is reported.

    Args:
        models: dict name -> path (or bytes) of a ``.tflite`` file.
        runtime, runs, warmup, num_threads, seed: as :func:`measure_latency`.
        rounds: number of interleaved rounds.

    Returns:
        dict name -> :class:`Latency`.
    """
    _check_arguments(models, runtime, runs, warmup, num_threads, seed, rounds)
    rounds = min(rounds, runs)
    out, live, times = {}, {}, {}
    for name, model in models.items():
        try:
            interp = _prepare(model, runtime, num_threads, seed)
            for _ in range(warmup):
                interp.invoke()
            live[name], times[name] = interp, []
        except (RuntimeError, ValueError) as e:
            out[name] = Latency(runtime, num_threads, runs, error=" ".join(str(e).split()))
    for r in range(rounds):
        per_round = runs // rounds + (1 if r < runs % rounds else 0)
        for name, interp in live.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                interp.invoke()
                times[name].append((time.perf_counter() - t0) * 1e3)
    for name in live:
        t = times[name]
        q = statistics.quantiles(t, n=10) if len(t) >= 10 else [min(t)] * 8 + [max(t)]
        out[name] = Latency(runtime, num_threads, runs, statistics.median(t), q[0], q[-1])
    return {name: out[name] for name in models}


def measure_latency(model, runtime="xnnpack", runs=200, warmup=20, num_threads=1, seed=0):
    """Time ``invoke()`` of a ``.tflite`` file (path or bytes) at batch size 1.

    Args:
        model: path of the file, or its bytes.
        runtime: ``"xnnpack"`` (default delegates) or ``"builtin"`` (TFLite kernels only).
        runs: timed invocations; the median is reported.
        warmup: untimed invocations first.
        num_threads: interpreter (and XNNPACK) threads.
        seed: seed of the random N(0, 1) input.

    Returns:
        :class:`Latency`; ``error`` is set (and times are None) if the runtime cannot run the file.
    """
    return measure_latencies({"model": model}, runtime, runs, warmup, num_threads, seed, rounds=1)["model"]


def _cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def xnnpack_sparse_path():
    """Whether XNNPACK may take its sparse (CHW) path on this machine: ``(possible, reason)``.

    ``possible`` is False on x86 CPUs with AVX, True on ARM, None when it cannot be told.
    Even when possible, the model and the file must qualify (see :func:`explain_xnnpack`).
    """
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "i386", "i686", "x86"):
        flags = _cpu_flags()
        if flags is None:
            return None, f"{machine}: could not read the CPU flags; XNNPACK skips sparse kernels on AVX CPUs"
        if "avx" in flags:
            return False, (f"{machine} CPU with AVX: XNNPACK disables its sparse (CHW) kernels on AVX CPUs "
                           "(xnn_is_chw_compatible_config), so sparse files run its dense kernels here")
        return True, f"{machine} CPU without AVX: XNNPACK may use its SSE sparse kernels"
    if machine.startswith(("arm", "aarch64")):
        return True, f"{machine}: XNNPACK sparse kernels are available (NEON)"
    return None, f"{machine}: unknown whether XNNPACK sparse kernels are built for this CPU"


__all__ = ["Latency", "measure_latencies", "measure_latency", "xnnpack_sparse_path"]
