"""Timing helpers the benchmarks share."""

import time

import _checkout  # noqa: F401  (this checkout first on the path)
from tfprune.backend import keras


class StepTimes(keras.callbacks.Callback):
    """Wall time of each training step, from the batch's start to its loss being ready (a wait on
    asynchronous devices). Put it first in ``callbacks`` so that the batch hooks of the callbacks
    after it (a pruning callback's reallocation, say) count in the step they precede."""

    def __init__(self):
        super().__init__()
        self._supports_tf_logs = True
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])
        self.times.append(time.perf_counter() - self._start)


def balanced_orders(items):
    """Orders for interleaved runs of ``items`` that balance first-order carryover (Williams 1949): over
    a whole cycle of orders, every item runs in every position equally often, and, within the orders,
    every item directly follows every other item equally often (len(items) orders for an even count,
    twice that for an odd one). Use order ``r % len(orders)`` in round ``r``; the balance is exact over
    whole cycles (a number of rounds that is a multiple of the cycle), and the step from one order to the
    next is not balanced. A plain rotation gives the positions only: there an item always follows the
    same one, so a carryover (a cache, a clock, memory left by the previous run) lands on one item alone."""
    items = list(items)
    n = len(items)
    # the first row of a Williams square: 0, 1, n-1, 2, n-2, ...; row r adds r to every entry (mod n)
    first = [0] + [(j + 1) // 2 if j % 2 else n - j // 2 for j in range(1, n)]
    rows = [[(f + r) % n for f in first] for r in range(n)]
    if n % 2 and n > 1:
        rows += [list(reversed(row)) for row in rows]
    return [[items[i] for i in row] for row in rows]


def cycle_order(items, index):
    """Order ``index`` of the cycle of :func:`balanced_orders` of ``items``, counting on into the next
    cycle past its end: the order in which run (or process) ``index`` of several takes the items."""
    orders = balanced_orders(items)
    return orders[index % len(orders)]
