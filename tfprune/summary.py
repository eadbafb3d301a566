"""Per-layer sparsity report of a wrapped or stripped model: as a dict and as text."""

import numpy as np

from tfprune import targets


def sparsity_summary(model, exclude=None):
    """{"layers": [{name, weight, shape, params, nonzeros, sparsity}], "total": {...}, "collapsed": [...]}.

    Counts the prunable weights as they are used (masked, for a wrapped model).
    ``collapsed`` lists layers left with no non-zero weight (they disconnect the network).
    """
    rows = []
    for key, value in targets.prunable_weights(model, exclude).items():
        params = int(value.size)
        nonzeros = int(np.count_nonzero(value))
        name, weight = key.split("/")
        rows.append(
            {
                "name": name,
                "weight": weight,
                "shape": tuple(int(d) for d in value.shape),
                "params": params,
                "nonzeros": nonzeros,
                "sparsity": 1.0 - nonzeros / params,
            }
        )
    params = sum(r["params"] for r in rows)
    nonzeros = sum(r["nonzeros"] for r in rows)
    return {
        "layers": rows,
        "total": {"params": params, "nonzeros": nonzeros, "sparsity": 1.0 - nonzeros / params if params else 0.0},
        "collapsed": [r["name"] for r in rows if r["nonzeros"] == 0],
    }


def format_summary(summary):
    """The summary as a fixed-width text table."""
    header = f"{'layer':<28} {'shape':<20} {'params':>10} {'non-zeros':>10} {'sparsity':>9}"
    lines = [header, "-" * len(header)]
    for r in summary["layers"]:
        flag = "  <- collapsed" if r["nonzeros"] == 0 else ""
        lines.append(
            f"{r['name']:<28} {str(r['shape']):<20} {r['params']:>10} {r['nonzeros']:>10} {r['sparsity']:>9.2%}{flag}"
        )
    t = summary["total"]
    lines.append("-" * len(header))
    lines.append(f"{'total':<28} {'':<20} {t['params']:>10} {t['nonzeros']:>10} {t['sparsity']:>9.2%}")
    return "\n".join(lines)
