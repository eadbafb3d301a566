"""Global allocations by one threshold over per-layer scores: global magnitude and LAMP.

A score that is monotone in |w| inside each layer turns a global top-k into per-layer keep
counts, which TF-MOT's per-layer magnitude masks then execute exactly.

Tie rule: exactly ``survivors`` weights are kept. Scores strictly above the threshold are
kept; weights scoring exactly the threshold fill the remaining places in model (layer) order.
"""

import numpy as np

from tfprune.allocation import budget
from tfprune.allocation.lamp import sorted_lamp_scores


def _allocate(sorted_scores, keep_total):
    sizes = {k: s.size for k, s in sorted_scores.items()}
    total = sum(sizes.values())
    if keep_total >= total:
        return {k: 0.0 for k in sizes}
    if keep_total <= 0:
        return {k: 1.0 for k in sizes}
    everything = np.concatenate(list(sorted_scores.values()))
    threshold = np.partition(everything, total - keep_total)[total - keep_total]
    keep, ties = {}, {}
    for key, scores in sorted_scores.items():
        left = np.searchsorted(scores, threshold, side="left")
        right = np.searchsorted(scores, threshold, side="right")
        keep[key] = int(scores.size - right)
        ties[key] = int(right - left)
    missing = keep_total - sum(keep.values())
    for key in sorted_scores:
        take = min(missing, ties[key])
        keep[key] += take
        missing -= take
    return budget.to_sparsity(keep, sizes)


def global_magnitude(weights, sparsity):
    """One |w| threshold over all prunable weights (Han et al. 2015 style global pruning)."""
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights)
    scores = {k: np.sort(np.abs(w), axis=None) for k, w in weights.items()}
    return _allocate(scores, budget.survivors(sum(s.size for s in scores.values()), sparsity))


def lamp(weights, sparsity):
    """LAMP: one threshold over layer-normalised scores (Lee et al., ICLR 2021)."""
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights)
    scores = {k: sorted_lamp_scores(w) for k, w in weights.items()}
    return _allocate(scores, budget.survivors(sum(s.size for s in scores.values()), sparsity))
