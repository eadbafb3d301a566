"""Per-layer sparsity from one global target: ``{key: array} , sparsity -> {key: sparsity}``.

Methods: ``lamp`` (Lee et al. 2021), ``global`` (global magnitude), ``uniform``,
``uniform+`` (Gale et al. 2019) and ``erk`` (Evci et al. 2020). All are pure functions;
``allocate`` adds fixed per-layer overrides on top of any of them.
"""

from tfprune.allocation import budget
from tfprune.allocation.erk import erk, erk_densities
from tfprune.allocation.lamp import lamp_scores
from tfprune.allocation.ranked import global_magnitude, lamp
from tfprune.allocation.uniform import uniform, uniform_plus

ALLOCATIONS = {
    "lamp": lamp,
    "global": global_magnitude,
    "uniform": uniform,
    "uniform+": uniform_plus,
    "erk": erk,
}
#: Allocations recomputed from the current weights at every pruning step.
ADAPTIVE = frozenset({"lamp", "global"})


def get(method):
    """The allocation function called ``method``; a clear error listing the choices otherwise."""
    if callable(method):
        return method
    if method not in ALLOCATIONS:
        raise ValueError(f"allocation={method!r}: unknown; choose one of {sorted(ALLOCATIONS)}")
    return ALLOCATIONS[method]


def override_key(name, keys):
    """The weight key an override names: a key itself, or a layer name."""
    if name in keys:
        return name
    matches = [k for k in keys if k.split("/")[0] == name]
    if not matches:
        raise ValueError(
            f"overrides: no prunable layer named {name!r}; prunable layers are {[k.split('/')[0] for k in keys]}"
        )
    return matches[0]


def allocate(method, weights, sparsity, overrides=None):
    """Per-layer sparsities for ``weights`` ({key: array}) at overall ``sparsity``.

    ``overrides`` fixes some layers ({layer name or key: sparsity}); the method spreads the
    rest of the budget over the other layers so that the overall target still holds.
    """
    fn = get(method)
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights, need_values=fn in (lamp, global_magnitude))
    sizes = {k: int(w.size) if hasattr(w, "size") else int(w.shape.num_elements()) for k, w in weights.items()}
    fixed = {}
    for name, value in (overrides or {}).items():
        key = override_key(name, list(weights))
        fixed[key] = budget.check_sparsity(value, f"overrides[{name!r}]")
    if not fixed:
        return fn(weights, sparsity)
    keep_fixed = {k: budget.survivors(sizes[k], s) for k, s in fixed.items()}
    pool = {k: w for k, w in weights.items() if k not in fixed}
    keep_total = budget.survivors(sum(sizes.values()), sparsity)
    pool_size = sum(sizes[k] for k in pool)
    pool_keep = keep_total - sum(keep_fixed.values())
    if not pool or not 0 < pool_keep <= pool_size:
        raise ValueError(
            f"overrides={dict(overrides)!r}: with these layers fixed, sparsity={sparsity!r} cannot be "
            f"reached by the other layers ({pool_keep} of {pool_size} weights would have to stay)"
        )
    result = dict(fn(pool, 1.0 - pool_keep / pool_size))
    result.update(budget.to_sparsity(keep_fixed, sizes))
    return {k: result[k] for k in weights}
