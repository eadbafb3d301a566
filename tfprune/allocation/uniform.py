"""Uniform allocation: every prunable weight at the same sparsity (within one weight)."""

from tfprune.allocation import budget


def uniform(weights, sparsity):
    """Every layer at the same sparsity (within one weight).

    On weights pruned before (zeros), every layer removes the same fraction of its surviving
    weights, as the LAMP paper's code does at each round.
    """
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights, need_values=False)
    sizes = budget.sizes_of(weights)
    keep_total = budget.survivors(sum(sizes.values()), sparsity)
    alive = budget.alive_of(weights, keep_total)
    fraction = keep_total / sum(alive.values())
    keep = budget.apportion({k: n * fraction for k, n in alive.items()}, keep_total, upper=alive)
    return budget.to_sparsity(keep, sizes)
