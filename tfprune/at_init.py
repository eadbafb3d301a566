"""Pruning at initialisation: scores -> masks -> a TF-MOT-wrapped model whose masks stay frozen.

``prune_at_init(model, sparsity, score=..., allocation=..., data=...)`` scores the untrained
model (SNIP, GraSP, SynFlow, magnitude, random, or the SBP-SI pipeline of Hayou et al.), turns
the scores into masks with an exact survivor count, and returns a model wrapped by
:func:`tfprune.prune` with a :class:`~tfprune.schedules.OneShot` schedule (no pruning event
during training, so TF-MOT never recomputes a mask) whose mask variables hold those masks.
Train it with ``callbacks=tfprune.callbacks(model)`` and unwrap it with :func:`tfprune.strip`.

From scores to masks (:func:`select_masks`):

* ``allocation="global"``: one ranking over all prunable weights; exactly
  ``survivors = floor(N * (1 - sparsity) + 0.5)`` weights are kept; ties at the threshold go to
  the earlier layer, then the earlier position (row-major) -- the core's tie rule.
* any other core allocation (``lamp``, ``uniform``, ``uniform+``, ``erk``) or an allocation
  function: the allocation decides the per-layer counts -- ``uniform``/``uniform+``/``erk``
  from the shapes, ``lamp`` (and custom functions) from the scores treated as magnitudes
  (made non-negative by subtracting their minimum when some are negative, an order-preserving
  shift) -- and each layer keeps its top-k scores (:func:`tfprune.masks.top_k_mask`).
* GraSP removes its LARGEST scores: the ranking is done on ``-score``.
* SynFlow ranks inside its own iterative loop: with ``global`` (no overrides, no guard) its
  iterative masks are used as they are; with ``uniform``/``uniform+``/``erk`` each layer follows
  its own exponential schedule to the allocation's count; otherwise its last-iteration scores
  go through the rules above.

Collapse guard (``min_per_layer``, ``min_per_unit``): before ranking, every prunable layer
reserves its ``min_per_layer`` best weights (all of them if it has fewer), and every output unit
(Dense column / conv output channel; not Embedding) reserves its ``min_per_unit`` best incoming
weights. The reserved weights count towards the exact total; the rest of the budget is ranked as
usual (global: one ranking over the unreserved weights; per-layer allocations: a layer whose
count is below its reservation is raised to it, and the surplus is taken one weight at a time
from the layer with the most unreserved survivors). If the reservations alone exceed the
budget, a ValueError says so. ``min_per_layer=1`` prevents empty layers but not every
disconnection (the one weight left may feed a dead unit): :func:`collapse_report` checks the
actual connectivity and :func:`prune_at_init` warns (:class:`CollapseWarning`) when a layer is
empty or when no input-output path is left.
"""

import numbers
import warnings

import numpy as np

from tfprune import allocation as allocations
from tfprune import init as init_mod
from tfprune import masks as masks_mod
from tfprune import scoring, targets
from tfprune.allocation import budget
from tfprune.backend import tf
from tfprune.prune import _copy, is_pruned, prune
from tfprune.schedules import OneShot
from tfprune.scoring import _common
from tfprune.scoring import synflow as synflow_mod

#: Every ``score=`` that prune_at_init accepts: the scorers plus the SBP-SI pipeline.
SCORES = tuple(sorted(scoring.SCORERS)) + ("sbp-si",)
#: Allocations decided from the weight shapes alone.
SHAPE_BASED = frozenset({"uniform", "uniform+", "erk"})


class CollapseWarning(UserWarning):
    """A pruned-at-init model has an empty layer or no path left from input to output."""


# --------------------------------------------------------------------------- masks from scores


def _check_count(value, argument):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{argument}={value!r}: must be an integer >= 0")
    return int(value)


def _reserve(priority, min_per_layer, min_per_unit, axis):
    """Boolean mask of the weights the collapse guard keeps in one layer."""
    reserved = np.zeros(priority.shape, bool)
    if min_per_layer:
        reserved |= masks_mod.top_k_mask(priority, min(min_per_layer, priority.size)) > 0
    if min_per_unit and axis is not None and priority.ndim >= 2:
        moved = np.moveaxis(priority, axis, -1)
        columns = moved.reshape(-1, moved.shape[-1])
        take = min(min_per_unit, columns.shape[0])
        order = np.argsort(-columns, axis=0, kind="stable")[:take]
        chosen = np.zeros(columns.shape, bool)
        np.put_along_axis(chosen, order, True, axis=0)
        reserved |= np.moveaxis(chosen.reshape(moved.shape), -1, axis)
    return reserved


def _global_fill(priority, reserved, keys, count):
    """{key: bool} choosing ``count`` unreserved entries over ``keys`` by one ranking."""
    flat = np.concatenate([np.where(reserved[k], -np.inf, priority[k]).reshape(-1) for k in keys])
    available = int(sum(priority[k].size - reserved[k].sum() for k in keys))
    chosen = np.zeros(flat.size, bool)
    if count > available:
        raise ValueError(f"cannot keep {count} more weights: only {available} are left unreserved")
    if count > 0:
        kth = np.partition(flat, flat.size - count)[flat.size - count]
        above = flat > kth
        chosen[above] = True
        ties = np.flatnonzero(flat == kth)[: count - int(above.sum())]
        chosen[ties] = True
    out, offset = {}, 0
    for k in keys:
        n = priority[k].size
        out[k] = chosen[offset:offset + n].reshape(priority[k].shape)
        offset += n
    return out


def _layer_fill(priority, reserved, count):
    extra = count - int(reserved.sum())
    return reserved | (masks_mod.top_k_mask(np.where(reserved, -np.inf, priority), extra) > 0)


def _magnitudes(priority):
    low = min(float(p.min()) for p in priority.values())
    return {k: p - low for k, p in priority.items()} if low < 0 else dict(priority)


def _fixed_counts(allocation, priority, sparsity, overrides):
    """Per-layer counts: all layers for a per-layer allocation, only the overridden ones for global."""
    sizes = {k: p.size for k, p in priority.items()}
    if allocation == "global":
        if not overrides:
            return {}
        per_layer = allocations.allocate("global", _magnitudes(priority), sparsity, overrides)
        fixed = {allocations.override_key(name, list(priority)) for name in overrides}
        return {k: masks_mod.keep_counts({k: per_layer[k]}, sizes)[k] for k in priority if k in fixed}
    per_layer = allocations.allocate(allocation, _magnitudes(priority), sparsity, overrides)
    return masks_mod.keep_counts(per_layer, sizes)


def select_masks(scores, sparsity, allocation="global", *, prune_largest=False, overrides=None,
                 min_per_layer=0, min_per_unit=0, output_axes=None):
    """Masks ``{key: float32 0/1}`` keeping exactly ``survivors(N, sparsity)`` weights.

    Args:
      scores: ``{key: array}`` (any real values; ranked, never thresholded by value).
      sparsity: overall fraction removed, in [0, 1).
      allocation: "global" or any allocation of :data:`tfprune.ALLOCATIONS` (or a function).
      prune_largest: rank ``-scores`` (GraSP).
      overrides: {layer name or key: sparsity} fixed per layer.
      min_per_layer / min_per_unit: the collapse guard (see the module docstring).
      output_axes: {key: axis of output units or None}; default -1 for weights of rank >= 2.

    Example::

        masks = select_masks({"a/kernel": np.array([[3., 1.], [2., 0.]])}, 0.5)
        # {"a/kernel": [[1, 0], [1, 0]]}
    """
    sparsity = budget.check_sparsity(sparsity)
    min_per_layer = _check_count(min_per_layer, "min_per_layer")
    min_per_unit = _check_count(min_per_unit, "min_per_unit")
    if allocation != "global":
        allocations.get(allocation)
    if not scores:
        raise ValueError("scores: empty; nothing to prune")
    sign = -1.0 if prune_largest else 1.0
    priority = {}
    for key, value in scores.items():
        array = np.asarray(value, np.float64)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"scores[{key!r}] holds non-finite values (NaN or inf); cannot rank them")
        if array.size == 0:
            raise ValueError(f"scores[{key!r}] is empty")
        priority[key] = sign * array
    keys = list(priority)
    total = sum(p.size for p in priority.values())
    keep_total = budget.survivors(total, sparsity)
    axes = {k: (output_axes or {}).get(k, -1 if priority[k].ndim >= 2 else None) for k in keys}
    reserved = {k: _reserve(priority[k], min_per_layer, min_per_unit, axes[k]) for k in keys}
    n_reserved = sum(int(r.sum()) for r in reserved.values())
    if n_reserved > keep_total:
        raise ValueError(
            f"min_per_layer={min_per_layer}, min_per_unit={min_per_unit}: the collapse guard reserves "
            f"{n_reserved} weights but sparsity={sparsity!r} keeps only {keep_total} of {total}"
        )
    fixed = _fixed_counts(allocation, priority, sparsity, overrides)
    fixed = {k: max(c, int(reserved[k].sum())) for k, c in fixed.items()}
    pool = [k for k in keys if k not in fixed]
    chosen = {}
    if pool:
        room = keep_total - sum(fixed.values()) - sum(int(reserved[k].sum()) for k in pool)
        if room < 0:
            raise ValueError(
                f"overrides={overrides!r}: with the collapse guard the fixed layers leave no room "
                f"for the other layers at sparsity={sparsity!r}"
            )
        fill = _global_fill(priority, reserved, pool, room)
        chosen.update({k: reserved[k] | fill[k] for k in pool})
    else:
        spare = np.array([fixed[k] - int(reserved[k].sum()) for k in keys], np.int64)
        counts = np.array([fixed[k] for k in keys], np.int64)
        for _ in range(int(counts.sum()) - keep_total):  # most unreserved survivors first, ties: earlier
            i = int(np.argmax(spare))
            counts[i] -= 1
            spare[i] -= 1
        fixed = dict(zip(keys, (int(c) for c in counts)))
    for k, count in fixed.items():
        chosen[k] = _layer_fill(priority[k], reserved[k], count)
    return {k: chosen[k].astype(np.float32) for k in keys}


# --------------------------------------------------------------------------- collapse


def is_connected(model):
    """True when some input still reaches the output through non-zero weights; None if unknown.

    Works on a float64 clone: every kernel as |w| (masked, for a wrapped model), biases, BN
    betas and moving means set to 0, other weights |w|; with an all-ones input the gradient of
    the summed logits w.r.t. the input is non-zero exactly when an input-output path survives
    (for networks of Dense/Conv/pooling/BatchNorm layers with monotone activations). None when
    that cannot be checked: inputs that are not differentiable (token ids into an Embedding),
    input shapes not fully known, or layers that cannot be cloned in float64.
    """
    targets.check_model(model)
    zeroed = ("bias", "beta", "moving_mean")

    def transform(layer, name, value):
        short = name.split("/")[-1].split(":")[0]
        return np.zeros_like(value) if short in zeroed else np.abs(value)

    try:
        clone = _common.float_clone(model, "float64", transform)
        masked = targets.prunable_weights(model)
        for key, layer in targets.prunable_layers(clone).items():
            if key in masked:
                targets.weight_of(layer).assign(np.abs(masked[key]))
        net = _common.logits_model(clone) if len(clone.outputs) == 1 else clone
        inputs = _common.ones_inputs(net, tf.float64)
    except (ValueError, TypeError, NotImplementedError):
        return None
    inputs = inputs if isinstance(inputs, list) else [inputs]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = net(inputs if len(inputs) > 1 else inputs[0], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        total = tf.add_n([tf.reduce_sum(tf.cast(o, tf.float64)) for o in outputs])
    grads = tape.gradient(total, inputs)
    if any(g is None for g in grads):
        return None
    return any(bool(tf.reduce_any(tf.not_equal(g, 0.0))) for g in grads)


def collapse_report(model, exclude=None):
    """Which layers and output units a (pruned) model has lost, and whether it is still connected.

    Returns ``{"collapsed": [layer names with no non-zero weight], "dead_units": {layer name:
    [indices of output units with no non-zero incoming weight]} (only layers with some),
    "units": {layer name: number of output units}, "connected": bool or None}`` (None: could not
    be checked, see :func:`is_connected`).
    """
    weights = targets.prunable_weights(model, exclude)
    layers = targets.prunable_layers(model, exclude)
    collapsed, dead, units = [], {}, {}
    for key, value in weights.items():
        name = key.split("/")[0]
        if not np.any(value):
            collapsed.append(name)
        axis = init_mod.output_axis(layers[key])
        if axis is None or value.ndim < 2:
            continue
        moved = np.moveaxis(value, axis, -1)
        alive = np.any(moved.reshape(-1, moved.shape[-1]) != 0, axis=0)
        units[name] = int(alive.size)
        if not alive.all():
            dead[name] = [int(i) for i in np.flatnonzero(~alive)]
    return {"collapsed": collapsed, "dead_units": dead, "units": units, "connected": is_connected(model)}


def _warn_collapse(report):
    if report["connected"] is False:
        warnings.warn(
            CollapseWarning(
                "pruning at initialisation disconnected the network: no path from the input to the "
                f"output survives (empty layers: {report['collapsed'] or 'none'}; layers with dead "
                f"units: {sorted(report['dead_units']) or 'none'}). Training cannot recover from this; "
                "lower the sparsity, use a scorer that avoids layer collapse (synflow, sbp-si), or "
                "pass min_per_layer=1 / min_per_unit=1."
            ),
            stacklevel=3,
        )
    elif report["collapsed"]:
        warnings.warn(
            CollapseWarning(
                f"pruning at initialisation emptied layers {report['collapsed']} (the network stays "
                "connected through other paths); pass min_per_layer=1 to keep a weight in every layer."
            ),
            stacklevel=3,
        )


# --------------------------------------------------------------------------- the pipeline


def _check_score(score):
    if callable(score):
        return score
    if not isinstance(score, str) or score not in SCORES:
        raise ValueError(f"score={score!r}: unknown; choose one of {list(SCORES)} or pass a scorer function")
    return score


def prune_at_init(model, sparsity, score="snip", allocation="global", data=None, *, exclude=None,
                  overrides=None, min_per_layer=0, min_per_unit=0, rescale=None, activation=None, seed=0,
                  score_options=None, warn=True):
    """Prune ``model`` before training; return a wrapped model whose masks stay frozen in ``fit``.

    Args:
      model: an untrained tf_keras Sequential/Functional model. It is not modified.
      sparsity: overall fraction of prunable weights removed, in [0, 1).
      score: "snip", "grasp", "synflow", "magnitude", "random", "sbp-si" (Edge-of-Chaos
        initialisation -> SNIP -> mask -> rescaling, Hayou et al.), or a function
        ``(model, data) -> {key: scores}`` (largest kept).
      allocation: "global" (one ranking, the papers' choice) or any core allocation
        ("lamp", "uniform", "uniform+", "erk") or an allocation function.
      data: the scoring data of "snip", "grasp", "sbp-si": a :class:`tfprune.data.Splits`
        (class-balanced batch of ``samples_per_class`` = 10 per class), a ``tf.data.Dataset`` of
        ``(x, y)``, or ``(x, y)`` arrays used as given. Ignored by the data-free scorers.
      exclude: layer names or a predicate ``layer -> bool``: left dense and unscored.
      overrides: {layer name: sparsity} fixed per layer; the rest share the remaining budget.
      min_per_layer, min_per_unit: the collapse guard (0 = off); see :func:`select_masks`.
      rescale: restore each output unit's fan-in squared norm after masking
        (:func:`tfprune.init.rescale`); default True for "sbp-si", False otherwise.
      activation: for "sbp-si": "relu", "tanh" or "elu"; None infers it from the model.
      seed: seeds the random scorer, the choice of the scoring batch and the EOC draw.
      score_options: extra keyword arguments for the scorer (e.g. ``{"iterations": 50}`` or
        ``{"jit_compile": False}`` -- quicker end to end for one small model -- for synflow,
        ``{"temperature": 100}`` for grasp, ``{"samples_per_class": 20}``).
      warn: emit :class:`CollapseWarning` when a layer is emptied or the network disconnected.

    Returns:
      A new, uncompiled wrapped model; compile it and ``fit(..., callbacks=tfprune.callbacks(m))``
      (``jit_compile=True`` works), then :func:`tfprune.strip`. Its ``tfprune_at_init``
      attribute holds the choices made and :func:`collapse_report` of the result.

    Example::

        splits = tfprune.data.load("digits")
        pruned = tfprune.prune_at_init(model, 0.99, score="sbp-si", data=splits)
        pruned.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        pruned.fit(splits.train, epochs=10, callbacks=tfprune.callbacks(pruned))
        small = tfprune.strip(pruned)
    """
    targets.check_model(model)
    if is_pruned(model):
        raise ValueError("model: already wrapped for pruning; call tfprune.strip(model) first")
    sparsity = budget.check_sparsity(sparsity)
    score = _check_score(score)
    if allocation != "global":
        allocations.get(allocation)
    min_per_layer = _check_count(min_per_layer, "min_per_layer")
    min_per_unit = _check_count(min_per_unit, "min_per_unit")
    if score_options is not None and not isinstance(score_options, dict):
        raise TypeError(f"score_options={score_options!r}: expected a dict of keyword arguments")
    options = dict(score_options or {})
    if isinstance(score, str) and score in ("snip", "grasp", "sbp-si") and data is None:
        raise ValueError(
            f"data=None: score={score!r} is data-driven; give data=(x, y) arrays, a tfprune.data.Splits "
            "or a tf.data.Dataset of (x, y)"
        )
    if rescale is None:
        rescale = score == "sbp-si"

    work = _copy(model)
    if score == "sbp-si":
        activation = init_mod.infer_activation(work) if activation is None else activation
        init_mod.edge_of_chaos(work, activation, seed=seed)
    _common.check_plain_model(work)
    layers = _common.check_exclude(work, exclude)
    dense = targets.prunable_weights(work, exclude)
    axes = {k: init_mod.output_axis(layer) for k, layer in layers.items()}
    guarded = bool(min_per_layer or min_per_unit)
    prune_largest = score in scoring.PRUNES_LARGEST

    chosen = None
    if score == "synflow":
        keep = None
        if allocation in SHAPE_BASED:
            sizes = {k: w.size for k, w in dense.items()}
            keep = masks_mod.keep_counts(allocations.allocate(allocation, dense, sparsity, overrides), sizes)
        result = synflow_mod.run(work, sparsity, exclude=exclude, keep=keep, **options)
        scores = result.scores
        if not guarded and (keep is not None or (allocation == "global" and not overrides)):
            chosen = result.masks
    elif callable(score):
        scores = score(work, data, **options)
        missing = sorted(set(dense) - set(scores))
        if missing or set(scores) - set(dense):
            raise ValueError(f"score: the scorer returned keys {sorted(scores)}; expected {list(dense)}")
    else:
        name = "snip" if score == "sbp-si" else score
        if name in ("random", "snip", "grasp") and "seed" not in options:
            options["seed"] = seed
        scores = scoring.get(name)(work, data, exclude=exclude, **options)
    if chosen is None:
        chosen = select_masks(
            scores, sparsity, allocation, prune_largest=prune_largest, overrides=overrides,
            min_per_layer=min_per_layer, min_per_unit=min_per_unit, output_axes=axes,
        )

    pruned = prune(work, allocation="uniform", schedule=OneShot(sparsity), exclude=exclude)
    wrapped = targets.prunable_layers(pruned)
    for key, value in dense.items():  # the wrapper's kernel back to the dense values before masking
        targets.weight_of(wrapped[key]).assign(value)
    masks_mod.apply_masks(pruned, chosen)
    dead_after_rescale = init_mod.rescale(pruned, dense) if rescale else None
    report = collapse_report(pruned)
    info = {
        "score": score if isinstance(score, str) else getattr(score, "__name__", "custom"),
        "allocation": allocation if isinstance(allocation, str) else getattr(allocation, "__name__", "custom"),
        "sparsity": sparsity,
        "rescaled": bool(rescale),
        "activation": activation if score == "sbp-si" else None,
        "min_per_layer": min_per_layer,
        "min_per_unit": min_per_unit,
        "report": report,
    }
    if dead_after_rescale is not None:
        info["rescale_dead_units"] = {k: len(v) for k, v in dead_after_rescale.items()}
    object.__setattr__(pruned, "tfprune_at_init", info)  # plain attribute: not tracked or saved
    if warn:
        _warn_collapse(report)
    return pruned
