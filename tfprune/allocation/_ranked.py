"""One threshold over per-layer scores, as exact per-layer keep counts (global magnitude, LAMP).

A score that is monotone in |w| inside each layer turns a global top-k into per-layer keep
counts, which TF-MOT's per-layer magnitude masks then execute exactly.

Tie rule: exactly ``survivors`` weights are kept. Scores strictly above the threshold are
kept; weights scoring exactly the threshold fill the remaining places in model (layer) order.
"""

import numpy as np

from tfprune.allocation import budget

def kth_largest(sorted_scores, k):
    """The k-th largest value over several ascending arrays of non-negative floats.

    Exact: bisects on the floats' bit patterns (monotone for non-negative IEEE floats),
    counting with one ``searchsorted`` per layer -- no concatenation, no global sort.
    """
    arrays = list(sorted_scores.values())
    dtype = arrays[0].dtype
    bits = np.dtype(f"int{dtype.itemsize * 8}")
    low = int(np.array(0, dtype).view(bits))  # count(>= 0) = everything >= k
    high = int(np.array(max(a[-1] for a in arrays), dtype).view(bits))
    while low < high:
        middle = (low + high + 1) // 2
        value = np.array(middle, bits).view(dtype)
        if sum(a.size - np.searchsorted(a, value, side="left") for a in arrays) >= k:
            low = middle
        else:
            high = middle - 1
    return np.array(low, bits).view(dtype)


def allocate_by_threshold(sorted_scores, keep_total):
    """{key: sparsity} keeping the ``keep_total`` best of ascending per-layer ``sorted_scores``."""
    sizes = {k: s.size for k, s in sorted_scores.items()}
    total = sum(sizes.values())
    if keep_total >= total:
        return {k: 0.0 for k in sizes}
    if keep_total <= 0:
        return {k: 1.0 for k in sizes}
    threshold = kth_largest(sorted_scores, keep_total)
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
