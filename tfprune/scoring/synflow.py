"""SynFlow: iterative synaptic flow pruning, data-free.

Tanaka, Kunin, Yamins, Ganguli, "Pruning neural networks without any data by iteratively
conserving synaptic flow", NeurIPS 2020 (arXiv 2006.05467).

Linearise the network: every weight ``w`` is replaced by ``|w|``; feed one all-ones input;
``R = sum(output)``. The synaptic saliency of a weight is::

    score(w) = | w * dR/dw |

For a chain of linear layers without biases ``sum_{w in layer} score(w) = R`` in every layer
(conservation), so a global ranking does not empty whole layers the way magnitude or SNIP can.

The loop is the official one (``prune_loop`` with the exponential schedule and global scope):
with final density ``rho = 1 - sparsity``, ``n`` iterations (100 in the paper) and ``N``
prunable weights, iteration ``k = 0 .. n-1`` scores the current masked network, computes
``k_prune = int((1 - rho**((k+1)/n)) * N)`` and zeroes every weight whose score is ``<=`` the
``k_prune``-th smallest score of all ``N`` (weights pruned earlier score 0 and stay pruned; ties
at the threshold are pruned together; nothing changes when ``k_prune < 1``). The last iteration
therefore keeps ``N - int(sparsity * N)`` weights (fewer only when scores tie at the threshold):
``survivors(N, sparsity) = floor(N (1 - sparsity) + 1/2)`` of the other tfprune paths, or one
more (when the fractional part of ``N (1 - sparsity)`` is in (0, 1/2)).

Choices made here (details in docs/pruning_at_init.md): every weight -- biases, BatchNorm
parameters and statistics included -- is replaced by its absolute value in an independent clone,
as the official code does (BatchNorm in inference mode); R sums the logits (a final softmax or
sigmoid is bypassed); ``dtype="auto"`` (default) computes in float32, the official code's precision,
and reruns in float64 when a float32 run leaves float32's range (:data:`FLOAT32_FLOOR`; an infinite
R in float64 raises);
``unclip=True`` scores ReLU6 as ReLU (not the ReLU6 of a hard-sigmoid), and all-zero scores are
refused, a layer whose scores are all 0 reported (:meth:`SynFlowScorer._check`); the loop is one
``tf.function``, XLA-compiled only where a GPU or TPU is visible (:func:`default_jit_compile`);
the exact threshold is a linear-time selection (:func:`kth_smallest`; a sort under XLA); with per-layer
counts (``keep={key: survivors}``, the shape-based allocations of :func:`tfprune.prune_at_init`)
each layer follows the official rule with ``d_l = keep_l / N_l`` and keeps exactly ``keep_l``
at the end (ties to the earlier position).

Returned scores are those of the last iteration (weights pruned in earlier iterations score 0);
:func:`run` also returns the iterative masks themselves.
"""

import collections
import functools
import logging
import math
import numbers
import warnings

import numpy as np

from tfprune import layers
from tfprune.allocation import budget
from tfprune.backend import keras, tf
from tfprune._validate import check_choice, check_int
from tfprune.scoring import _common

ITERATIONS = 100
_DTYPES = ("auto", "float32", "float64")
#: ``dtype="auto"`` keeps a float32 run only if, at every iteration, R is non-zero and R and every
#: non-zero score are finite and at least this in magnitude: float32's smallest normal number
#: (2**-126) times 2**24, so the run is far from the range where float32 loses bits (subnormal
#: numbers) or rounds a path's product to 0. Otherwise the loop stops and is rerun in float64.
FLOAT32_FLOOR = 2.0 ** -102
#: ``selection=``: "official" (default; the exact ``k_prune``-th smallest score at every iteration:
#: the official masks) or "fast": intermediate thresholds only to 1/512 relative precision (see
#: :func:`_prune_fast`), the last iteration official (same final count). Its masks differ: every
#: early difference changes later rankings (survivors shared with the official masks on a
#: 40-100-100-10 MLP: 94% at 90% sparsity, 64% at 99%, 73% at 99.9%).
SELECTIONS = ("official", "fast")

SynFlowResult = collections.namedtuple("SynFlowResult", "scores masks path_mass dtype")
SynFlowResult.__doc__ = """Outcome of :func:`run`.

scores: {key: float64 array}, the last iteration's saliencies.
masks: {key: float32 0/1 array}, the iterative masks (None when ``sparsity`` is None).
path_mass: (R of the dense network, R at the last iteration), as floats.
dtype: "float32" or "float64", the precision that computed them (``dtype="auto"`` chooses).
"""


def default_jit_compile():
    """True when TensorFlow sees a GPU or TPU; False on CPU, where compiling a large model's loop
    costs more than it saves (Xception at 32x32: 551 s with XLA, 54 s without)."""
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def official_prune_count(size, density, iteration, iterations):
    """Weights pruned after iteration ``iteration`` (0-based) in the official loop:
    ``int((1 - density**((iteration+1)/iterations)) * size)``, in the official float arithmetic."""
    return int((1.0 - density ** ((iteration + 1) / iterations)) * size)


def _bits(value):
    """The bits of the float32 ``value`` as an int32."""
    return int(np.array(value, np.float32).view(np.int32))


#: :func:`kth_smallest` selects from all entries up to this size, and above it brackets its answer
#: with a sample of about this many entries
SAMPLE = 1024
#: half-width of the bracket, in sample entries: 3 standard deviations of a sample rank at the median
MARGIN = 48


def kth_smallest(values, k):
    """The ``k``-th smallest entry of the 1-D tensor ``values`` (1-based, ties counted: the official
    code's ``torch.kthvalue``), ``-inf`` for ``k < 1`` (no entry is ``<=`` it); ``k <= size``.

    A selection (``NthElement``, linear time), not a sort: sorting every score at every iteration
    was most of SynFlow's cost. Above :data:`SAMPLE` entries it first brackets the answer, as
    Floyd and Rivest's SELECT (CACM 1975, Algorithm 489) does: the sorted values of an evenly
    spaced sample of about :data:`SAMPLE` entries give ``lo <= hi`` around the ``k``-th; when it
    lies in ``(lo, hi]`` it is selected from those entries alone (about a tenth of all), otherwise
    (a misleading sample, or the ``k``-th tied with ``lo``) from all. The same value either way;
    SynFlow's selections on the digits CNN (71,568 scores) take about three fifths of the time of
    ``NthElement`` on all entries.
    ``NthElement`` has CPU kernels only and no XLA lowering: the XLA loop (the default where a GPU
    is visible) sorts instead, see :func:`_prune_official`.
    """
    size = values.shape[0]
    if size is None or size <= SAMPLE:
        kth = tf.raw_ops.NthElement(input=values, n=tf.maximum(k - 1, 0))
    else:
        kth = _bracketed_kth(values, tf.clip_by_value(k, 1, size))
    return tf.where(k < 1, tf.constant(-np.inf, values.dtype), kth)


def _bracket(values, k):
    """For ``1 <= k <= size``: the count of entries at most ``lo``, and the entries in ``(lo, hi]``
    in their order, where ``lo <= hi`` are the sorted values of an evenly spaced sample of about
    :data:`SAMPLE` entries, :data:`MARGIN` sample places either side of the ``k``-th's expected
    place (infinite past the sample's ends). The ``k``-th smallest is among those entries when
    the count is below ``k`` and the count plus theirs reaches it."""
    size = int(values.shape[0])
    sample = tf.sort(values[:: size // SAMPLE])
    count = int(sample.shape[0])
    at = tf.cast(tf.cast(k, tf.int64) * count // size, tf.int32)  # int64: k * count passes 2**31
    infinity = tf.constant(np.inf, values.dtype)  # beyond the sample's ends, the bracket is open
    lo = tf.where(at - MARGIN < 0, -infinity, tf.gather(sample, tf.maximum(at - MARGIN, 0)))
    hi = tf.where(at + MARGIN >= count, infinity, tf.gather(sample, tf.minimum(at + MARGIN, count - 1)))
    above_lo = values > lo
    return size - tf.reduce_sum(tf.cast(above_lo, tf.int32)), tf.boolean_mask(values, above_lo & (values <= hi))


def _bracketed_kth(values, k):
    """:func:`kth_smallest` for ``1 <= k <= size``, from the :func:`_bracket` entries when they
    hold the answer, from all entries otherwise."""
    upto_lo, inside = _bracket(values, k)
    return tf.cond(
        tf.logical_and(upto_lo < k, k <= upto_lo + tf.size(inside)),
        lambda: tf.raw_ops.NthElement(input=inside, n=k - upto_lo - 1),
        lambda: tf.raw_ops.NthElement(input=values, n=k - 1),
    )


def _prune_official(scores, valid, n_prune, xla=False):
    """The official rule: keep the entries scoring above the ``n_prune``-th smallest of all
    entries (pruned ones score 0 and count); every entry when ``n_prune < 1``.

    That value is selected in linear time (:func:`kth_smallest`); under XLA (``xla=True``), which
    has no selection kernel, all scores are sorted.
    """
    if xla:
        kth = tf.gather(tf.sort(scores), tf.maximum(n_prune - 1, 0))
    else:
        kth = kth_smallest(scores, n_prune)
    return tf.logical_and(valid, tf.logical_or(n_prune < 1, scores > kth))


#: Bisection steps of the "fast" thresholds, from bit 29 of the normalised float32 scores:
#: 7 exponent and 9 mantissa bits, i.e. 1/512 relative precision.
FAST_STEPS = 16


def _prune_fast(scores, valid, n_prune):
    """Keep the valid entries at or above a threshold found to 1/512 relative precision: at least
    ``min(size - n_prune, count(valid))`` of them, more where scores share the threshold's bucket."""
    k = tf.size(scores) - n_prune
    top = tf.reduce_max(tf.where(valid, scores, tf.zeros_like(scores)))
    safe = tf.where(top > 0, top, tf.ones_like(top))
    normed = tf.cast(tf.where(valid, scores / safe, tf.zeros_like(scores)), tf.float32)
    bits = tf.where(valid, tf.bitcast(normed, tf.int32), -1)  # values in [0, 1]: bit 30 is always 0

    def body(s, lo):
        cand = lo + tf.bitwise.left_shift(1, s)
        count = tf.reduce_sum(tf.cast(bits >= cand, tf.int32))
        return s - 1, tf.where(count >= k, cand, lo)

    _, lo = tf.while_loop(lambda s, lo: s > 29 - FAST_STEPS, body, (tf.constant(29), tf.constant(0)),
                          maximum_iterations=FAST_STEPS)
    return tf.logical_and(valid, tf.logical_and(bits >= lo, k > 0))


def _keep_exact(scores, valid, n_prune):
    """Exactly ``min(size - n_prune, count(valid))`` entries: the largest scores, ties to the
    earlier position."""
    ranked = tf.where(valid, scores, -tf.ones_like(scores))
    order = tf.argsort(ranked, direction="DESCENDING", stable=True)
    rank = tf.scatter_nd(order[:, None], tf.range(tf.size(order)), tf.shape(order))
    return tf.logical_and(valid, rank < tf.size(scores) - n_prune)


def _is_hard_sigmoid(layer):
    """True for the ReLU6 of ``ReLU6(x + 3) / 6`` (how tf_keras's MobileNetV3 builds hard-sigmoid
    and hard-swish): its input is an ``x + number`` op."""
    for node in layer._inbound_nodes:
        for inbound in tf.nest.flatten(node.inbound_layers):
            if getattr(inbound, "symbol", None) == "__operators__.add":
                args = [a for n in inbound._inbound_nodes for a in tf.nest.flatten((n.call_args, n.call_kwargs))]
                if any(isinstance(a, numbers.Real) for a in args):
                    return True
    return False


def _unclip(model):
    """Turn the clipped ReLUs of ``model`` (a private clone) used as activations into plain ReLUs
    (not the ReLU6 of a hard-sigmoid); their paths."""
    changed = []
    for path, layer in layers.iter_layers(model):
        if isinstance(layer, keras.layers.ReLU) and layer.max_value is not None and not _is_hard_sigmoid(layer):
            layer.max_value = None
        elif getattr(layer, "activation", None) is tf.nn.relu6:
            layer.activation = tf.nn.relu
        elif getattr(layer, "symbol", None) == "nn.relu6":  # tf.nn.relu6 called on a Keras tensor
            layer.function = tf.nn.relu
        else:
            continue
        changed.append(path)
    return changed

class SynFlowScorer:
    """A reusable SynFlow scorer for one model: the clone and compiled loop are built once.

    ``scorer(sparsity, iterations)`` may be called repeatedly (e.g. for several sparsities)
    without recompiling, as long as ``iterations`` and the per-layer mode do not change (and,
    with ``dtype="auto"``, until a float32 run falls back to float64: the float64 clone is built
    and traced then, from the weights the model had when the scorer was built).
    :func:`synflow_scores` and :func:`run` build one and call it once. See :func:`synflow_scores`
    for the arguments.
    """

    def __init__(self, model, *, exclude=None, dtype="auto", jit_compile=None, selection="official",
                 unclip=True, input_shape=None):
        _common.check_plain_model(model)
        _common.check_exclude(model, exclude)
        #: the ``dtype`` asked for: "auto", "float32" or "float64"
        self.requested = check_choice(dtype, "dtype", _DTYPES)
        check_choice(jit_compile, "jit_compile", [None, True, False])
        self.selection = check_choice(selection, "selection", SELECTIONS)
        self.jit_compile = default_jit_compile() if jit_compile is None else bool(jit_compile)
        # R sums the logits: a final softmax would make R constant (official models output logits).
        self._net = _common.logits_model(model) if len(model.outputs) == 1 else model
        self._exclude, self._unclip, self._input_shape = exclude, unclip, input_shape
        # "auto" starts in float64 for a float64 model (float32 would round its small weights to 0)
        wide = dtype == "float64" or (dtype == "auto" and any(w.dtype == tf.float64 for w in model.weights))
        # a float64 rerun scores the weights the model had here, whatever it has by then
        self._snapshot = None if wide or dtype != "auto" else {
            (id(inner), w.name): value
            for _, layer in layers.iter_layers(self._net)
            for inner in [layers.unwrap(layer)]
            for w, value in zip(inner.weights, inner.get_weights())
        }
        self._linearise("float64" if wide else "float32")

    def _linearise(self, dtype):
        """Build the |w| clone computing in ``dtype`` (replacing any earlier one)."""
        self.dtype = tf.as_dtype(dtype)
        snapshot = self._snapshot or {}
        self._clone = _common.float_clone(
            self._net, dtype, lambda layer, name, value: np.abs(snapshot.get((id(layer), name), value))
        )
        #: paths of the layers whose clip was removed for scoring
        self.unclipped = _unclip(self._clone) if self._unclip else []
        found = layers.prunable(self._clone, self._exclude)
        self.keys = list(found)
        self._variables = [w.variable for w in found.values()]
        self.shapes = [tuple(int(d) for d in v.shape) for v in self._variables]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        # the loop works on one vector of every prunable entry (``keys`` order): a few whole-vector
        # ops per iteration instead of a few per layer
        self._weights = tf.constant(np.concatenate([v.numpy().reshape(-1) for v in self._variables]))  # |w|
        self._inputs = _common.ones_inputs(self._clone, self.dtype, self._input_shape)
        self._functions = {}

    # ----------------------------------------------------------------- graph pieces

    def _flat(self, tensors):
        """One vector of the per-layer ``tensors`` (``keys`` order)."""
        return tf.concat([tf.reshape(tf.convert_to_tensor(t), [-1]) for t in tensors], 0)

    def _per_layer(self, flat):
        """The per-layer tensors of a :meth:`_flat` vector."""
        return [tf.reshape(part, shape) for part, shape in zip(tf.split(flat, self.sizes), self.shapes)]

    def _score(self, keep):
        """R and the flat scores ``|w * dR/dw|`` of the |w| network masked by the flat bool ``keep``."""
        masked = self._weights * tf.cast(keep, self.dtype)
        for variable, value in zip(self._variables, self._per_layer(masked)):
            variable.assign(value)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(self._variables)
            outputs = self._clone(self._inputs, training=False)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            r = tf.add_n([tf.reduce_sum(tf.cast(o, self.dtype)) for o in outputs])
        grads = tape.gradient(r, self._variables)
        grads = self._flat([tf.zeros_like(v) if g is None else g for g, v in zip(grads, self._variables)])
        return r, tf.abs(grads * masked)

    def _watching(self):
        """Whether this run's range is watched: ``dtype="auto"`` computing in float32."""
        return self.requested == "auto" and self.dtype == tf.float32

    def _in_range(self, r, scores, dense=False):
        """Whether a float32 run is still trustworthy (True when not :meth:`_watching`): R finite
        with ``|R| >=`` :data:`FLOAT32_FLOOR`, and every non-zero score finite and ``>=`` it; for
        the dense network also no score 0 on a non-zero weight. TensorFlow flushes float32 results
        below the normal range to 0, so a flushed path looks like a 0.

        The scores are ``>= 0`` (absolute values), so their bits, read as integers, order as the
        values do, with NaN above infinity: the largest must be below infinity's, and the smallest
        non-zero one (``bits - 1`` read unsigned sends 0 to the top) at least the floor's.
        """
        if not self._watching():
            return tf.constant(True)
        floor = tf.constant(FLOAT32_FLOOR, tf.float32)
        bits = tf.bitcast(scores, tf.int32)
        checks = [
            tf.math.is_finite(r), tf.abs(r) >= floor,
            tf.reduce_max(bits) < _bits(np.inf),
            tf.reduce_min(tf.bitcast(bits - 1, tf.uint32)) >= tf.bitcast(_bits(FLOAT32_FLOOR) - 1, tf.uint32),
        ]
        if dense:
            checks.append(tf.reduce_all(tf.logical_or(scores != 0, self._weights == 0)))
        return tf.reduce_all(tf.stack(checks))

    def _select(self, rule, scores, keep, n_prune):
        """The new flat ``keep`` from the flat scores: one rule over all entries (``n_prune`` a
        count), or one per layer (``n_prune`` a count per layer)."""
        if n_prune.shape.rank == 0:
            return rule(scores, keep, n_prune)
        parts = zip(tf.split(scores, self.sizes), tf.split(keep, self.sizes))
        return tf.concat([rule(s, k, n_prune[i]) for i, (s, k) in enumerate(parts)], 0)

    def _sums(self, scores):
        return tf.stack([tf.reduce_sum(s) for s in tf.split(scores, self.sizes)])

    def _loop(self, counts):
        n = counts.shape[0]
        official = functools.partial(_prune_official, xla=self.jit_compile)
        middle = _prune_fast if self.selection == "fast" else official
        last = _keep_exact if counts.shape.rank == 2 else official
        keep = tf.ones([sum(self.sizes)], tf.bool)
        first, scores = self._score(keep)
        sums = self._sums(scores)
        r, in_range = first, self._in_range(first, scores, dense=True)

        def body(i, keep, scores, r, in_range):
            keep = self._select(middle, scores, keep, counts[i])
            r, scores = self._score(keep)
            return i + 1, keep, scores, r, tf.logical_and(in_range, self._in_range(r, scores))

        # a watched float32 run stops at its first iteration out of range: it is rerun in float64
        watching = self._watching()

        def more(i, keep, scores, r, in_range):
            return tf.logical_and(i < n - 1, in_range) if watching else i < n - 1

        if n > 1:
            _, keep, scores, r, in_range = tf.while_loop(
                more, body, (tf.constant(0), keep, scores, r, in_range), maximum_iterations=n - 1,
            )
        final = tf.cast(self._select(last, scores, keep, counts[n - 1]), self.dtype)
        return self._per_layer(scores), self._per_layer(final), first, r, sums, in_range

    def _dense(self):
        r, scores = self._score(tf.ones([sum(self.sizes)], tf.bool))
        return self._per_layer(scores), r, self._sums(scores), self._in_range(r, scores, dense=True)

    def _function(self, name, fn):
        key = (name, self.jit_compile)
        if key not in self._functions:
            self._functions[key] = tf.function(fn, jit_compile=self.jit_compile, autograph=False)
        return self._functions[key]

    def _call(self, name, fn, *args):
        try:
            return self._quiet(self._function(name, fn), *args)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.InternalError) as e:
            if not self.jit_compile:
                raise
            warnings.warn(f"SynFlow: XLA compilation failed ({type(e).__name__}); running without jit_compile")
            self.jit_compile = False
            return self._quiet(self._function(name, fn), *args)

    @staticmethod
    def _quiet(function, *args):
        """Call ``function`` without TensorFlow's "frequent retracing" warning: every scorer traces
        its own loop once, which TensorFlow counts against the shared method when many scorers are
        built in a row (e.g. one per sparsity in a sweep)."""
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel(max(level, logging.ERROR))
        try:
            return function(*args)
        finally:
            logger.setLevel(level)

    def _check(self, first, last, scores, dense_sums, per_layer):
        if not (math.isfinite(first) and math.isfinite(last)) or not all(np.all(np.isfinite(s)) for s in scores):
            raise FloatingPointError(
                f"SynFlow overflowed in {self.dtype.name}: R = {first!r} for the dense network"
                + ("; use dtype='auto' or 'float64'" if self.dtype == tf.float32 else "; the network is too deep for float64")
            )
        hint = (
            "SynFlow needs a network whose output grows with |w| along every path (ReLU, linear)"
            + ("" if self.unclipped else "; unclip=True turns ReLU6 into ReLU for scoring")
        )
        if first == 0.0 or not np.any(dense_sums > 0):
            raise ValueError(
                f"SynFlow: every score is 0 (R = {first!r} on the all-ones input): the |w| network's output "
                f"does not depend on its prunable weights, e.g. a saturating activation or gate; {hint}, "
                "or use another score"
                + ("; in float32 it may also be underflow: dtype='auto' or 'float64'" if self.dtype == tf.float32 else "")
            )
        weights = self._per_layer(self._weights)
        dead = [key for key, total, weight in zip(self.keys, dense_sums, weights) if total == 0.0 and np.any(weight)]
        if dead:
            message = (
                f"SynFlow: every score of {dead} is 0 in the dense |w| network (no gradient reaches them, e.g. "
                f"behind a saturated sigmoid or hard-sigmoid gate), so the method cannot rank them; {hint}; "
                "exclude=[their layers] leaves them dense"
            )
            if per_layer:
                raise ValueError(message + " (a per-layer allocation would choose their survivors by position)")
            warnings.warn(message + " (the official rule prunes them first, as ties)", stacklevel=4)

    # ----------------------------------------------------------------- public

    def close(self):
        """Drop the compiled functions and the clone now.

        The compiled loop refers back to the scorer, so without ``close`` an unused scorer lives
        until Python's cycle collector runs -- and live XLA executables were measured to slow
        later ones down (about 1.7x with four left alive). :func:`run` closes its scorer.
        """
        self._functions.clear()
        self._clone = self._variables = self._weights = self._net = self._snapshot = None

    def prune_counts(self, sparsity, iterations=ITERATIONS, keep=None):
        """Weights pruned (zeroed) after each iteration: shape (n,) (global) or (n, layers).

        Global: the official ``int((1 - rho**((k+1)/n)) * N)``, ``rho = 1 - sparsity`` (ties at the
        threshold prune more). Per layer (``keep`` given): the same rule per layer with
        ``rho_l = keep_l / N_l``, and ``N_l - keep_l`` exactly at the last iteration.
        """
        iterations = check_int(iterations, "iterations", 1)
        sparsity = budget.check_sparsity(sparsity)
        if keep is None:
            total = sum(self.sizes)
            return np.array(
                [official_prune_count(total, 1.0 - sparsity, k, iterations) for k in range(iterations)], np.int32
            )
        unknown = sorted(set(keep) - set(self.keys))
        missing = [k for k in self.keys if k not in keep]
        if unknown or missing:
            raise ValueError(f"keep: keys must be the prunable weights {self.keys}; unknown {unknown}, missing {missing}")
        columns = []
        for key, size in zip(self.keys, self.sizes):
            final = keep[key]
            if isinstance(final, bool) or not isinstance(final, numbers.Integral) or not 0 <= final <= size:
                raise ValueError(f"keep[{key!r}]={final!r}: must be an integer in [0, {size}]")
            density = final / size
            columns.append(
                [official_prune_count(size, density, k, iterations) for k in range(iterations - 1)] + [size - final]
            )
        return np.array(columns, np.int32).T.copy()

    def __call__(self, sparsity=None, iterations=ITERATIONS, keep=None):
        """:class:`SynFlowResult` for ``sparsity`` (None: one dense pass, no masks).

        With ``dtype="auto"``, a float32 run that leaves float32's range (:data:`FLOAT32_FLOOR`)
        is rerun in float64, and the scorer computes in float64 from then on.
        """
        if self._clone is None:
            raise RuntimeError("this SynFlowScorer was closed; build a new one")
        if sparsity is None and keep is not None:
            raise ValueError("keep: needs a sparsity (per-layer survivors of the iterative schedule)")
        counts = None if sparsity is None else tf.constant(self.prune_counts(sparsity, iterations, keep))
        outcome = self._run(counts)
        if self._watching() and not outcome[-1]:
            self._linearise("float64")
            outcome = self._run(counts)
        scores, masks, first, last, sums, _ = outcome
        self._check(first, last, scores, sums, keep is not None)
        scores = collections.OrderedDict(zip(self.keys, scores))
        return SynFlowResult(scores, masks, (first, last), self.dtype.name)

    def _run(self, counts):
        """One run in the scorer's dtype: scores, masks, R first and last, dense score sums, in range."""
        if counts is None:
            scores, r, sums, in_range = self._call("dense", self._dense)
            first = last = r
            masks = None
        else:
            scores, final, first, last, sums, in_range = self._call(("loop", tuple(counts.shape)), self._loop, counts)
            masks = collections.OrderedDict(
                (k, m.numpy().astype(np.float32)) for k, m in zip(self.keys, final)
            )
        scores = [s.numpy().astype(np.float64) for s in scores]
        return scores, masks, float(first.numpy()), float(last.numpy()), sums.numpy(), bool(in_range.numpy())


def run(model, sparsity=None, iterations=ITERATIONS, *, exclude=None, keep=None, dtype="auto",
        jit_compile=None, selection="official", unclip=True, input_shape=None):
    """Iterative SynFlow on ``model``: a :class:`SynFlowResult` (scores, masks, path mass).

    See :func:`synflow_scores` for the arguments.
    """
    scorer = SynFlowScorer(
        model, exclude=exclude, dtype=dtype, jit_compile=jit_compile, selection=selection, unclip=unclip,
        input_shape=input_shape,
    )
    try:
        return scorer(sparsity, iterations, keep)
    finally:
        scorer.close()


def synflow_scores(model, data=None, *, sparsity=None, iterations=ITERATIONS, exclude=None, keep=None,
                   dtype="auto", jit_compile=None, selection="official", unclip=True, input_shape=None):
    """SynFlow saliencies ``{key: |w * dR/dw|}`` of the |w|-linearised ``model``.

    Args:
      model: a built, unwrapped tf_keras model (not modified: the work is done on a clone).
      data: unused (SynFlow is data-free); accepted for the common scorer signature.
      sparsity: None for a single pass on the dense network; otherwise the target of the
        iterative algorithm, whose last-iteration scores are returned (weights pruned in
        earlier iterations score 0).
      iterations: number of prune-rescore rounds (100 in the paper).
      exclude: layer names or a predicate ``layer -> bool``: left unmasked and unscored.
      keep: optional {key: final survivors} to follow per-layer schedules instead of one global one.
      dtype: "auto" (default): float32, the official code's precision, rerun in float64 when the
        float32 run leaves float32's range (:data:`FLOAT32_FLOOR`: overflow on deep networks,
        underflow at high sparsity); "float32" (an overflow raises) or "float64" always.
      jit_compile: None (default): XLA where a GPU or TPU is visible, a plain graph on CPU
        (:func:`default_jit_compile`); True/False force it (True falls back to a plain graph if
        XLA fails).
      selection: "official" (default, the official masks) or "fast" (see :data:`SELECTIONS`).
      unclip: score with the clipped ReLUs used as activations (ReLU6) turned into ReLUs in the
        clone, not the ReLU6 of a hard-sigmoid (the model is untouched).
      input_shape: the input shape without batch axis, when the model's is not fully known.
    """
    return run(
        model, sparsity, iterations, exclude=exclude, keep=keep, dtype=dtype, jit_compile=jit_compile,
        selection=selection, unclip=unclip, input_shape=input_shape,
    ).scores
