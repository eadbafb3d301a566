"""The scripts in benchmarks/ as modules, for the tests of their helpers (benchmarks/ is not a package)."""

import importlib.util
import os
import sys

_BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def benchmark_module(name):
    """benchmarks/<name>.py, loaded as a module named ``name``; the scripts it imports (``_report``,
    ``bench_scale``, ...) are found in benchmarks/, as when it runs as a script."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(_BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, _BENCHMARKS)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(_BENCHMARKS)
    return module
