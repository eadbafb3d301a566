"""Uniform+ allocation (Gale, Elsen, Hooker, "The state of sparsity in deep neural networks", 2019),
as used by the LAMP paper: the first layer is kept dense when it is a convolution, the last
layer keeps at least ``round(0.2 * n)`` of its ``n`` weights (the LAMP code's
``np.round(n * 0.2)``, so it is pruned to about 80% at most), and the rest share one sparsity,
raised so that the overall target is still met. A target that cannot be met under those rules is
an error.
"""

from tfprune.allocation import budget

LAST_LAYER_MAX = 0.8


def last_layer_minimum(size):
    """Weights the last layer keeps at least: ``round(0.2 * size)``, as in the LAMP code."""
    return int(round(size * (1.0 - LAST_LAYER_MAX)))


def uniform_plus(weights, sparsity):
    """Uniform, but first conv layer dense and last layer keeping round(20%) (Gale et al.).

    On weights pruned before (zeros), the layers prune the same fraction of their surviving
    weights and the first convolution keeps all of its survivors, as the LAMP code does at
    each round.
    """
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights, need_values=False)
    sizes = budget.sizes_of(weights)
    keys = list(sizes)
    total = sum(sizes.values())
    keep_total = budget.survivors(total, sparsity)
    alive = budget.alive_of(weights, keep_total)
    first = keys[0] if len(keys) > 1 and len(weights[keys[0]].shape) >= 3 else None
    last = keys[-1] if len(keys) > 1 else None
    middle = [k for k in keys if k not in (first, last)]
    pruned = sum(alive.values()) - keep_total
    n_mid = sum(alive[k] for k in middle)
    n_last = alive[last] if last else 0
    last_min = min(last_layer_minimum(sizes[last]), n_last) if last else 0
    s = pruned / (n_mid + n_last) if n_mid + n_last else 0.0
    targets = {}
    if last and round(n_last * (1.0 - s)) < last_min:  # the last layer is held at its minimum
        targets[last] = last_min
        s = (pruned - (n_last - last_min)) / n_mid if n_mid else 1.0
    elif last:
        targets[last] = n_last * (1.0 - s)
    if s >= 1.0:
        reachable = (n_mid + n_last - last_min) / total
        raise ValueError(
            f"sparsity={sparsity!r}: unreachable with uniform+ (first conv dense, last layer keeping "
            f"round({1 - LAST_LAYER_MAX:.1f} n) = {last_min} weights); on this model it must stay below "
            f"{reachable:.4f}"
        )
    targets.update({k: alive[k] * (1.0 - s) for k in middle})
    lower, upper = {}, dict(alive)
    if first:
        targets[first] = alive[first]
        lower[first] = alive[first]
    if last:
        lower[last] = last_min
    keep = budget.apportion({k: targets[k] for k in keys}, keep_total, lower=lower, upper=upper)
    return budget.to_sparsity(keep, sizes)
