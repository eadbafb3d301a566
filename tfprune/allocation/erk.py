"""Erdos-Renyi-Kernel allocation (Evci et al., "Rigging the lottery", ICML 2020).

Raw density of a layer with kernel shape (k_1, ..., k_m): p_l = sum(shape) / prod(shape);
for a conv (kh+kw+cin+cout)/(kh*kw*cin*cout), for a dense layer (nin+nout)/(nin*nout).
Find eps with sum_l eps * p_l * N_l = (1 - S) * sum_l N_l. A layer with eps * p_l > 1 is made
dense and eps is solved again over the rest, until no layer exceeds density 1.
"""

import numpy as np

from tfprune.allocation import budget


def erk_densities(shapes, sparsity):
    """Float densities {key: d_l} of ERK for {key: shape} at overall ``sparsity`` (closed form)."""
    sizes = {k: int(np.prod(s)) for k, s in shapes.items()}
    raw = {k: float(np.sum(s)) / sizes[k] for k, s in shapes.items()}
    keep_total = (1.0 - sparsity) * sum(sizes.values())
    dense, eps = set(), 0.0
    while True:
        rest = [k for k in shapes if k not in dense]
        if not rest:
            break
        budget_left = keep_total - sum(sizes[k] for k in dense)
        eps = budget_left / sum(raw[k] * sizes[k] for k in rest)
        over = {k for k in rest if eps * raw[k] > 1.0}
        if not over:
            break
        dense |= over
    return {k: 1.0 if k in dense else min(1.0, eps * raw[k]) for k in shapes}


def erk_survivors(shapes, alive, keep_total):
    """Float survivors {key: n_l}: proportional to ``sum(shape_l)``, capped at ``alive[key]``
    (a capped layer keeps all it has, and the rest is solved again), summing to ``keep_total``."""
    capped = set()
    while True:
        rest = [k for k in shapes if k not in capped]
        room = keep_total - sum(alive[k] for k in capped)
        eps = room / sum(float(np.sum(shapes[k])) for k in rest) if rest else 0.0
        over = {k for k in rest if eps * float(np.sum(shapes[k])) > alive[k]}
        if not over:
            return {k: float(alive[k]) if k in capped else eps * float(np.sum(shapes[k])) for k in shapes}
        capped |= over


def erk(weights, sparsity):
    """ERK allocation as {key: sparsity}, exact total via largest-remainder rounding.

    On weights pruned before (zeros), the survivors are spread in proportion to ``sum(shape)``
    and capped at each layer's surviving weights, as the LAMP paper's code does at each round.
    """
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights, need_values=False)
    shapes = {k: tuple(int(d) for d in w.shape) for k, w in weights.items()}
    sizes = budget.sizes_of(weights)
    keep_total = budget.survivors(sum(sizes.values()), sparsity)
    alive = budget.alive_of(weights, keep_total)
    keep = budget.apportion(erk_survivors(shapes, alive, keep_total), keep_total, upper=alive)
    return budget.to_sparsity(keep, sizes)
