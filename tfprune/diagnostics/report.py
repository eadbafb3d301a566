"""The markdown report of a sweep: the table, and the three case studies of Zhou et al. (ICML 2023).

1. Which way to move the temperature at each density (from I: increase; from II-A: decrease),
   with the evidence (mc, CKA) and whether that advice points towards the temperature that
   actually pruned best.
2. Model selection: which dense model (temperature) to prune. Compared: the best dense model,
   the regime-guided choice (the II-B cell with the largest CKA; without a II-B cell, the cell
   with the largest mc), and the best pruned accuracy in hindsight.
3. SAM: with ``rho`` as the temperature the same table tells which rho prunes best.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

from typing import Any

from tfprune.diagnostics.regimes import advice, direction


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def guided_choice(cells: list) -> dict:
    """The regime-guided cell among ``cells`` (one density): the II-B cell with the largest CKA,
    else the cell with the largest mc (ties: the lower temperature)."""
    ordered = sorted(cells, key=lambda c: c["temperature"])
    best_b = [c for c in ordered if c["regime"] == "II-B"]
    if best_b:
        return max(best_b, key=lambda c: c["cka"])
    return max(ordered, key=lambda c: c["mc"])


def advice_agrees(cell: dict, best_temperature: float) -> bool | None:
    """Whether the advice from ``cell`` moves its temperature towards ``best_temperature``
    (None when the cell is the best one)."""
    if cell["temperature"] == best_temperature:
        return None
    wanted = "increase" if best_temperature > cell["temperature"] else "decrease"
    return direction(cell["regime"]) == wanted


def _table(result: Any) -> list:
    name = result.temperature_name
    lines = [f"| {name} | density | pruned test acc. (2 seeds) | dense test acc. | mc | CKA | regime | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(result.records, key=lambda r: (r["temperature"], r["density"])):
        accs = ", ".join(_pct(a) for a in r["test_accuracies"])
        lines.append(f"| {r['temperature']:g} | {r['density']:g} | {_pct(r['test_accuracy'])} ({accs}) | "
                     f"{_pct(r['dense_test_accuracy'])} | {r['mc']:+.4f} | {r['cka']:.4f} | {r['regime']} | "
                     f"{r['seconds']:.1f} |")
    return lines


def _per_density(result: Any, density: float) -> tuple[list, dict]:
    cells = sorted((r for r in result.records if r["density"] == density), key=lambda r: r["temperature"])
    best = max(cells, key=lambda c: (c["test_accuracy"], -c["temperature"]))
    return cells, best


def _temperature_advice(result: Any) -> tuple[list, int, int]:
    lines, agree, total = [], 0, 0
    name = result.temperature_name
    for density in result.grid()[1]:
        cells, best = _per_density(result, density)
        lines.append(f"- **density {density:g}** (best pruned accuracy {_pct(best['test_accuracy'])} at "
                     f"{name} = {best['temperature']:g}):")
        for cell in cells:
            verdict = advice_agrees(cell, best["temperature"])
            if verdict is not None and direction(cell["regime"]) != "keep":
                total += 1
                agree += bool(verdict)
            check = {None: "best cell", True: "points towards the best", False: "points away from the best"}[verdict]
            if verdict is False and direction(cell["regime"]) == "keep":
                check = "says keep, but another temperature pruned better"
            lines.append(f"  - {name} = {cell['temperature']:g}: mc {cell['mc']:+.4f}, CKA {cell['cka']:.4f} -> "
                         f"{advice(cell['regime'], name)} ({check})")
    return lines, agree, total


def _model_selection(result: Any) -> list:
    name = result.temperature_name
    lines = [f"| density | best dense model ({name}) -> pruned acc. | regime-guided ({name}) -> pruned acc. | "
             f"best in hindsight ({name}) -> pruned acc. |", "|---|---|---|---|"]
    for density in result.grid()[1]:
        cells, best = _per_density(result, density)
        dense = max(cells, key=lambda c: (c["dense_test_accuracy"], -c["temperature"]))
        guided = guided_choice(cells)
        lines.append(f"| {density:g} | {dense['temperature']:g} -> {_pct(dense['test_accuracy'])} | "
                     f"{guided['temperature']:g} -> {_pct(guided['test_accuracy'])} | "
                     f"{best['temperature']:g} -> {_pct(best['test_accuracy'])} |")
    return lines


def markdown_report(result: Any) -> str:
    """The report of a :class:`~tfprune.diagnostics.sweep.SweepResult` as markdown."""
    t = result.thresholds
    seconds = sum(r["seconds"] for r in result.records)
    advice_lines, agree, total = _temperature_advice(result)
    lines = [
        "# Three-regime sweep",
        "",
        "Zhou, Yang, Chang, Mahoney, *A three-regime model of network pruning*, ICML 2023. Each cell: the dense "
        f"model trained at a {result.temperature_name}, pruned to a density, retrained twice (two seeds, same mask); "
        "mc is the mode connectivity of the two retrained models (training error, BatchNorm recomputed), CKA the "
        "linear CKA of their logits on training data.",
        "",
        f"Thresholds: regime I when mc < {t.mc:g}; otherwise II-A when CKA < {t.cka:g}; otherwise II-B.",
        f"Cells: {len(result.records)}; time in cells: {seconds:.0f} s (mean {seconds / max(1, len(result.records)):.1f} s "
        "per cell, dense training not included).",
        "",
        "![phase diagram](phase_diagram.png)",
        "",
        "## Cells",
        "",
        *_table(result),
        "",
        f"## Which way to move the {result.temperature_name}",
        "",
        (f"The advice of a cell in regime I or II-A pointed towards the best {result.temperature_name} of its "
         f"density in {agree} of {total} cases." if total else
         f"No cell is in regime I or II-A, so the advice is to keep the {result.temperature_name} everywhere; "
         "whether another value pruned better is noted per cell."),
        "",
        *advice_lines,
        "",
        "## Which dense model to prune",
        "",
        *_model_selection(result),
        "",
        "With SAM's rho as the temperature (`make_trainer(\"rho\", ...)`), the same table picks rho.",
        "",
    ]
    return "\n".join(lines)
