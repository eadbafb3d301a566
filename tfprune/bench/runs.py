"""The run grid of a benchmark sweep: a preset's method x level x seed (x rewind) runs.

Presets:

- ``lamp-protocol`` (Lee et al., "Layer-adaptive sparsity for the magnitude-based pruning",
  ICLR 2021): iterative magnitude pruning, 20% of the remaining weights per round, retraining
  each round, with and without weight rewinding (Frankle et al. 2020), every allocation
  recomputed on the surviving weights at each round; the levels are the sparsities at which the
  table reads the per-round results (the run goes to the largest).
- ``at-init``: pruning at initialisation (random, magnitude, SNIP, GraSP, SynFlow, SBP-SI), masks
  frozen, then training; the levels are sparsities.
- ``structured``: greedy forward selection (Ye et al. 2020), L1 and random channel selection
  of a trained model, then fine-tuning; the levels are widths (fractions of channels kept).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Sequence

from tfprune._validate import check_choice, check_int, is_real

#: Version of the record format; a folder written by another format is refused.
FORMAT = 1


def round_sparsity(rounds: int, rate: float = 0.2) -> float:
    """Overall sparsity after ``rounds`` rounds that each remove ``rate`` of the remaining weights."""
    return 1.0 - (1.0 - rate) ** rounds


def rounds_for(sparsity: float, rate: float = 0.2) -> int:
    """The first round whose sparsity reaches ``sparsity`` (as :class:`tfprune.schedules.Iterative`)."""
    return max(1, math.ceil(math.log(1.0 - sparsity) / math.log(1.0 - rate) - 1e-3))


@dataclasses.dataclass(frozen=True)
class Preset:
    """A preset's defaults: the kind of run, its methods, levels and training lengths."""

    kind: str  # "iterative", "at_init" or "structured"
    methods: tuple
    levels: tuple
    epochs: int  # epochs per round (iterative), of training (at_init), of fine-tuning (structured)
    dense_epochs: int  # dense training before the first round / the selection (0 for at_init)
    rewind: tuple = (False,)
    batch_size: int = 64
    learning_rate: float = 1e-3


PRESETS = {
    "lamp-protocol": Preset("iterative", ("lamp", "global", "uniform", "uniform+", "erk"),
                            tuple(round(round_sparsity(k), 6) for k in (5, 10, 15, 19)),
                            epochs=4, dense_epochs=15, rewind=(False, True), batch_size=128),
    "at-init": Preset("at_init", ("random", "magnitude", "snip", "grasp", "synflow", "sbp-si"),
                      (0.9, 0.99, 0.999), epochs=15, dense_epochs=0, batch_size=128),
    "structured": Preset("structured", ("greedy", "l1", "random"), (0.25, 0.5, 0.75),
                         epochs=3, dense_epochs=10, batch_size=128),
}

#: Epoch of dense training whose end the rewinding runs go back to.
REWIND_EPOCH = 1


def method_names(kind: str) -> list:
    """The registered methods a preset kind may sweep (allocations, scorers or selectors)."""
    if kind == "iterative":
        from tfprune.allocation import ALLOCATIONS
        return list(ALLOCATIONS.names())
    if kind == "at_init":
        from tfprune.scoring import SCORERS
        return list(SCORERS.names())
    from tfprune.structured import SELECTORS
    return list(SELECTORS.names())


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of the grid."""

    method: str
    level: float
    seed: int
    rewind: bool = False

    @property
    def id(self) -> str:
        """A file name: ``<method>-<level>-seed<seed>[-rewind]``."""
        method = re.sub(r"[^A-Za-z0-9_.]+", lambda m: "plus" if m.group(0) == "+" else "_", self.method)
        return f"{method}-{self.level:g}-seed{self.seed}" + ("-rewind" if self.rewind else "")

    @property
    def label(self) -> str:
        """The table row of the run: the method, ``+ rewind`` for a rewinding run."""
        return self.method + (" + rewind" if self.rewind else "")


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """Everything that defines a sweep's results; stored in its folder (``sweep.json``)."""

    preset: str
    dataset: str
    model: str
    methods: tuple
    levels: tuple
    seeds: tuple
    epochs: int
    dense_epochs: int
    rewind: tuple
    batch_size: int
    learning_rate: float
    data_dir: str | None = None
    format: int = FORMAT

    @property
    def kind(self) -> str:
        return PRESETS[self.preset].kind

    @property
    def rounds(self) -> int:
        """Rounds of an iterative run (enough for the largest level)."""
        return rounds_for(max(self.levels))

    def runs(self) -> list:
        """The grid, seed-major (every method at seed 0 first), so a partial sweep is balanced."""
        levels = [max(self.levels)] if self.kind == "iterative" else list(self.levels)
        return [Run(m, lv, s, r) for s in self.seeds for r in self.rewind for m in self.methods
                for lv in levels]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _levels(values: Any, kind: str) -> tuple:
    argument = "widths" if kind == "structured" else "sparsities"
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{argument}={values!r}: must be a non-empty list of numbers in (0, 1)")
    bad = [v for v in values if not (is_real(v) and 0.0 < v < 1.0) and not (kind == "structured" and v == 1.0)]
    if bad:
        allowed = ("fractions of channels kept, in (0, 1]" if kind == "structured"
                   else "fractions of weights removed, in (0, 1)")
        raise ValueError(f"{argument}={list(values)!r}: {bad} not allowed; expected {allowed}")
    if len(set(values)) != len(values):
        raise ValueError(f"{argument}={list(values)!r}: holds duplicates")
    return tuple(sorted(float(v) for v in values))


def _seeds(seeds: Any) -> tuple:
    if not isinstance(seeds, (str, bytes)) and isinstance(seeds, Sequence):
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds={list(seeds)!r}: must be a non-empty list of distinct seeds")
        return tuple(check_int(s, "seeds", minimum=0) for s in seeds)
    return tuple(range(check_int(seeds, "seeds", minimum=1)))


def make_config(preset: str, dataset: str = "digits", model: str = "cnn", *, methods: Sequence[str] | None = None,
                levels: Sequence[float] | None = None, seeds: int | Sequence[int] = 3, epochs: int | None = None,
                dense_epochs: int | None = None, rewind: Sequence[bool] | None = None, batch_size: int | None = None,
                learning_rate: float | None = None, data_dir: str | None = None) -> SweepConfig:
    """A checked :class:`SweepConfig`: the preset's defaults, overridden by the arguments given.

    ``levels`` are sparsities (``lamp-protocol``, ``at-init``) or widths (``structured``);
    ``seeds`` a count ``n`` (seeds ``0 .. n-1``) or a list of seeds.
    """
    check_choice(preset, "preset", list(PRESETS))
    base = PRESETS[preset]
    methods = list(base.methods if methods is None else methods)
    if isinstance(methods, str) or not methods or not all(isinstance(m, str) for m in methods):
        raise ValueError(f"methods={methods!r}: must be a non-empty list of method names")
    known = method_names(base.kind)
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ValueError(f"methods={methods!r}: {unknown} not registered for preset {preset!r}; allowed: {known}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods={methods!r}: holds duplicates")
    levels = _levels(base.levels if levels is None else list(levels), base.kind)
    rewind = tuple(base.rewind if rewind is None else (bool(r) for r in rewind))
    if not rewind or len(set(rewind)) != len(rewind):
        raise ValueError(f"rewind={rewind!r}: give False, True or both, once each")
    if any(rewind) and base.kind != "iterative":
        raise ValueError(f"rewind={list(rewind)!r}: weight rewinding is only for the lamp-protocol preset")
    epochs = check_int(base.epochs if epochs is None else epochs, "epochs", minimum=1 if base.kind != "structured" else 0)
    dense_epochs = check_int(base.dense_epochs if dense_epochs is None else dense_epochs, "dense_epochs", minimum=0)
    if any(rewind) and dense_epochs < REWIND_EPOCH:
        raise ValueError(f"dense_epochs={dense_epochs}: weight rewinding goes back to the end of dense epoch "
                         f"{REWIND_EPOCH}; give at least {REWIND_EPOCH}")
    if base.kind == "structured" and dense_epochs < 1:
        raise ValueError(f"dense_epochs={dense_epochs}: structured selection needs a trained model; give at least 1")
    learning_rate = base.learning_rate if learning_rate is None else learning_rate
    if not (is_real(learning_rate) and 0.0 < learning_rate < math.inf):
        raise ValueError(f"learning_rate={learning_rate!r}: must be a positive number")
    if not isinstance(dataset, str) or not dataset:
        raise ValueError(f"dataset={dataset!r}: must be a data set name")
    if not isinstance(model, str) or not model:
        raise ValueError(f"model={model!r}: must be a built-in model name or a model file")
    return SweepConfig(preset=preset, dataset=dataset, model=model, methods=tuple(methods), levels=levels,
                       seeds=_seeds(seeds), epochs=epochs, dense_epochs=dense_epochs,
                       rewind=rewind, batch_size=check_int(base.batch_size if batch_size is None else batch_size,
                                                           "batch_size", minimum=1),
                       learning_rate=float(learning_rate), data_dir=data_dir)


def config_from_dict(stored: dict) -> SweepConfig:
    """The :class:`SweepConfig` stored in a folder's ``sweep.json``."""
    fields = {f.name for f in dataclasses.fields(SweepConfig)}
    return SweepConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in fields})
