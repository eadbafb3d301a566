"""The input-output path count behind the "on a path" figures of benchmarks/study_at_init_999.py."""

import numpy as np
import pytest

from benchmark_scripts import benchmark_module


@pytest.fixture(scope="module")
def path_counts():
    return benchmark_module("study_at_init_999").path_counts


def test_dead_ends_are_not_counted(path_counts):
    # 3 inputs -> 2 -> 2 -> 1 output. One path: in0 -> h0 -> g1 -> out. The weight in2 -> h1 feeds
    # a unit with no outgoing weight and g0 -> out is fed by nothing: neither is on a path.
    first = np.array([[1, 0], [0, 0], [0, 1]])
    second = np.array([[0, 1], [0, 0]])
    third = np.array([[1], [1]])
    assert path_counts([first, second, third]) == [1, 1, 1]


def test_no_path_gives_zero_everywhere(path_counts):
    first = np.array([[1, 0], [0, 1]])
    second = np.array([[0, 0], [1, 0]])  # h1 -> g0
    third = np.array([[0], [1]])  # only g1 reaches the output
    assert path_counts([first, second, third]) == [0, 0, 0]


def test_dense_chain_keeps_every_weight(path_counts):
    masks = [np.ones((4, 3)), np.full((3, 5), 0.7), np.ones((5, 2))]
    assert path_counts(masks) == [12, 15, 10]
