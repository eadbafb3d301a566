"""Running a sweep: every unfinished run of the grid, in this process or spread over worker
processes, resumable.

Each process takes the next run that has neither a record nor a live claim
(:func:`tfprune.bench.records.claim`), runs it and writes its record atomically. A run that raises
is recorded as failed with its error and the sweep goes on. Run the same sweep again to continue
an interrupted one: finished runs are never repeated, stale claims are taken over.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import Any, Callable

from tfprune._validate import check_int
from tfprune.bench import records
from tfprune.bench.runs import SweepConfig


def _execute(folder: str, config: SweepConfig, run: Any, build_model: Callable) -> dict:
    from tfprune.bench.runner import run_one, versions

    started = time.perf_counter()
    record = {"id": run.id, "run": {"method": run.method, "level": run.level, "seed": run.seed,
                                    "rewind": run.rewind, "label": run.label},
              "config": config.to_dict()}
    try:
        record["result"] = run_one(config, run, build_model)
        record["status"] = "done"
    except Exception as error:  # noqa: BLE001 -- a failed run is recorded, the sweep goes on
        record["status"] = "failed"
        record["error"] = f"{type(error).__name__}: {error}"
        record["traceback"] = traceback.format_exc(limit=20)
    record["seconds"] = time.perf_counter() - started
    record["versions"] = versions()
    records.write_record(folder, record)
    return record


def work(folder: str, config: SweepConfig, build_model: Callable, on_done: Callable[[dict], Any] | None = None) -> int:
    """Run every unfinished run of ``config`` that this process can claim; the number it ran."""
    count = 0
    for run in config.runs():
        if not records.claim(folder, run.id):
            continue
        try:
            record = _execute(folder, config, run, build_model)
        finally:
            records.release(folder, run.id)
        count += 1
        if on_done is not None:
            on_done(record)
    return count


def _worker(folder: str, config: SweepConfig, build_model: Callable, threads: int) -> None:
    """A worker process: quiet TensorFlow, ``threads`` threads, then :func:`work`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfprune.backend import tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    work(folder, config, build_model)


def run_sweep(config: SweepConfig, folder: str, build_model: Callable[[tuple, int, int], Any], *,
              workers: int = 1, progress: bool = True, argument: str = "folder") -> list:
    """Run (or continue) the sweep ``config`` in ``folder``; every record of the folder.

    Args:
      config: from :func:`tfprune.bench.runs.make_config`.
      folder: the sweep's folder (made if missing; a folder holding another sweep is refused).
      build_model: ``build_model(input_shape, num_classes, seed)`` -> a fresh tf_keras model; with
        ``workers > 1`` it must be picklable (a module-level function or ``functools.partial``).
      workers: processes running runs at the same time (1: this process only).
      progress: a tqdm bar with the runs done and the time left.
    """
    from tqdm.auto import tqdm

    workers = check_int(workers, "workers", minimum=1)
    records.open_folder(folder, config, argument)
    grid = {run.id for run in config.runs()}
    done = records.finished(folder) & grid
    bar = tqdm(total=len(grid), initial=len(done), desc=f"{config.preset} on {config.dataset}", unit="run",
               disable=not progress, smoothing=0.0)
    try:
        if workers == 1:
            work(folder, config, build_model, on_done=lambda record: bar.update(1))
        else:
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            threads = max(1, (os.cpu_count() or 1) // workers)
            processes = [context.Process(target=_worker, args=(folder, config, build_model, threads), daemon=True)
                         for _ in range(workers)]
            for process in processes:
                process.start()
            while any(p.is_alive() for p in processes):
                for process in processes:
                    process.join(timeout=1.0 / len(processes))
                now = len(records.finished(folder) & grid)
                bar.update(now - bar.n)
            bar.update(len(records.finished(folder) & grid) - bar.n)
    finally:
        bar.close()
    return [r for r in records.read_records(folder) if r["id"] in grid]
