"""Per-layer sparsity from one global target: ``{key: array}, sparsity -> {key: sparsity}``.

Methods: ``lamp`` (Lee et al. 2021), ``global`` (global magnitude), ``uniform``,
``uniform+`` (Gale et al. 2019) and ``erk`` (Evci et al. 2020), in :data:`ALLOCATIONS`. All
are pure NumPy functions; :func:`allocate` adds fixed per-layer overrides on top of any of them.

Facts every entry carries (read by ``prune``, ``prune_at_init``, the CLI and the tuner):

* ``uses_values``: reads the weights' values (else only their shapes);
* ``adaptive``: depends on the current weights' values, so it is recomputed before every
  pruning step even with ``tfprune.prune(..., reallocate=False)`` (every allocation is
  recomputed on the surviving weights by default).

A new allocation is one file plus one registration::

    @tfprune.allocation.register("half-half", uses_values=False)
    def half_half(weights, sparsity): ...
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping

from tfprune.allocation import budget
from tfprune.allocation.erk import erk, erk_densities
from tfprune.allocation.global_magnitude import global_magnitude
from tfprune.allocation.lamp import lamp, lamp_scores
from tfprune.allocation.uniform import uniform
from tfprune.allocation.uniform_plus import uniform_plus
from tfprune.registry import Entry, Registry

#: Every allocation, with its facts.
ALLOCATIONS = Registry("allocation", "allocation", {"uses_values": True, "adaptive": False})
ALLOCATIONS.register("lamp", lamp, uses_values=True, adaptive=True)
ALLOCATIONS.register("global", global_magnitude, uses_values=True, adaptive=True)
ALLOCATIONS.register("uniform", uniform, uses_values=False)
ALLOCATIONS.register("uniform+", uniform_plus, uses_values=False)
ALLOCATIONS.register("erk", erk, uses_values=False)

register = ALLOCATIONS.register


def get(method: str | Callable) -> Callable:
    """The allocation function for a name or a function; a clear error listing the choices otherwise."""
    return ALLOCATIONS.resolve(method).load()


def entry(method: str | Callable) -> Entry:
    """The registry entry (function and facts) of a name or a function (unregistered: default facts)."""
    return ALLOCATIONS.resolve(method)


def override_key(name: str, keys: list[str], layer_of: Mapping[str, str] | None = None) -> str:
    """The weight key an override names: a key itself, or a layer name (its first prunable weight).

    ``layer_of`` maps each key to its layer's name (default: the part before the last "/").
    """
    if name in keys:
        return name
    layer_of = layer_of or {k: k.rpartition("/")[0] for k in keys}
    matches = [k for k in keys if layer_of[k] == name]
    if not matches:
        raise ValueError(
            f"overrides: no prunable layer named {name!r}; prunable layers are "
            f"{list(dict.fromkeys(layer_of[k] for k in keys))}"
        )
    return matches[0]


class EmptyLayerWarning(UserWarning):
    """An allocation leaves a weight with no entry at all (the layer is cut off)."""


def warn_empty(method: str | Callable, per_weight: Mapping[str, float], sizes: Mapping[str, int],
               sparsity: float) -> Mapping[str, float]:
    """Warn (:class:`EmptyLayerWarning`) when ``per_weight`` ({key: sparsity}, from allocation
    ``method`` at overall ``sparsity``) keeps no entry of some weight of ``sizes`` ({key: size})."""
    empty = [k for k, s in per_weight.items() if budget.survivors(sizes[k], s) == 0]
    if empty:
        name = method if isinstance(method, str) else getattr(method, "__name__", repr(method))
        kept = sum(budget.survivors(sizes[k], s) for k, s in per_weight.items())
        warnings.warn(
            f"sparsity={sparsity!r} with allocation {name!r} leaves no weight in {len(empty)} of "
            f"{len(per_weight)} weights ({', '.join(empty)}; {kept} of {sum(sizes.values())} weights kept in "
            "all): an emptied layer cuts the network; lower the sparsity",
            EmptyLayerWarning,
            stacklevel=3,
        )
    return per_weight


def allocate(method: str | Callable, weights: Mapping[str, Any], sparsity: float,
             overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Per-layer sparsities for ``weights`` ({key: array}) at overall ``sparsity``.

    ``overrides`` fixes some layers ({layer name or key: sparsity}); the method spreads the
    rest of the budget over the other layers so that the overall target still holds.

    Example::

        allocate("lamp", {"a/kernel": np.ones((4, 4)), "b/kernel": np.ones((4, 2))}, 0.5)
    """
    found = entry(method)
    fn = found.load()
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights, need_values=found.uses_values)
    sizes = budget.sizes_of(weights)
    if overrides is not None and not callable(getattr(overrides, "items", None)):  # a dict, or tracked dict
        raise TypeError(f"overrides={overrides!r}: expected a mapping {{layer name or key: sparsity}}")
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
        kept = sum(keep_fixed.values())
        why = (f"the fixed layers alone keep {kept} weights, more than the {keep_total} the target keeps in all"
               if pool and pool_keep < 0 else
               "no other layer is left to prune" if not pool else
               f"the other layers would keep {pool_keep} of their {pool_size} weights")
        raise ValueError(
            f"overrides={dict(overrides)!r}: with these layers fixed, sparsity={sparsity!r} cannot be "
            f"reached by the other layers ({why})"
        )
    result = dict(fn(pool, 1.0 - pool_keep / pool_size))
    result.update(budget.to_sparsity(keep_fixed, sizes))
    return {k: result[k] for k in weights}


__all__ = [
    "ALLOCATIONS",
    "EmptyLayerWarning",
    "allocate",
    "budget",
    "entry",
    "erk",
    "erk_densities",
    "get",
    "global_magnitude",
    "lamp",
    "lamp_scores",
    "override_key",
    "warn_empty",
    "register",
    "uniform",
    "uniform_plus",
]
