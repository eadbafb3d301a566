"""``tfprune bench``: resumable sweeps of methods x levels x seeds on a data set and a model,
their records, table and plots.

Presets (:data:`PRESETS`): ``lamp-protocol`` (Lee et al., ICLR 2021: iterative magnitude
pruning, 20% of the remaining weights per round, with and without rewinding), ``at-init``
(random, magnitude, SNIP, GraSP, SynFlow, SBP-SI) and ``structured`` (greedy forward selection,
L1, random). Example::

    from tfprune import bench
    config = bench.make_config("at-init", "digits", "cnn", seeds=3)
    bench.run_sweep(config, "results/at-init", build_model, workers=2)
    bench.write_report("results/at-init")
"""

from tfprune.bench.report import write_report
from tfprune.bench.runs import PRESETS, Run, SweepConfig, make_config
from tfprune.bench.sweep import run_sweep

__all__ = ["PRESETS", "Run", "SweepConfig", "make_config", "run_sweep", "write_report"]
