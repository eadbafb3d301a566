"""The carryover-balanced run orders of the timing benchmarks (benchmarks/_timing.py)."""

import collections
import importlib.util
import os

import pytest

_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "_timing.py")


@pytest.fixture(scope="module")
def timing():
    spec = importlib.util.spec_from_file_location("_timing", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("n", range(1, 10))
def test_every_item_runs_in_every_position_and_after_every_other_item_equally_often(timing, n):
    items = [f"config {i}" for i in range(n)]
    orders = timing.balanced_orders(items)
    assert len(orders) == (n if n % 2 == 0 or n == 1 else 2 * n)
    assert all(sorted(order) == sorted(items) for order in orders)
    positions = collections.Counter((position, item) for order in orders for position, item in enumerate(order))
    assert set(positions.values()) == {len(orders) // n}
    assert len(positions) == n * n
    follows = collections.Counter(pair for order in orders for pair in zip(order, order[1:]))
    if n > 1:
        assert len(follows) == n * (n - 1)  # every ordered pair of distinct items
        assert set(follows.values()) == {len(orders) // n}


def test_a_rotation_fails_the_carryover_balance_the_orders_give(timing):
    # the check above is not vacuous: the plain rotation the benchmarks used before has an item always
    # follow the same one
    items = list("abcde")
    rotation = [items[r:] + items[:r] for r in range(len(items))]
    follows = collections.Counter(pair for order in rotation for pair in zip(order, order[1:]))
    assert len(follows) == len(items)  # only a->b, b->c, ... (each 4 times)
    balanced = collections.Counter(pair for order in timing.balanced_orders(items) for pair in zip(order, order[1:]))
    assert len(balanced) == 20


def test_the_first_order_keeps_the_items_order_for_two(timing):
    assert timing.balanced_orders(["dense", "pruned"]) == [["dense", "pruned"], ["pruned", "dense"]]
