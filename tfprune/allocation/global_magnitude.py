"""Global magnitude allocation: one |w| threshold over all prunable weights (Han et al. 2015)."""

import numpy as np

from tfprune.allocation import budget
from tfprune.allocation._ranked import allocate_by_threshold


def global_magnitude(weights, sparsity):
    """One |w| threshold over all prunable weights (Han et al. 2015 style global pruning)."""
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights)
    scores = {k: np.sort(np.abs(np.asarray(w, dtype=np.float32)), axis=None) for k, w in weights.items()}
    return allocate_by_threshold(scores, budget.survivors(sum(s.size for s in scores.values()), sparsity))
