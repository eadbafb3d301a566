"""PNG figures of the diagnostics: the connectivity curve and the phase diagram (Zhou et al. 2023).

Drawn with matplotlib's object API (no pyplot, no global backend change) and written atomically.
"""

from __future__ import annotations

import io as _bytes
from typing import Any, Sequence

from tfprune import io

#: Regime label -> colour of the phase diagram.
COLOURS = {"I": "#d62728", "II-A": "#ff7f0e", "II-B": "#2ca02c"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str) -> str:
    if not isinstance(path, str) or not path.lower().endswith(".png"):
        raise ValueError(f"path={path!r}: expected a file name ending in .png")
    buffer = _bytes.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    io.write_bytes(path, buffer.getvalue())
    return path


def plot_connectivity(result: Any, path: str, title: str | None = None) -> str:
    """Training error (and loss, right axis) along the path of a ``ConnectivityResult``; returns ``path``."""
    for field in ("t", "errors", "losses", "mc", "t_star"):
        if not hasattr(result, field):
            raise TypeError(f"result={type(result).__name__}: expected a ConnectivityResult "
                            "(from tfprune.diagnostics.mode_connectivity)")
    figure = _figure(5.0, 3.4)
    axes = figure.add_subplot()
    axes.plot(result.t, result.errors, "o-", color="#1f77b4", label="training error")
    axes.axhline((result.errors[0] + result.errors[-1]) / 2, color="grey", ls=":", label="mean of end points")
    axes.axvline(result.t_star, color="#d62728", ls="--", lw=0.8, label=f"t* = {result.t_star:.2f}")
    axes.set_xlabel("t (0: model A, 1: model B)")
    axes.set_ylabel("training error")
    right = axes.twinx()
    right.plot(result.t, result.losses, "s--", color="#7f7f7f", ms=3, label="loss")
    right.set_ylabel("loss")
    axes.legend(loc="upper left", fontsize=7)
    axes.set_title(title or f"mode connectivity: mc = {result.mc:+.4f}")
    return _save(figure, path)


def plot_phase_diagram(cells: Sequence[dict], path: str, temperature_name: str = "temperature",
                       title: str | None = None) -> str:
    """Temperature x density grid coloured by regime, each cell annotated with the pruned test
    accuracy (and mc / CKA); ``cells`` are sweep records. Returns ``path``."""
    from matplotlib.patches import Patch

    if not cells:
        raise ValueError("cells: empty; nothing to draw")
    temperatures = sorted({c["temperature"] for c in cells})
    densities = sorted({c["density"] for c in cells})
    figure = _figure(1.3 * len(densities) + 1.8, 0.9 * len(temperatures) + 1.4)
    axes = figure.add_subplot()
    for cell in cells:
        col, row = densities.index(cell["density"]), temperatures.index(cell["temperature"])
        axes.add_patch(_rectangle(col, row, COLOURS.get(cell["regime"], "#cccccc")))
        axes.text(col, row, f"{100 * cell['test_accuracy']:.1f}%\nmc {cell['mc']:+.3f}\ncka {cell['cka']:.3f}",
                  ha="center", va="center", fontsize=7)
    axes.set_xlim(-0.5, len(densities) - 0.5)
    axes.set_ylim(-0.5, len(temperatures) - 0.5)
    axes.set_xticks(range(len(densities)), [f"{d:g}" for d in densities])
    axes.set_yticks(range(len(temperatures)), [f"{t:g}" for t in temperatures])
    axes.set_xlabel("density (fraction of weights kept; load: low density = high load)")
    axes.set_ylabel(temperature_name)
    axes.legend(handles=[Patch(color=c, label=f"regime {r}") for r, c in COLOURS.items()],
                loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7)
    axes.set_title(title or "three-regime phase diagram (cell: pruned test accuracy)", fontsize=9)
    return _save(figure, path)


def _rectangle(col: int, row: int, colour: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((col - 0.5, row - 0.5), 1, 1, color=colour, alpha=0.55)
