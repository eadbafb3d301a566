"""The three-regime pipeline over a temperature x density grid, resumable from disk.

Zhou, Yang, Chang, Mahoney, "A three-regime model of network pruning", ICML 2023. For every
temperature: train the dense model once; for every density: prune it (uniform magnitude by
default, any registered allocation), retrain the sparse model twice from the same mask with two
seeds, and measure the mode connectivity ``mc`` of the two retrained models on the training
data (BatchNorm statistics recomputed along the path), the linear CKA of their logits, their
test accuracy, and the regime.

On disk (``out_dir``): ``sweep.json`` (the settings: a later run with other settings is refused),
``dense/`` (each temperature's dense weights and test accuracy, so a resumed sweep does not
retrain them), ``cells/`` (one JSON record per finished cell, written atomically). An interrupted
sweep, run again with the same arguments, continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from tfprune import io, layers
from tfprune.pruning import copy_model, prune, strip
from tfprune._validate import check_int, is_real
from tfprune.diagnostics._batches import batches
from tfprune.diagnostics.cka import cka as cka_of
from tfprune.diagnostics.connectivity import evaluate, mode_connectivity, recompute_batchnorm
from tfprune.diagnostics.regimes import Thresholds, regime, thresholds_from

FORMAT = 1


@dataclasses.dataclass
class SweepResult:
    """The records of a sweep (one dict per cell, in grid order) and the thresholds that label them."""

    records: list
    thresholds: Thresholds
    temperature_name: str = "temperature"
    out_dir: str | None = None

    def __post_init__(self):
        for record in self.records:
            record["regime"] = regime(record["mc"], record["cka"], self.thresholds)

    def grid(self) -> tuple[list, list]:
        """``(temperatures, densities)``, sorted."""
        return (sorted({r["temperature"] for r in self.records}), sorted({r["density"] for r in self.records}))

    def cell(self, temperature: float, density: float) -> dict:
        """The record of one grid cell; a KeyError when the sweep has none there."""
        for record in self.records:
            if record["temperature"] == temperature and record["density"] == density:
                return record
        raise KeyError(f"no cell at temperature={temperature!r}, density={density!r}")

    def write(self, out_dir: str | None = None) -> dict:
        """Write ``phase_diagram.png``, ``report.md`` and ``results.json``; returns their paths."""
        from tfprune.diagnostics.plots import plot_phase_diagram
        from tfprune.diagnostics.report import markdown_report

        folder = out_dir or self.out_dir
        if not folder:
            raise ValueError("out_dir=None: give the folder to write the report in")
        os.makedirs(folder, exist_ok=True)
        paths = {"phase_diagram": os.path.join(folder, "phase_diagram.png"),
                 "report": os.path.join(folder, "report.md"), "results": os.path.join(folder, "results.json")}
        plot_phase_diagram(self.records, paths["phase_diagram"], self.temperature_name)
        io.write_text(paths["report"], markdown_report(self))
        io.write_text(paths["results"], json.dumps({"thresholds": dataclasses.asdict(self.thresholds),
                                                   "records": self.records}, indent=1))
        return paths


def _values(values: Any, argument: str, check: Callable[[Any], bool], allowed: str) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{argument}={values!r}: must be a non-empty list of {allowed}")
    bad = [v for v in values if not check(v)]
    if bad:
        raise ValueError(f"{argument}={list(values)!r}: {bad} not allowed; expected {allowed}")
    if len(set(values)) != len(values):
        raise ValueError(f"{argument}={list(values)!r}: holds duplicates")
    return list(values)


def _density(value: Any) -> bool:
    return is_real(value) and 0.0 < value <= 1.0


def _name(value: float) -> str:
    return repr(float(value)).replace(".", "p").replace("-", "m")


def _settings(out_dir: str, settings: dict) -> None:
    path = os.path.join(out_dir, "sweep.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
        if stored != settings:
            changed = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
            raise ValueError(f"out_dir={out_dir!r}: holds a sweep with other settings ({changed} differ); "
                             "use another folder or the same settings to resume")
    else:
        io.write_text(path, json.dumps(settings, indent=1))


def _test_accuracy(model: Any, test: list) -> float:
    return 1.0 - evaluate(model, test)[0]


def _dense_model(build_model, train, temperature, dense_seed, train_data, test, folder):
    """The dense model at ``temperature`` and its test accuracy (BatchNorm statistics recomputed on
    the training data, as for the sparse models), from disk when already trained."""
    model = build_model(dense_seed)
    layers.check_model(model, "build_model(seed)")
    stem = os.path.join(folder, f"T{_name(temperature)}")
    if os.path.exists(stem + ".json"):
        model.load_weights(stem + ".weights.h5")
        with open(stem + ".json", encoding="utf-8") as f:
            return model, json.load(f)["test_accuracy"]
    train(model, temperature, dense_seed, "dense")
    measured = copy_model(model)
    recompute_batchnorm(measured, train_data)
    accuracy = _test_accuracy(measured, test)
    with io.atomic_path(stem + ".weights.h5") as tmp:
        model.save_weights(tmp)
    io.write_text(stem + ".json", json.dumps({"temperature": temperature, "test_accuracy": accuracy}))
    return model, accuracy


def _cell(dense, train, temperature, density, settings, data):
    started = time.perf_counter()
    retrained = []
    for seed in settings["seeds"]:
        pruned = prune(dense, 1.0 - density, allocation=settings["allocation"])
        train(pruned, temperature, seed, "retrain")
        retrained.append(strip(pruned))
        recompute_batchnorm(retrained[-1], data["train"])  # as at the path's end points
    path = mode_connectivity(retrained[0], retrained[1], data["train"], points=settings["points"])
    similarity = cka_of(retrained[0], retrained[1], data["train"], max_batches=settings["cka_batches"])
    accuracies = [_test_accuracy(m, data["test"]) for m in retrained]
    return {"temperature": temperature, "density": density, "sparsity": 1.0 - density, "mc": path.mc,
            "t_star": path.t_star, "path_t": list(path.t), "path_errors": list(path.errors),
            "path_losses": list(path.losses), "bn_recomputed": path.bn_recomputed, "cka": similarity,
            "test_accuracies": accuracies, "test_accuracy": float(np.mean(accuracies)),
            "train_errors": [path.errors[0], path.errors[-1]], "seconds": time.perf_counter() - started}


def sweep(build_model: Callable[[int], Any], train: Callable[[Any, float, int, str], Any],
          temperatures: Sequence[float], densities: Sequence[float], *, train_data: Any, test_data: Any,
          out_dir: str, seeds: Sequence[int] = (1, 2), dense_seed: int = 0, allocation: str = "uniform",
          thresholds: Thresholds | Mapping[str, float] | None = None, points: int = 11, cka_batches: int = 10,
          temperature_name: str = "temperature", progress: bool = True) -> SweepResult:
    """Run (or resume) the three-regime pipeline over ``temperatures`` x ``densities``.

    Args:
      build_model: ``build_model(seed)`` -> a new, untrained tf_keras model (Sequential/Functional).
      train: ``train(model, temperature, seed, phase)``, phase ``"dense"`` or ``"retrain"`` (the
        retraining must pass ``tfprune.callbacks(model)`` to ``fit``); see
        :func:`tfprune.diagnostics.trainers.make_trainer`.
      temperatures: values of the temperature-like parameter (numbers; e.g. epochs).
      densities: fractions of prunable weights kept, in (0, 1] (sparsity = 1 - density).
      train_data, test_data: (x, y) data (a ``tf.data.Dataset`` of batches, an ``(x, y)`` pair, ...);
        mc and CKA use the training data, accuracies the test data.
      out_dir: folder of the resumable records (created if missing).
      seeds: the two retraining seeds. dense_seed: the dense model's seed.
      allocation: a name in ``tfprune.ALLOCATIONS`` (the paper: uniform magnitude).
      thresholds: regime thresholds (:class:`~tfprune.diagnostics.regimes.Thresholds`); labels only,
        changing them never recomputes a cell.
      points: points on the connectivity path; cka_batches: batches of training data for CKA.
      progress: show tqdm progress bars.

    Returns:
      A :class:`SweepResult`; ``result.write()`` writes the phase diagram, report and table.
    """
    from tqdm.auto import tqdm

    from tfprune import allocation as allocations

    if not callable(build_model):
        raise TypeError(f"build_model={build_model!r}: expected a callable build_model(seed) -> model")
    if not callable(train):
        raise TypeError(f"train={train!r}: expected a callable train(model, temperature, seed, phase)")
    temperatures = _values(temperatures, "temperatures", lambda v: is_real(v) and np.isfinite(v), "finite numbers")
    densities = _values(densities, "densities", _density, "numbers in (0, 1] (fractions of weights kept)")
    seeds = [check_int(s, "seeds", minimum=0) for s in _values(seeds, "seeds", lambda v: True, "two ints")]
    if len(seeds) != 2:
        raise ValueError(f"seeds={seeds!r}: give exactly two retraining seeds")
    allocations.entry(allocation)
    if not isinstance(allocation, str):
        raise TypeError(f"allocation={allocation!r}: give a registered name (it is stored with the records)")
    if not isinstance(out_dir, str) or not out_dir:
        raise ValueError(f"out_dir={out_dir!r}: must be a folder path")
    limits = thresholds_from(thresholds)
    settings = {"format": FORMAT, "seeds": seeds, "dense_seed": check_int(dense_seed, "dense_seed", minimum=0),
                "allocation": allocation, "points": check_int(points, "points", minimum=3),
                "cka_batches": check_int(cka_batches, "cka_batches", minimum=1),
                "temperature_name": str(temperature_name)}
    data = {"train": batches(train_data, "train_data"), "test": batches(test_data, "test_data")}
    for folder in ("dense", "cells"):
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
    _settings(out_dir, settings)
    records = []
    bar = tqdm(total=len(temperatures) * len(densities), desc="regime sweep", unit="cell", disable=not progress)
    for temperature in temperatures:
        paths = {d: os.path.join(out_dir, "cells", f"T{_name(temperature)}_d{_name(d)}.json") for d in densities}
        dense = accuracy = None
        for density in densities:
            if os.path.exists(paths[density]):
                with open(paths[density], encoding="utf-8") as f:
                    records.append(json.load(f))
                bar.update(1)
                continue
            if dense is None:
                bar.set_postfix_str(f"dense training at {temperature_name}={temperature:g}")
                dense, accuracy = _dense_model(build_model, train, temperature, settings["dense_seed"],
                                               data["train"], data["test"], os.path.join(out_dir, "dense"))
            bar.set_postfix_str(f"{temperature_name}={temperature:g} density={density:g}")
            record = _cell(dense, train, temperature, density, settings, data)
            record["dense_test_accuracy"] = accuracy
            io.write_text(paths[density], json.dumps(record, indent=1))
            records.append(record)
            bar.update(1)
    bar.close()
    return SweepResult(records, limits, str(temperature_name), out_dir)
