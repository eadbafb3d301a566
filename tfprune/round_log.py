"""Per-round results of an iterative schedule: what the LAMP paper reports after each round.

Add :class:`RoundLog` to the callbacks of ``fit``; at the end of every round (the step before
the next pruning event, and the end of training for the last round) it records the round, the
step, the overall and per-weight sparsity, the training metrics of the epoch so far and,
optionally, an evaluation on ``eval_data``::

    log = tfprune.RoundLog(eval_data=splits.test)
    pruned.fit(splits.train, epochs=19, callbacks=tfprune.callbacks(pruned) + [log])
    for row in log.records:
        print(row["round"], row["sparsity"], row["eval"]["accuracy"])
"""

from __future__ import annotations

from typing import Any

from tfprune.backend import keras
from tfprune.pruning_callbacks import _layer_schedules, _pruning_step
from tfprune.summary import sparsity_summary


class RoundLog(keras.callbacks.Callback):
    """Records one row per pruning round in :attr:`records` (a list of dicts).

    Args:
      eval_data: optional data for ``model.evaluate`` at the end of each round (a dataset, or
        an ``(x, y)`` pair).
    """

    def __init__(self, eval_data: Any = None):
        super().__init__()
        self.eval_data = eval_data
        self.records: list[dict] = []

    def on_train_begin(self, logs=None):
        schedules = _layer_schedules(self.model)
        if not schedules:
            raise ValueError("RoundLog: the model has no tfprune pruning wrappers")
        events = next(iter(schedules.values())).schedule.pruning_steps()
        self._rounds = {step: i + 1 for i, step in enumerate(events)}
        self._round_end = {nxt - 1: i + 1 for i, nxt in enumerate(events[1:])}
        self._step = _pruning_step(self.model)
        self._current = max((r for s, r in self._rounds.items() if s <= self._step), default=0)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        self._current = self._rounds.get(self._step, self._current)
        if self._step in self._round_end:
            self._record(self._round_end[self._step], logs)

    def on_train_end(self, logs=None):
        if self._current and all(r["round"] != self._current for r in self.records):
            self._record(self._current, logs)

    def _record(self, round_number, logs):
        summary = sparsity_summary(self.model)
        row = {
            "round": round_number,
            "step": self._step,
            "sparsity": summary["total"]["sparsity"],
            "layers": {r["key"]: r["sparsity"] for r in summary["layers"]},
            "metrics": {k: float(v) for k, v in (logs or {}).items()},
        }
        if self.eval_data is not None:
            data = self.eval_data
            args = data if isinstance(data, tuple) else (data,)
            row["eval"] = {k: float(v) for k, v in self.model.evaluate(*args, verbose=0, return_dict=True).items()}
        self.records.append(row)

    def table(self) -> str:
        """The records as a Markdown table (round, step, sparsity, then the metrics)."""
        return round_table(self.records)


def round_table(records: list) -> str:
    """Rows of :attr:`RoundLog.records` as a Markdown table: round, step, overall sparsity, the
    metrics of the round's last epoch, then the evaluation (``eval ...``) when there is one."""
    names = sorted({k for r in records for k in r["metrics"]})
    evals = sorted({k for r in records for k in r.get("eval", {})})
    header = ["round", "step", "sparsity", *names, *(f"eval {k}" for k in evals)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in records:
        cells = [str(r["round"]), str(r["step"]), f"{r['sparsity']:.4f}"]
        cells += [f"{r['metrics'][k]:.4f}" if k in r["metrics"] else "" for k in names]
        cells += [f"{r['eval'][k]:.4f}" if k in r.get("eval", {}) else "" for k in evals]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = ["RoundLog", "round_table"]
