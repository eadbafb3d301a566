"""Training step time and memory on real model sizes: dense vs plain TF-MOT vs tfprune.

Models: the built-in digits CNN (8x8x1), a CIFAR-style ResNet-20 (He et al. 2016: 3 stages x 3
basic blocks, 16/32/64 channels, 1x1 projection shortcuts) and ``tf_keras.applications.MobileNetV2``
(``weights=None``, alpha 1.0, 32x32x3), on synthetic data of the model's input shape, batch 64.
Configurations: dense; TF-MOT ``prune_low_magnitude`` + ``PolynomialDecay``; tfprune uniform and
tfprune LAMP with reallocation before every pruning step, both on a ``Gradual`` schedule with the
same timing as TF-MOT's (90% target, a pruning event every quarter of a timed epoch). Graph mode and
``jit_compile=True``.

Step time: every configuration of a model is built and warmed up once (tracing, XLA
compilation), then the configurations take turns, a few steps each (one short ``fit`` of about half a
second, :func:`turn_length`; the order carryover-balanced, exactly so over whole cycles of 10
rounds), for ``--repeats`` epochs each. Each training step is timed on its own (from the batch's start, before the pruning callbacks' batch hooks, to its
loss being ready; each ``fit``'s first step, which also starts the epoch, is left out), and the
steps are split by the schedule into
steady steps (no pruning event: the per-step cost of masking) and pruning steps (new masks,
and LAMP's reallocation). Reported: the median steady step, the median extra time of a pruning
step over it, and the mean step time with one pruning event per 100 steps (TF-MOT's default
``frequency``): steady + extra / 100. The goals are judged on that mean's ratio with its 95%
interval: a round is one turn of every configuration, and a percentile bootstrap resamples whole
rounds, the two configurations' steps of a round together (the event costs held fixed). A goal is
met when the whole interval is at or below it, not met when the whole interval is above it, not
conclusive otherwise. Those intervals come from the rounds of one process; with ``--processes N`` each mode
is measured in N fresh processes instead, each building the configurations in another of the balanced
orders (whole cycles: 10 processes), and a ratio is the geometric mean of theirs, with a Student t
interval over the processes (:func:`_report.replicate_interval`), which also covers what makes one process
faster or slower than the next. A check of the intervals in the same run: a second copy of the dense model
(``dense (A/A)``) takes its turns with the others and runs the very same step as dense, so its
interval should contain 1. Memory: (a) the exact bytes of the model's variables beyond the dense
model's, per prunable weight (masks, thresholds, step counters, targets); (b) the peak memory of a
short training run -- process peak RSS, one fresh subprocess per configuration, on CPU; the device's
peak (``tf.config.experimental.get_memory_info``) on a GPU.

    python benchmarks/bench_scale.py --quick                  # 3 repeats, half the steps
    python benchmarks/bench_scale.py                          # 5 repeats
    python benchmarks/bench_scale.py --quick --models ResNet-20   # one model; the others' results are kept
    python benchmarks/bench_scale.py --repeats 24 --models ResNet-20 --modes graph --no-memory  # one mode, longer
    python benchmarks/bench_scale.py --repeats 16 --processes 10 --models 'digits CNN' --modes graph --no-memory
    python benchmarks/bench_scale.py --render                 # rewrite the section from the stored results

Each model's results are stored as soon as they are measured, one file per mode and one for memory
(benchmarks/results/scale_<model>_<graph|xla|memory>.json; a mode's file also holds every step time
measured, its turn length and orders; files from before then hold the rows only, and say so), and
the section is rendered from all stored files, so models and modes can be measured in separate runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np

from _models import resnet20
from _timing import StepTimes, balanced_orders, cycle_order
from _report import (cpu_snapshot, interval_text, interval_verdict, json_from_child, machine, other_cpu_share,
                     ratio_interval, replicate_interval, update_section)

from tfprune.io import write_text

import tfprune
from tfprune.backend import keras, tf, tfmot
from tfprune.cli.models import default_model
from tfprune.schedules import Gradual

SPARSITY = 0.9
BATCH = 64
KINDS = ["dense", "tf-mot", "tfprune uniform", "tfprune lamp"]
#: a second dense model, timed in the same rounds: an A/A control. Its interval against dense checks the
#: intervals of this run: both run the very same step, so it should contain 1.
CONTROL = "dense (A/A)"
TIMED = KINDS + [CONTROL]
#: model -> (input shape, timed steps per epoch at full length)
MODELS = {"digits CNN": ((8, 8, 1), 200), "ResNet-20": ((32, 32, 3), 30), "MobileNetV2": ((32, 32, 3), 12)}
#: model -> steps of a turn at full length: about half a second of training on 2 cores (a step takes about
#: 4-5 ms on the digits CNN, 115-150 ms on ResNet-20 and MobileNetV2 in graph mode): :func:`turn_length`
TURNS = {"digits CNN": 100, "ResNet-20": 4, "MobileNetV2": 4}
MOBILENET_ALPHA = 1.0
# the schedule spans every timed epoch on purpose: each fit call ends before its last event
warnings.filterwarnings("ignore", category=tfprune.SparsityNotReachedWarning)
GOALS = {"digits CNN": 1.10, "ResNet-20": 1.05, "MobileNetV2": 1.05}
MEMORY_GOAL = 0.25  # extra bytes per prunable weight
#: a run during which other processes used more of the CPUs than this is flagged
OTHER_WORK_LIMIT = 0.05
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
PLOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "benchmarks_scale.png")


def dense_model(name):
    shape = MODELS[name][0]
    if name == "digits CNN":
        return default_model(shape, 10)
    if name == "ResNet-20":
        return resnet20(shape)
    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(input_shape=shape, alpha=MOBILENET_ALPHA, weights=None, classes=10,
                                          classifier_activation=None)


def build(name, kind, total_steps, frequency):
    """(compiled-ready model, callbacks factory) of one configuration."""
    model = dense_model(name)
    if kind in ("dense", CONTROL):
        return model, lambda m: []
    if kind == "tf-mot":
        schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, SPARSITY, begin_step=1, end_step=total_steps,
                                                        frequency=frequency)
        pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
        return pruned, lambda m: [tfmot.sparsity.keras.UpdatePruningStep()]
    schedule = Gradual(SPARSITY, end_step=total_steps, frequency=frequency)
    return tfprune.prune(model, allocation=kind.split(" ")[1], schedule=schedule), tfprune.callbacks


def first_wrapper(model):
    """The model's first pruning wrapper (TF-MOT's or tfprune's), None for a dense model."""
    return next((layer for layer in model.submodules if hasattr(layer, "pruning_step")), None)


def pruning_events(model):
    """The training steps (1-based) at which ``model`` prunes, read from its wrappers' schedule."""
    wrapper = first_wrapper(model)
    if wrapper is None:
        return set()
    if hasattr(wrapper, "update_masks"):  # tfprune's wrapper
        return set(wrapper.pruning_steps())
    schedule = wrapper.pruning_schedule
    # TF-MOT's PolynomialDecay: begin_step <= step <= end_step, (step - begin_step) % frequency == 0
    return set(range(schedule.begin_step, schedule.end_step + 1, schedule.frequency))


def trained_steps(model):
    """Steps trained so far, read from the first pruning wrapper (None for a dense model)."""
    wrapper = first_wrapper(model)
    return None if wrapper is None else int(wrapper.pruning_step.numpy())


def compile_model(model, jit):
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    return model


def synthetic(name, steps):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps * BATCH, *MODELS[name][0])).astype(np.float32)
    return x, rng.integers(0, 10, steps * BATCH).astype(np.int32)


def prunable_count(model):
    return sum(w.variable.shape.num_elements() for w in tfprune.layers.prunable(model).values())


def variable_bytes(model):
    unique = {id(v): v for v in model.variables}
    return sum(v.shape.num_elements() * v.dtype.size for v in unique.values())


def step_times(name, jit, steps, repeats, kinds=TIMED, build=build):
    """{kind: ([the steady step times of each round], pruning step times)} in seconds, a pruning event
    every ``steps // 4`` steps; and the models (each configuration built by ``build``, :func:`build`'s
    signature). Each repeat trains ``steps`` steps per configuration,
    the configurations taking turns every :func:`turn_length` steps (one short ``fit`` each, in
    carryover-balanced orders, :func:`_timing.balanced_orders`): a round is one turn of every configuration."""
    warmup = max(2, steps // 4)
    frequency = max(2, steps // 4)
    total = warmup + repeats * steps
    x, y = synthetic(name, steps)
    models = {}
    for kind in kinds:
        model, make_callbacks = build(name, kind, total, frequency)
        compile_model(model, jit)
        model.fit(x[:warmup * BATCH], y[:warmup * BATCH], batch_size=BATCH, epochs=1, verbose=0, shuffle=False,
                  callbacks=make_callbacks(model))  # trace, compile, warm up
        models[kind] = (model, make_callbacks, pruning_events(model))
    times = {kind: ([], []) for kind in kinds}
    done, turn, orders = warmup, turn_length(name, steps), balanced_orders(models.items())
    turns = [(start, min(turn, steps - start)) for start in range(0, steps, turn)] * repeats
    for round_index, (start, count) in enumerate(turns):
        batches = slice(start * BATCH, (start + count) * BATCH)
        for kind, (model, make_callbacks, events) in orders[round_index % len(orders)]:
            timer = StepTimes()
            model.fit(x[batches], y[batches], batch_size=BATCH, epochs=1, verbose=0, shuffle=False,
                      callbacks=[timer] + make_callbacks(model))
            trained = trained_steps(model)
            if trained not in (None, done + count):
                raise RuntimeError(f"{kind}: expected {done + count} steps trained, found {trained}")
            rounds, pruning = times[kind]
            rounds.append([])
            for step, seconds in enumerate(timer.times[1:], start=done + 2):  # the first step starts the fit
                (pruning if step in events else rounds[-1]).append(seconds)
        done += count
    return times, {kind: model for kind, (model, _, _) in models.items()}


def turn_length(name, steps):
    """Steps each configuration trains before the next takes its turn (``steps`` per epoch): about half
    a second of training in graph mode (:data:`TURNS`; at most an epoch, at least 4 steps). Short, so
    that the machine's slow drifts in speed (several percent over seconds on a shared host) hit every
    configuration alike; long enough to leave each
    ``fit``'s warm-up behind: a digits CNN step takes a fifth longer at the start of a ``fit`` (dense,
    graph mode: 5.5 ms at its second step, 4.3 ms at its twentieth, 3.6-3.9 ms later on), so the
    20-step turns used before timed that warm-up more than training, which runs one long ``fit``."""
    return max(4, min(TURNS[name], steps))


EVENTS_EVERY = 100  # TF-MOT's default pruning frequency


def summarize(times):
    """(median steady step, median extra of a pruning step, mean step with one event per EVENTS_EVERY)."""
    rounds, pruning = times
    base = statistics.median(seconds for steady in rounds for seconds in steady)
    extra = statistics.median(pruning) - base if pruning else 0.0
    return base, extra, base + extra / EVENTS_EVERY


def mean_step_interval(times, stats, kind, peer):
    """(low, ratio, high): the ratio of ``kind``'s mean step (:func:`summarize`) to ``peer``'s, with its
    95% interval, resampling rounds (:func:`_report.ratio_interval`; the event costs held fixed)."""
    return ratio_interval(times[kind][0], times[peer][0], stats[kind][1] / EVENTS_EVERY, stats[peer][1] / EVENTS_EVERY)


def gpu_peak_bytes(name, kind, steps):
    """Peak device memory of building and training ``steps`` steps of one configuration (GPU only)."""
    gc.collect()  # the models before this one (Keras models hold reference cycles)
    tf.config.experimental.reset_memory_stats("GPU:0")
    model, make_callbacks = build(name, kind, steps, max(1, steps // 2))
    compile_model(model, False)
    x, y = synthetic(name, steps)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=make_callbacks(model))
    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def rss_peak_bytes(name, kind, steps):
    """Peak RSS of a fresh process that builds and trains ``steps`` steps of one configuration."""
    return json_from_child(__file__, "--child", name, kind, steps)["rss_peak"]


def _status_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def child(name, kind, steps):
    """Peak RSS growth of building and training one configuration, over the process before it."""
    x, y = synthetic(name, steps)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak (VmHWM) to the current RSS (Linux)
    before = _status_kib("VmRSS")
    model, make_callbacks = build(name, kind, steps, max(1, steps // 2))
    compile_model(model, False)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=make_callbacks(model))
    print(json.dumps({"rss_peak": (_status_kib("VmHWM") - before) * 1024}))


MODES = {"graph": False, "xla": True}  # --modes name -> jit_compile


def measure_mode(name, jit, steps_scale, repeats, build_order=TIMED):
    """One model in one mode (graph or XLA): {"turn": its turn length, "orders": "balanced", "timing": the
    rows of the step-time table, "steps": every step time measured ({configuration: {"steady_ms": [[each
    round's steady steps]], "event_ms": [pruning steps]}}, for analyses other than this report's)}."""
    steps = max(4, int(MODELS[name][1] * steps_scale))
    start = time.perf_counter()
    times, models = step_times(name, jit, steps, repeats, build_order)
    stats = {kind: summarize(t) for kind, t in times.items()}
    weights = prunable_count(models["tf-mot"])
    rows = []
    for kind in TIMED:
        steady, extra, mean = stats[kind]
        rows.append({"model": name, "jit": jit, "kind": kind, "weights": weights, "steady_ms": steady * 1e3,
                     "event_ms": extra * 1e3, "ms": mean * 1e3, "steady_vs_dense": steady / stats["dense"][0],
                     "rounds": sum(1 for a, b in zip(times[kind][0], times["dense"][0]) if a and b),
                     "vs_dense_interval": mean_step_interval(times, stats, kind, "dense"),
                     "vs_tfmot_interval": mean_step_interval(times, stats, kind, "tf-mot")})
    print(f"{name} jit={jit}: " + ", ".join(f"{k} {v[0] * 1e3:.2f} ms + {v[1] * 1e3:.0f} ms per event"
                                            for k, v in stats.items())
          + f" ({time.perf_counter() - start:.0f} s)", flush=True)
    return {"turn": turn_length(name, steps), "orders": "balanced", "build_order": list(build_order), "timing": rows,
            "steps": {kind: {"steady_ms": [milliseconds(r) for r in rounds], "event_ms": milliseconds(pruning)}
                      for kind, (rounds, pruning) in times.items()}}


def measure_mode_in_processes(name, part, steps_scale, repeats, processes):
    """:func:`measure_mode` in ``processes`` fresh Python processes, one after the other: {"turn",
    "orders", "timing": rows whose ratios and intervals are taken across the processes
    (:func:`across_processes`), "processes": each process's :func:`measure_mode` result}. Process ``i``
    builds and warms up the configurations in :func:`_timing.cycle_order` ``i``: a
    configuration built first (or last) in every process would carry whatever that position does to
    its speed into every process alike, where the interval across processes cannot see it (with every
    process building dense first and its A/A copy last, the copy ran 0.9% faster, faster in 8 processes
    of 10)."""
    runs = []
    for index in range(processes):
        runs.append(json_from_child(__file__, "--mode-child", name, part, steps_scale, repeats, index))
        tfprune_rows = [r for r in runs[-1]["timing"] if r["kind"].startswith("tfprune")]
        print(f"{name} {part}, process {index + 1} of {processes}: " + ", ".join(
            f"{r['kind']} {r['vs_dense_interval'][1]:.3f}x" for r in tfprune_rows), flush=True)
    return {"turn": runs[0]["turn"], "orders": runs[0]["orders"], "timing": across_processes(runs),
            "processes": runs}


def across_processes(runs):
    """The rows of the step-time table from several processes' :func:`measure_mode` results: times are
    the medians over the processes; each ratio is the geometric mean of the processes' ratios, with
    :func:`_report.replicate_interval` (a t interval over the processes, which covers what varies from
    one process to the next as well as within each); ``rounds`` is the fewest of a process."""
    rows = []
    for at, first in enumerate(runs[0]["timing"]):
        each = [run["timing"][at] for run in runs]
        if any(r["kind"] != first["kind"] for r in each):
            raise ValueError(f"the processes' rows differ in order at row {at}")
        row = {**first, "processes": len(runs), "rounds": min(r["rounds"] for r in each)}
        for key in ("steady_ms", "event_ms", "ms"):
            row[key] = statistics.median(r[key] for r in each)
        row["steady_vs_dense"] = replicate_interval([r["steady_vs_dense"] for r in each])[1]
        for key in ("vs_dense_interval", "vs_tfmot_interval"):
            row[key] = replicate_interval([r[key][1] for r in each])
        rows.append(row)
    return rows


def milliseconds(seconds):
    """Step times in seconds as milliseconds, to 0.1 microseconds (the stored step times)."""
    return [round(value * 1e3, 4) for value in seconds]


def measure_memory(name, memory_steps, on_gpu):
    """Rows of the memory table for one model: the exact extra bytes of its variables, and (when
    ``memory_steps``) the peak memory of a short training run of each configuration."""
    steps = max(4, MODELS[name][1])
    models = {kind: build(name, kind, steps, max(1, steps // 4))[0] for kind in KINDS}
    weights = prunable_count(models["tf-mot"])
    extra = {kind: (variable_bytes(model) - variable_bytes(models["dense"])) / weights for kind, model in models.items()}
    del models  # not in the device's peaks below (gpu_peak_bytes collects the reference cycles Keras models hold)
    peaks = {}
    if memory_steps:
        for kind in KINDS:
            peaks[kind] = gpu_peak_bytes(name, kind, memory_steps) if on_gpu else rss_peak_bytes(name, kind, memory_steps)
    return [{"model": name, "kind": kind, "weights": weights, "extra_per_weight": extra[kind],
             "peak": peaks.get(kind), "peak_vs_dense": (peaks[kind] - peaks["dense"]) if peaks else None}
            for kind in KINDS]


def measured_parts(name, modes, steps_scale, repeats, memory_steps, on_gpu, processes=1):
    """Measure one model: yields (part, result) for each of ``modes`` ("graph", "xla"), then "memory"
    (when ``memory_steps`` is not None), each as soon as it is measured. A mode's result is
    :func:`measure_mode`'s (in this process), or with ``processes`` > 1
    :func:`measure_mode_in_processes`'s; every result also holds its minutes, the load average at
    start and end, and the share of the CPUs other processes used meanwhile
    (:func:`_report.other_cpu_share`)."""
    for part in [*modes, *(["memory"] if memory_steps is not None else [])]:
        start, load, cpu = time.perf_counter(), os.getloadavg()[0], cpu_snapshot()
        if part == "memory":
            result = {"memory": measure_memory(name, memory_steps, on_gpu)}
        elif processes > 1:
            result = {"mode": part, **measure_mode_in_processes(name, part, steps_scale, repeats, processes)}
        else:
            result = {"mode": part, **measure_mode(name, MODES[part], steps_scale, repeats)}
        yield part, {"model": name, **result, "minutes": (time.perf_counter() - start) / 60,
                     "load": [round(load, 1), round(os.getloadavg()[0], 1)],
                     "other_cpu": other_cpu_share(cpu, cpu_snapshot())}


def table_rows(results, table):
    """The rows of ``table`` ("timing" or "memory") in ``results``, in order."""
    return [row for result in results for row in result.get(table, [])]


def measure(names, steps_scale, repeats, memory_steps, on_gpu):
    """Rows of the step-time table (both modes) and of the memory table for ``names``."""
    results = [result for name in names
               for _, result in measured_parts(name, list(MODES), steps_scale, repeats, memory_steps, on_gpu)]
    return table_rows(results, "timing"), table_rows(results, "memory")


def mode_label(jit):
    return "XLA" if jit else "graph"


def result_path(name, part):
    """benchmarks/results/scale_<model>_<part>.json; ``part``: a mode (graph, xla) or "memory"."""
    return os.path.join(RESULTS, f"scale_{name.replace(' ', '_')}_{part}.json")


def store(name, part, result):
    """Write one result as indented JSON, its step times ("steps") one configuration to a line."""
    def text(key, value):
        if key == "steps":
            return "{\n" + ",\n".join(f"  {json.dumps(kind)}: {json.dumps(times, separators=(',', ':'))}"
                                       for kind, times in value.items()) + "\n }"
        if key == "processes":  # one process's result to a line
            return "[\n" + ",\n".join(f"  {json.dumps(run, separators=(',', ':'))}" for run in value) + "\n ]"
        return json.dumps(value, indent=1).replace("\n", "\n ")

    os.makedirs(RESULTS, exist_ok=True)
    write_text(result_path(name, part),
               "{\n" + ",\n".join(f" {json.dumps(key)}: {text(key, value)}" for key, value in result.items()) + "\n}\n")


def stored_results():
    """Every stored result, in MODELS order, a model's modes before its memory (one file per model
    and mode, one per model for memory)."""
    found = []
    for name in MODELS:
        for part in [*MODES, "memory"]:
            if os.path.exists(result_path(name, part)):
                with open(result_path(name, part), encoding="utf-8") as f:
                    result = json.load(f)
                if "processes" in result:  # its rows from the processes' own, as this code combines them
                    result["timing"] = across_processes(result["processes"])
                found.append(result)
    return found


def plot(timing, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, jit in zip(axes, (False, True)):
        for shift, (kind, marker) in enumerate(zip(KINDS[1:] + [CONTROL], "osDx")):  # and the A/A check
            rows = sorted((r for r in timing if r["jit"] == jit and r["kind"] == kind), key=lambda r: r["weights"])
            style = {"color": "grey", "ls": ":", "label": f"{kind}: check"} if kind == CONTROL else {"label": kind}
            low, ratio, high = (np.array([r["vs_dense_interval"][i] for r in rows]) for i in range(3))
            x = [r["weights"] * 1.07 ** shift for r in rows]  # side by side, so that the intervals can be told apart
            ax.errorbar(x, ratio, yerr=[ratio - low, high - ratio], marker=marker, capsize=3, **style)
            for r, at, y in zip(rows, x, ratio):
                if kind == "tfprune lamp":
                    ax.annotate(r["model"], (at, y), fontsize=8, textcoords="offset points", xytext=(4, 4))
        ax.axhline(1.0, color="grey", lw=0.8)
        for goal, style in zip(sorted(set(GOALS.values())), ("--", "-.")):
            ax.axhline(goal, color="grey", lw=0.8, ls=style, label="goal: " + ", ".join(
                name for name, value in GOALS.items() if value == goal))
        ax.set_xscale("log")
        ax.set_xlabel("prunable weights")
        ax.set_title("jit_compile=True (XLA)" if jit else "graph mode")
    axes[0].set_ylabel(f"mean step (1 pruning event / {EVENTS_EVERY} steps) / dense,\n"
                       "with its 95% interval")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def by_model_and_mode(timing):
    """(model, "graph" or "XLA", {configuration: row}) for each model and mode of ``timing``."""
    for name in dict.fromkeys(r["model"] for r in timing):
        for jit in dict.fromkeys(r["jit"] for r in timing if r["model"] == name):
            yield name, mode_label(jit), {r["kind"]: r for r in timing if r["model"] == name and r["jit"] == jit}


def goal_lines(timing, memory):
    lines = []
    for name, mode, rows in by_model_and_mode(timing):
        pruned = [rows[kind] for kind in ("tfprune uniform", "tfprune lamp")]
        lines.append(f"- {name}, {mode}: tfprune / dense <= {GOALS[name]:.2f}: " + "; ".join(
            f"{r['kind'].split()[1]} {interval_verdict(r['vs_dense_interval'], GOALS[name])}" for r in pruned)
            + ". tfprune <= TF-MOT: " + "; ".join(
            f"{r['kind'].split()[1]} {interval_verdict(r['vs_tfmot_interval'], 1.0)}" for r in pruned))
    if not memory:
        return lines
    worst = max(r["extra_per_weight"] for r in memory if r["kind"].startswith("tfprune"))
    met = "met" if worst <= MEMORY_GOAL else "**not met**"
    lines.append(f"- extra memory <= {MEMORY_GOAL} B per prunable weight: {met} (tfprune worst {worst:.2f} B; "
                 f"TF-MOT {max(r['extra_per_weight'] for r in memory if r['kind'] == 'tf-mot'):.2f} B)")
    return lines


def report(timing, memory, command, device, on_gpu, section="scale"):
    mb = 1024 * 1024
    peak_name = "device peak (MiB)" if on_gpu else "peak RSS growth (MiB)"
    lines = [
        "## Step time and memory on real model sizes" + (f" ({device})" if on_gpu else ""),
        "",
        f"{command} on {device}.",
        f"Batch {BATCH}, synthetic data, SGD with momentum, {SPARSITY:.0%} target, a pruning event every quarter epoch "
        f"(tfprune lamp re-allocates LAMP there), configurations interleaved in short turns, their order changing "
        f"from round to round (each run's turn length and orders are given with its command); MobileNetV2 alpha "
        f"{MOBILENET_ALPHA}, 32x32x3. Each step is timed: *steady* is the median step without a pruning event "
        f"(masking only), *event* the median extra time of a step that prunes (new masks; LAMP's reallocation), "
        f"*ms / step* the mean step with one event per {EVENTS_EVERY} steps (TF-MOT's default frequency): steady + "
        f"event / {EVENTS_EVERY}. Ratios are against dense (and TF-MOT) measured in the same run.",
        "",
        "| model | prunable weights | jit_compile | configuration | steady ms | steady vs dense | event (ms) | "
        f"ms / step (1 event / {EVENTS_EVERY}) | vs dense (95% interval) | vs TF-MOT (95% interval) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['model']} | {r['weights']:,} | {r['jit']} | {r['kind']} | {r['steady_ms']:.2f} | "
              f"{r['steady_vs_dense']:.3f}x | {r['event_ms']:.0f} | {r['ms']:.2f} | "
              f"{interval_text(r['vs_dense_interval'])} | {interval_text(r['vs_tfmot_interval'])} |" for r in timing]
    lines += [
        "",
        "Memory: bytes of the model's variables beyond the dense model's, per prunable weight (exact), and the "
        f"{peak_name} of a short training run in graph mode" + ("" if on_gpu else " (one fresh process per "
        "configuration, TensorFlow imported and the data made; the peak resident memory of building, compiling and "
        "training, above the process before; a few MiB of noise)") + ".",
        "",
        f"| model | configuration | extra bytes / prunable weight | {peak_name} | peak - dense (MiB) |",
        "|---|---|---|---|---|",
    ]
    for r in memory:
        peak = "-" if r["peak"] is None else f"{r['peak'] / mb:.0f}"
        delta = "-" if r["peak_vs_dense"] is None else f"{r['peak_vs_dense'] / mb:+.1f}"
        lines.append(f"| {r['model']} | {r['kind']} | {r['extra_per_weight']:.3f} | {peak} | {delta} |")
    lines += ["", "Goals:", ""] + goal_lines(timing, memory)
    return lines


def control_line(timing):
    """The A/A check of the intervals: each dense copy's interval against dense, which should contain 1."""
    controls = [r for r in timing if r["kind"] == CONTROL]
    if not controls:
        raise ValueError(f"no {CONTROL!r} rows in the results: rerun the benchmark")
    missed = [r for r in controls if not r["vs_dense_interval"][0] <= 1.0 <= r["vs_dense_interval"][2]]
    single = [r for r in timing if r.get("processes", 1) == 1]
    cells = {}
    for r in timing:
        if r.get("processes", 1) > 1:
            cells.setdefault((r["model"], mode_label(r["jit"]), r["processes"]), set()).add(r["rounds"])
    many = [f"{name} {mode} ({processes} processes of {min(rounds)}"
            + (f"-{max(rounds)}" if len(rounds) > 1 else "") + " rounds)"
            for (name, mode, processes), rounds in cells.items()]
    text = "- intervals: "
    if single:
        rounds = sorted({r["rounds"] for r in single})
        rounds = f"{rounds[0]}" if len(rounds) == 1 else f"{rounds[0]}-{rounds[-1]}"
        text += (f"a percentile bootstrap over {rounds} rounds per model and mode (a round: one "
                 f"turn of every configuration; the event costs held fixed), which assumes independent rounds. "
                 "Each configuration is one model in one process, and these intervals leave out whatever varies "
                 "from one process to the next (section \"Where the wrapper's step time goes\" measures that on "
                 "the digits CNN)" + (", except: " if many else ". "))
    if many:
        text += ("measured in several fresh processes, one after the other, " + ", ".join(many) + ": there a "
                 "ratio is the geometric mean of the processes' ratios and its interval a Student t interval over "
                 "the processes (log scale), which covers the variation between processes as well as within "
                 "each; each process builds the configurations in another of the balanced orders. ")
    return (text + f"Check: *{CONTROL}*, a second copy of the dense model timed in the same rounds, runs the very same step as dense, and came out at "
            + ", ".join(f"{interval_text(r['vs_dense_interval'])} ({r['model']} {mode_label(r['jit'])})"
                        for r in controls)
            + (": every interval contains 1" if not missed else
               f": **{len(missed)} of {len(controls)} intervals exclude 1** ("
               + ", ".join(f"{r['model']} {mode_label(r['jit'])}" for r in missed)
               + "): there the two copies differ by more than the interval allows, and so may the configurations: "
               "those intervals are too narrow"))


def process_lines(results):
    """Each process's ratios against dense, for the modes measured in several processes."""
    lines = []
    for result in results:
        if "processes" not in result:
            continue
        kinds = [row["kind"] for row in result["timing"] if row["kind"] != "dense"]
        values = {kind: [next(r for r in run["timing"] if r["kind"] == kind)["vs_dense_interval"][1]
                         for run in result["processes"]] for kind in kinds}
        lines.append(f"- {result['model']} {result['mode']}, each of {len(result['processes'])} processes against "
                     "dense: " + "; ".join(f"{kind} " + ", ".join(f"{v:.3f}" for v in found)
                                            for kind, found in values.items()))
    return lines


def run_lines(results):
    """How a model's stored results were measured: each command, the parts it measured (graph, xla,
    memory), its turns and orders, minutes and load."""
    by_command = {}
    for result in results:
        by_command.setdefault(result["command"], []).append(result)
    lines = []
    for command, found in by_command.items():
        first = found[0]
        how = next((f": turns of {r['turn']} steps, {r['orders']} orders" for r in found if "turn" in r), "")
        load = f", load average {first['load'][0]} / {first['load'][1]} at start / end" if "load" in first else ""
        if first.get("other_cpu") is not None:
            load += f", other processes {first['other_cpu']:.1%} of the CPUs"
        parts = ", ".join(r.get("mode", "memory") for r in found)
        lines.append(f"`{command}` ({parts}{how}; {first['minutes']:.1f} min{load})")
    return lines


def command_for(name, part, repeats=None, quick=False, processes=1):
    """The command that measures one part ("graph", "xla" or "memory") of one model, and nothing else."""
    size = " --quick" if quick else (f" --repeats {repeats}" if repeats and part != "memory" else "")
    if processes > 1 and part != "memory":
        size += f" --processes {processes}"
    modes = " --modes none" if part == "memory" else f" --modes {part} --no-memory"
    return f"python benchmarks/bench_scale.py{size} --models '{name}'{modes}"


def render(on_gpu=False):
    """docs/benchmarks.md's section and the plot, from every stored result."""
    results = stored_results()
    if not results:
        raise SystemExit(f"no stored results in {RESULTS}: run the benchmark first")
    timing, memory = table_rows(results, "timing"), table_rows(results, "memory")
    measured = {name: [r for r in results if r["model"] == name] for name in MODELS}
    commands = "; ".join(f"{name}: " + ", ".join(run_lines(found)) for name, found in measured.items() if found)
    devices = sorted({r["device"] for r in results})
    timed = [r for r in results if "mode" in r]  # memory: exact bytes, and peaks that other work does not raise
    busy = [f"{r['model']} {r['mode']}" for r in timed if (r.get("other_cpu") or 0) > OTHER_WORK_LIMIT]
    unknown = [f"{r['model']} {r['mode']}" for r in timed if r.get("other_cpu") is None]
    quiet = "" if on_gpu or busy or unknown else (
        f"; idle: other processes used at most {OTHER_WORK_LIMIT:.0%} of the CPUs during every timed run")
    lines = report(timing, memory, commands, ", ".join(devices) + quiet, on_gpu)
    if busy and not on_gpu:
        lines += [f"- caution ({', '.join(busy)}): other processes used more than {OTHER_WORK_LIMIT:.0%} of the "
                  "CPUs during the run; step times then vary by more than the goals' 5-10% margins, so these "
                  "verdicts are not conclusive: rerun on an idle machine"]
    if unknown and not on_gpu:
        lines += [f"- other work during the run was not measured for {', '.join(unknown)} (results from before "
                  "it was recorded): their commands give the 1-minute load average at start and end only, which "
                  "the benchmark's own busy threads raise toward the core count"]
    if timing:
        lines += [control_line(timing)] + process_lines(results)
    missing = [(name, part) for name in MODELS for part in [*MODES, "memory"]
               if not any(r.get("mode", "memory") == part for r in measured[name])]
    if missing:
        lines += ["- not measured: " + "; ".join(f"{name} {part} (`{command_for(name, part, quick=True)}`)"
                                                 for name, part in missing)]
    print("\n".join(lines))
    plot(timing, PLOT)
    update_section("scale", "\n".join(lines + ["", "![step-time overhead vs model size](benchmarks_scale.png)"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed epochs per configuration (the orders balance exactly over whole cycles of 10 "
                             "rounds; an epoch has 2 rounds on the digits CNN, 8 on ResNet-20, 3 on MobileNetV2)")
    parser.add_argument("--quick", action="store_true", help="3 repeats, half the steps, 6 memory steps")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of: " + ", ".join(MODELS))
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated subset of: " + ", ".join(MODES) + "; or none (memory only). The "
                        "other modes' stored results are kept")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the memory measurement (the stored memory results are kept)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md as it is")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: rewrite the section and the plot from the stored results")
    parser.add_argument("--processes", type=int, default=1,
                        help="measure each mode in this many fresh processes of --repeats each, one after the "
                             "other, each building the configurations in another balanced order (a multiple of 10 "
                             "completes their cycles); ratios and intervals are then taken across the processes "
                             "(default 1: in this process, intervals over its rounds)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--mode-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    if args.mode_child:
        name, part, steps_scale, repeats, index = args.mode_child
        print(json.dumps(measure_mode(name, MODES[part], float(steps_scale), int(repeats),
                                      cycle_order(TIMED, int(index)))))
        return
    if args.render:
        render()
        return
    names = list(dict.fromkeys(n.strip() for n in args.models.split(",")))
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"--models {args.models!r}: unknown {unknown}; choose from {list(MODELS)}")
    modes = [] if args.modes.strip() == "none" else list(dict.fromkeys(m.strip() for m in args.modes.split(",")))
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"--modes {args.modes!r}: unknown {unknown}; choose from {list(MODES)}, or none")
    if not modes and args.no_memory:
        parser.error("--modes none with --no-memory: nothing to measure")
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: must be at least 1")
    if args.processes < 1:
        parser.error(f"--processes {args.processes}: must be at least 1")
    repeats, scale, memory_steps = (3, 0.5, 6) if args.quick else (args.repeats, 1.0, 12)
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    device = (tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
              .get("device_name", "GPU") if on_gpu else machine())
    for name in names:
        results = []
        for part, result in measured_parts(name, modes, scale, repeats, None if args.no_memory else memory_steps,
                                           on_gpu, args.processes):
            result = {"command": command_for(name, part, args.repeats, args.quick, args.processes), "device": device,
                      **result}
            if not args.no_write:
                store(name, part, result)  # now: a later part may fail
            results.append(result)
        if args.no_write:
            timing, memory = table_rows(results, "timing"), table_rows(results, "memory")
            print("\n".join(report(timing, memory, ", ".join(f"`{r['command']}`" for r in results), device, on_gpu)))
        else:
            render(on_gpu)


if __name__ == "__main__":
    main()
