"""Pruning at initialisation: scores -> masks -> a wrapped model whose masks stay frozen.

``prune_at_init(model, sparsity, score=..., allocation=..., data=...)`` scores the untrained
model with a scorer of :data:`tfprune.scoring.SCORERS` (SNIP, GraSP, SynFlow, magnitude,
random, or the SBP-SI pipeline of Hayou et al.), turns the scores into masks with an exact
survivor count (:func:`tfprune.score_masks.select_masks`), and wraps the model with a
:class:`~tfprune.schedules.OneShot` schedule (no pruning event during training, so TF-MOT never
recomputes a mask) whose mask variables hold those masks. Train it with
``callbacks=tfprune.callbacks(model)`` and unwrap it with :func:`tfprune.strip`.

What the pipeline does for a scorer is read from its registry facts: ``init`` (an initialiser
applied to the working copy first, e.g. SBP-SI's Edge of Chaos), ``rescale`` (the default of
``rescale=``), ``seeded``, ``needs_data``, ``prunes_largest`` and ``runner`` (SynFlow ranks
inside its own iterative loop: with ``global`` (no overrides, no guard) its iterative masks are
used as they are; with shape-only allocations each layer follows its own exponential schedule
to the allocation's count; otherwise its last-iteration scores go through ``select_masks``).
"""

from __future__ import annotations

import typing
from typing import Any, Callable, Mapping

from tfprune import allocation as allocations
from tfprune import layers, masks as masks_mod, scoring, training_guard
from tfprune._validate import check_int, check_sparsity
from tfprune.collapse import CollapseWarning, collapse_report, warn_collapse  # noqa: F401 (re-exported)
from tfprune.registry import load
from tfprune.pruning import copy_model, is_pruned, layer_schedules, prunable_or_fail, wrap_private_copy
from tfprune.schedules import OneShot
from tfprune.score_masks import select_masks
from tfprune.scoring import _common
from tfprune.scoring import sbp_si


class AtInitResult(typing.NamedTuple):
    """What :func:`prune_at_init` returns: ``model, report = prune_at_init(...)``.

    ``report`` holds the choices made (score, allocation, sparsity, rescaled, activation,
    min_per_layer, min_per_unit), ``"report"``: :func:`tfprune.collapse.collapse_report` of the
    result, and ``"rescale_dead_units"`` ({key: dead units} when rescaled).
    """

    model: Any
    report: dict


def prune_at_init(model: Any, sparsity: float, score: str | Callable = "snip",
                  allocation: str | Callable = "global", data: Any = None, *, exclude: Any = None,
                  overrides: Mapping[str, float] | None = None, min_per_layer: int = 0, min_per_unit: int = 0,
                  rescale: bool | None = None, activation: str | None = None, seed: int = 0,
                  score_options: Mapping[str, Any] | None = None, warn: bool = True) -> AtInitResult:
    """Prune ``model`` before training; return ``(model, report)``: a wrapped model whose masks
    stay frozen in ``fit``, and what was done (:class:`AtInitResult`).

    Args:
      model: an untrained tf_keras Sequential/Functional model. It is not modified.
      sparsity: overall fraction of prunable weights removed, in [0, 1).
      score: a name in :data:`tfprune.scoring.SCORERS` ("snip", "grasp", "synflow", "magnitude",
        "random", "sbp-si" -- Edge-of-Chaos initialisation -> SNIP -> mask -> rescaling, Hayou
        et al. -- or a registered one), or a function ``(model, data) -> {key: scores}`` (largest kept).
      allocation: "global" (one ranking, the papers' choice) or any name in
        :data:`tfprune.allocation.ALLOCATIONS`, or an allocation function.
      data: the scoring data of data-driven scorers: a :class:`tfprune.data.Splits`
        (class-balanced batch of ``samples_per_class`` = 10 per class), a ``tf.data.Dataset`` of
        ``(x, y)``, or ``(x, y)`` arrays used as given. Ignored by the data-free scorers.
      exclude: layer names or a predicate ``layer -> bool``: left dense and unscored.
      overrides: {layer name or key: sparsity} fixed per weight; the rest share the remaining budget.
      min_per_layer, min_per_unit: the collapse guard (0 = off); see
        :func:`tfprune.score_masks.select_masks`.
      rescale: restore each output unit's fan-in squared norm after masking
        (:func:`tfprune.scoring.sbp_si.rescale`); default: the scorer's ``rescale`` fact (True
        for "sbp-si").
      activation: for "sbp-si": "relu", "tanh" or "elu"; None infers it from the model.
      seed: seeds the random scorer, the choice of the scoring batch and the EOC draw.
      score_options: extra keyword arguments for the scorer (e.g. ``{"iterations": 50}`` or
        ``{"jit_compile": False}`` -- quicker end to end for one small model -- for synflow,
        ``{"temperature": 100}`` for grasp, ``{"samples_per_class": 20}``).
      warn: emit :class:`CollapseWarning` when a layer is emptied or the network disconnected.

    Returns:
      :class:`AtInitResult` ``(model, report)``: a new, uncompiled wrapped model -- compile it
      and ``fit(..., callbacks=tfprune.callbacks(model))`` (``jit_compile=True`` works), then
      :func:`tfprune.strip` -- and the report of the choices made and the collapse check.

    Example::

        splits = tfprune.data.load("digits")
        pruned, report = tfprune.prune_at_init(model, 0.99, score="sbp-si", data=splits)
        pruned.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        pruned.fit(splits.train, epochs=10, callbacks=tfprune.callbacks(pruned))
        small = tfprune.strip(pruned)
    """
    layers.check_model(model)
    if is_pruned(model):
        raise ValueError("model: already wrapped for pruning; call tfprune.strip(model) first")
    sparsity = check_sparsity(sparsity)
    method = scoring.entry(score)
    if allocation != "global":
        allocations.get(allocation)
    min_per_layer = check_int(min_per_layer, "min_per_layer", 0)
    min_per_unit = check_int(min_per_unit, "min_per_unit", 0)
    if score_options is not None and not isinstance(score_options, Mapping):
        raise TypeError(f"score_options={score_options!r}: expected a dict of keyword arguments")
    options = dict(score_options or {})
    if method.needs_data and data is None:
        raise ValueError(
            f"data=None: score={method.name!r} is data-driven; give data=(x, y) arrays, a tfprune.data.Splits "
            "or a tf.data.Dataset of (x, y)"
        )
    rescale = method.rescale if rescale is None else bool(rescale)

    work = copy_model(model)
    if method.init:
        activation = load(method.init)(work, activation, seed)
    _common.check_plain_model(work)
    found = prunable_or_fail(work, exclude)
    dense = {k: w.value() for k, w in found.items()}
    axes = {k: sbp_si.output_axis(w.layer) for k, w in found.items()}
    guarded = bool(min_per_layer or min_per_unit)
    if method.seeded and "seed" not in options:
        options["seed"] = seed

    chosen = None
    if method.runner:
        keep = None
        if allocation != "global" and not allocations.entry(allocation).uses_values:
            sizes = {k: w.size for k, w in dense.items()}
            keep = masks_mod.keep_counts(allocations.allocate(allocation, dense, sparsity, overrides), sizes)
        result = load(method.runner)(work, sparsity, exclude=exclude, keep=keep, **options)
        scores = result.scores
        if not guarded and (keep is not None or (allocation == "global" and not overrides)):
            chosen = result.masks
    else:
        function = method.load()
        registered = scoring.SCORERS.get(method.name, None) is method
        scores = function(work, data, exclude=exclude, **options) if registered else function(work, data, **options)
        if set(scores) != set(dense):
            raise ValueError(f"score: the scorer returned keys {sorted(scores)}; expected {list(dense)}")
    if chosen is None:
        chosen = select_masks(
            scores, sparsity, allocation, prune_largest=method.prunes_largest, overrides=overrides,
            min_per_layer=min_per_layer, min_per_unit=min_per_unit, output_axes=axes,
        )

    targets = {k: 1.0 - float(chosen[k].mean()) for k in chosen}
    name = allocation if isinstance(allocation, str) else allocations.entry(allocation).name
    schedules = layer_schedules(found, OneShot(sparsity), targets, False, allocation)
    pruned = training_guard.install(wrap_private_copy(work, schedules))
    masks_mod.apply_masks(pruned, chosen)
    dead_after_rescale = sbp_si.rescale(pruned, dense) if rescale else None
    report = collapse_report(pruned)
    info = {
        "score": method.name,
        "allocation": name,
        "sparsity": sparsity,
        "rescaled": bool(rescale),
        "activation": activation if method.init else None,
        "min_per_layer": min_per_layer,
        "min_per_unit": min_per_unit,
        "report": report,
    }
    if dead_after_rescale is not None:
        info["rescale_dead_units"] = {k: len(v) for k, v in dead_after_rescale.items()}
    if warn:
        warn_collapse(report)
    return AtInitResult(pruned, info)
