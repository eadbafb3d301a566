"""Uniform+ allocation (Gale, Elsen, Hooker, "The state of sparsity in deep neural networks", 2019),
as used by the LAMP paper: the first layer is kept dense when it is a convolution, the last
layer is pruned to at most 80%, and the rest share one sparsity, raised so that the overall
target is still met. A target that cannot be met under those rules is an error.
"""

import math

from tfprune.allocation import budget

LAST_LAYER_MAX = 0.8


def uniform_plus(weights, sparsity):
    """Uniform, but first conv layer dense and last layer at most 80% sparse (Gale et al.)."""
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights, need_values=False)
    sizes = budget.sizes_of(weights)
    keys = list(sizes)
    total = sum(sizes.values())
    keep_total = budget.survivors(total, sparsity)
    pruned = total - keep_total
    first = keys[0] if len(keys) > 1 and len(weights[keys[0]].shape) >= 3 else None
    last = keys[-1] if len(keys) > 1 else None
    middle = [k for k in keys if k not in (first, last)]
    n_mid = sum(sizes[k] for k in middle)
    n_last = sizes[last] if last else 0
    s = pruned / (n_mid + n_last) if n_mid + n_last else 0.0
    if last and s > LAST_LAYER_MAX:
        s = (pruned - LAST_LAYER_MAX * n_last) / n_mid if n_mid else math.inf
    last_s = min(s, LAST_LAYER_MAX) if last else None
    if s >= 1.0:
        reachable = (n_mid + LAST_LAYER_MAX * n_last) / total
        raise ValueError(
            f"sparsity={sparsity!r}: unreachable with uniform+ (first conv dense, last layer at most "
            f"{LAST_LAYER_MAX:.0%}); on this model it must stay below {reachable:.4f}"
        )
    targets = {k: sizes[k] * (1.0 - s) for k in middle}
    lower, upper = {}, dict(sizes)
    if first:
        targets[first] = sizes[first]
        lower[first] = sizes[first]
    if last:
        targets[last] = sizes[last] * (1.0 - last_s)
        lower[last] = math.ceil(sizes[last] * (1.0 - LAST_LAYER_MAX) - 1e-9)
    keep = budget.apportion({k: targets[k] for k in keys}, keep_total, lower=lower, upper=upper)
    return budget.to_sparsity(keep, sizes)
