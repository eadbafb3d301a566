"""The scripts in benchmarks/ as modules, for the tests of their helpers (benchmarks/ is not a package)."""

import importlib.util
import os

_BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def benchmark_module(name):
    """benchmarks/<name>.py, loaded as a module named ``name``."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(_BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
