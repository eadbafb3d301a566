"""benchmarks/gpu_check.py without a GPU: its checks (the guard and the exact final sparsity under
jit_compile=True, LAMP on ResNet-50 shapes) hold on the CPU, and with no GPU visible it says so
and exits 0."""

import os

import pytest

from benchmark_scripts import benchmark_module
from tfprune.backend import tf
from tfprune.training_guard import MISSING_CALLBACKS


@pytest.fixture(scope="module")
def gpu_check():
    return benchmark_module("gpu_check")


@pytest.fixture(autouse=True)
def scripts_on_the_path(monkeypatch):
    """gpu_check imports bench_scale and bench_lamp_allocation when it runs, as a script does."""
    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                             "benchmarks"))


def test_training_under_xla_without_the_callbacks_raises_and_with_them_ends_exactly_at_the_target(gpu_check):
    guard, target, reached, params = gpu_check.guard_and_sparsity_under_xla(20)
    assert guard == MISSING_CALLBACKS
    assert target == 0.9 and params == 71_568  # the digits CNN's prunable weights
    assert abs(reached - target) <= 1.0 / params


def test_lamp_is_timed_on_resnet50_shapes_of_about_the_asked_size(gpu_check):
    weights, t_sort, t_lamp = gpu_check.lamp_time(200_000, 1)
    assert abs(weights - 200_000) / 200_000 < 0.05 and t_sort > 0 and t_lamp > 0


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="a GPU is visible: the script would run")
def test_with_no_gpu_it_says_so_and_exits_0(gpu_check, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["gpu_check.py"])
    assert gpu_check.main() == 0
    assert "no GPU visible to TensorFlow; nothing to check (exit 0)" in capsys.readouterr().out
