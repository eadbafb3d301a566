"""Per-weight sparsity report of a wrapped or stripped model: as a dict and as text."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfprune import layers


def sparsity_summary(model: Any, exclude: Any = None) -> dict:
    """``{"layers": [...], "total": {...}, "collapsed": [...], "dense": [...]}``.

    ``layers`` has one row per prunable weight: ``{key, name, weight, shape, params, nonzeros,
    sparsity}`` (``name`` is the layer's path), counted as the weights are used (masked, for a
    wrapped model). ``collapsed`` lists layers left with no non-zero weight (they disconnect
    the network); ``dense`` the layers with weights that are not pruned, with the reason
    (:func:`tfprune.layers.dense_layers`).
    """
    rows = []
    for key, weight in layers.prunable(model, exclude).items():
        value = weight.value()
        params = int(value.size)
        nonzeros = int(np.count_nonzero(value))
        rows.append(
            {
                "key": key,
                "name": weight.path,
                "weight": weight.name,
                "shape": tuple(int(d) for d in value.shape),
                "params": params,
                "nonzeros": nonzeros,
                "sparsity": 1.0 - nonzeros / params,
            }
        )
    params = sum(r["params"] for r in rows)
    nonzeros = sum(r["nonzeros"] for r in rows)
    alive = {}
    for r in rows:
        alive[r["name"]] = alive.get(r["name"], 0) + r["nonzeros"]
    return {
        "layers": rows,
        "total": {"params": params, "nonzeros": nonzeros, "sparsity": 1.0 - nonzeros / params if params else 0.0},
        "collapsed": [name for name, count in alive.items() if count == 0],
        "dense": layers.dense_layers(model, exclude),
    }


def format_percent(fraction: float, nonzeros: int | None = None) -> str:
    """``fraction`` as a percentage with 2 decimals, or more when needed so that a weight with
    non-zeros left never shows as 100% (``nonzeros`` > 0) and an emptied one always does."""
    digits = 2
    text = f"{fraction:.{digits}%}"
    while nonzeros and text.startswith("100") and digits < 12:
        digits += 1
        text = f"{fraction:.{digits}%}"
    return text


def format_summary(summary: dict) -> str:
    """The summary as a fixed-width text table (and the layers left dense, with the reason)."""
    header = f"{'layer/weight':<36} {'shape':<20} {'params':>10} {'non-zeros':>10} {'sparsity':>9}"
    lines = [header, "-" * len(header)]
    for r in summary["layers"]:
        flag = "  <- collapsed" if r["nonzeros"] == 0 else ""
        lines.append(
            f"{r.get('key', r['name']):<36} {str(r['shape']):<20} {r['params']:>10} {r['nonzeros']:>10} "
            f"{format_percent(r['sparsity'], r['nonzeros']):>9}{flag}"
        )
    t = summary["total"]
    lines.append("-" * len(header))
    lines.append(f"{'total':<36} {'':<20} {t['params']:>10} {t['nonzeros']:>10} "
                 f"{format_percent(t['sparsity'], t['nonzeros']):>9}")
    dense = summary.get("dense") or []
    if dense:
        lines.append("")
        lines.append("left dense:")
        lines += [f"  {d['path']} ({d['type']}, {d['params']} params): {d['reason']}" for d in dense]
    return "\n".join(lines)
