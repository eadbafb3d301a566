"""A benchmark measures the tfprune beside it, even where another copy is installed first on the path."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_shared_benchmark_helper_puts_this_checkout_first(tmp_path):
    other = tmp_path / "other" / "tfprune"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("raise ImportError('the other installed copy of tfprune')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "other"), os.path.join(ROOT, "benchmarks")])}
    for helper in ("_models", "_timing", "_report"):
        code = f"import {helper}, tfprune; print(tfprune.__file__)"
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == os.path.join(ROOT, "tfprune", "__init__.py"), helper
