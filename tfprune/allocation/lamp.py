"""LAMP scores (Lee, Park, Mo, Ahn, Shin, "Layer-adaptive sparsity for the magnitude-based
pruning", ICLR 2021, arXiv 2010.07611): the scores and the allocation.

With the weights of one layer sorted so that |w[1]| <= ... <= |w[n]|::

    score(u) = w[u]^2 / sum_{v >= u} w[v]^2

The largest weight of every layer scores exactly 1, so a global LAMP threshold never empties
a layer (while at least one weight per layer survives). Already-pruned (zero) entries score 0.
"""

import numpy as np

from tfprune.allocation import budget
from tfprune.allocation._ranked import allocate_by_threshold


def sorted_lamp_scores(weight):
    """LAMP scores of one layer in ascending-|w| order (non-decreasing), as float64."""
    squares = np.square(np.asarray(weight, dtype=np.float32)).reshape(-1)
    squares.sort()
    tail = np.cumsum(squares[::-1], dtype=np.float64)[::-1]
    if squares.size == 0 or tail[0] == 0.0:
        return np.zeros(squares.size, dtype=np.float64)
    # tail[-1] is the largest square > 0, so every tail entry is positive
    return np.divide(squares, tail, out=tail)


def lamp_scores(weight):
    """LAMP score of every entry of ``weight``, in the weight's own shape.

    Equal magnitudes get distinct scores by their position in a stable sort (row-major
    order); this never changes how many weights of a layer survive.
    """
    weight = np.asarray(weight)
    order = np.argsort(np.square(weight.astype(np.float32)), axis=None, kind="stable")
    scores = np.empty(weight.size, dtype=np.float64)
    scores[order] = sorted_lamp_scores(weight.reshape(-1)[order])
    return scores.reshape(weight.shape)


def lamp(weights, sparsity):
    """LAMP: one threshold over layer-normalised scores (Lee et al., ICLR 2021)."""
    sparsity = budget.check_sparsity(sparsity)
    weights = budget.check_weights(weights)
    scores = {k: sorted_lamp_scores(w) for k, w in weights.items()}
    return allocate_by_threshold(scores, budget.survivors(sum(s.size for s in scores.values()), sparsity))
