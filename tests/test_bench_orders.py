"""The carryover-balanced run orders of the timing benchmarks (benchmarks/_timing.py)."""

import collections

import pytest

from benchmark_scripts import benchmark_module


@pytest.fixture(scope="module")
def timing():
    return benchmark_module("_timing")


def is_balanced(orders, items):
    """Every order a permutation of ``items``; every item in every position equally often; every
    ordered pair of distinct items adjacent (within an order) equally often."""
    n = len(items)
    if not orders or any(sorted(order) != sorted(items) for order in orders):
        return False
    positions = collections.Counter((position, item) for order in orders for position, item in enumerate(order))
    follows = collections.Counter(pair for order in orders for pair in zip(order, order[1:]))
    times = len(orders) // n
    return (len(orders) % n == 0 and len(positions) == n * n and set(positions.values()) == {times}
            and (n == 1 or (len(follows) == n * (n - 1) and set(follows.values()) == {times})))


@pytest.mark.parametrize("n", range(1, 10))
def test_every_item_runs_in_every_position_and_after_every_other_item_equally_often(timing, n):
    items = [f"config {i}" for i in range(n)]
    orders = timing.balanced_orders(items)
    assert len(orders) == (n if n % 2 == 0 or n == 1 else 2 * n)  # the shortest balanced cycle
    assert is_balanced(orders, items)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_the_check_rejects_a_rotation_and_an_incomplete_cycle(timing, n):
    items = list(range(n))
    rotation = [items[r:] + items[:r] for r in range(n)]  # every position, but i always after i - 1
    assert not is_balanced(rotation, items)
    assert not is_balanced(timing.balanced_orders(items)[:-1], items)


def test_two_items_alternate(timing):
    assert timing.balanced_orders(["dense", "pruned"]) == [["dense", "pruned"], ["pruned", "dense"]]


@pytest.mark.parametrize("n", [4, 5])
def test_successive_processes_take_the_orders_of_one_cycle_then_start_again(timing, n):
    items = list(range(n))
    cycle = timing.balanced_orders(items)
    assert [timing.cycle_order(items, index) for index in range(2 * len(cycle))] == cycle + cycle
    for position in range(n):  # so, over one cycle, every item is built in every position equally often
        counts = collections.Counter(timing.cycle_order(items, index)[position] for index in range(len(cycle)))
        assert set(counts) == set(items) and set(counts.values()) == {len(cycle) // n}
