"""Uniform allocation: every prunable weight at the same sparsity (within one weight)."""

from tfprune.allocation import budget


def uniform(weights, sparsity):
    """Every layer at the same sparsity (within one weight)."""
    sparsity = budget.check_sparsity(sparsity)
    sizes = budget.sizes_of(budget.check_weights(weights, need_values=False))
    keep_total = budget.survivors(sum(sizes.values()), sparsity)
    targets = {k: n * (1.0 - sparsity) for k, n in sizes.items()}
    keep = budget.apportion(targets, keep_total, upper=sizes)
    return budget.to_sparsity(keep, sizes)
