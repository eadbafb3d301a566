"""SynFlow: iterative synaptic flow pruning, data-free.

Tanaka, Kunin, Yamins, Ganguli, "Pruning neural networks without any data by iteratively
conserving synaptic flow", NeurIPS 2020 (arXiv 2006.05467).

Linearise the network: every weight ``w`` is replaced by ``|w|``; feed one all-ones input;
``R = sum(output)``. The synaptic saliency of a weight is::

    score(w) = | w * dR/dw |

For a chain of linear layers without biases ``sum_{w in layer} score(w) = R`` in every layer
(conservation), so a global ranking does not empty whole layers the way magnitude or SNIP can.
The algorithm prunes iteratively: with final density ``rho = 1 - sparsity`` and ``n`` iterations
(100 in the paper), iteration ``k = 0 .. n-1`` scores the current masked network and keeps the
``round(N * rho**((k+1)/n))`` best weights (the exponential schedule); the last iteration keeps
exactly ``survivors(N, sparsity)`` weights, the same count as every tfprune allocation.

Choices made here (documented in docs/pruning_at_init.md):

* What is linearised: every weight of the network, biases and BatchNorm parameters/statistics
  included, is replaced by its absolute value -- as the official code does
  (``param.abs_()`` over the whole ``state_dict``); BatchNorm runs in inference mode. Keras
  initialises biases to zero, so at initialisation this usually equals the bias-free form.
  Weights are never "restored": the scores are computed on an independent clone.
* Output: R sums the logits; a final softmax/sigmoid is bypassed (a softmax output would make
  R constant). The official models output logits.
* Overflow: R is a sum over all input-output paths of products of |w|, which overflows float32
  on deep networks (and underflows at high sparsity). The clone computes in ``dtype="float64"``
  by default (range 1e+-308); an infinite or NaN R raises a clear error.
* Speed: all ``n`` iterations run inside one ``tf.function`` (XLA-compiled by default) with the
  masks as loop tensors -- no retracing and no host round trip per iteration. Intermediate
  iterations locate their threshold to 1/512 relative precision (a 16-step bisection on the
  float32 bit pattern of the scores divided by their maximum) and keep every weight at or above it: at least
  the scheduled count, slightly more only when many scores share that bucket. The final
  iteration is exact: 31/63-step bisection on the full-precision scores, ties broken by position
  (earlier layer, then row-major order), exactly the core's tie rule. ``exact_schedule=True``
  makes every iteration exact.
* Per-layer counts (``keep={key: survivors}``, used by :func:`tfprune.prune_at_init` for
  the shape-based allocations): each layer follows its own exponential schedule
  ``round(N_l * d_l**((k+1)/n))`` and ranks its own weights.

Returned scores are those of the last iteration (weights pruned in earlier iterations score 0);
:func:`run` also returns the iterative masks themselves.
"""

import collections
import logging
import math
import numbers
import warnings

import numpy as np

from tfprune import layers
from tfprune.allocation import budget
from tfprune.backend import tf
from tfprune._validate import check_int
from tfprune.scoring import _common

ITERATIONS = 100
_DTYPES = ("float32", "float64")

SynFlowResult = collections.namedtuple("SynFlowResult", "scores masks path_mass")
SynFlowResult.__doc__ = """Outcome of :func:`run`.

scores: {key: float64 array}, the last iteration's saliencies.
masks: {key: float32 0/1 array}, the iterative masks (None when ``sparsity`` is None).
path_mass: (R of the dense network, R at the last iteration), as floats.
"""


def _int_type(dtype):
    return tf.int64 if dtype == tf.float64 else tf.int32


def _bisect(bits, valid, k, top_bit, steps, int_dtype):
    """Largest t with count(valid & bits >= t) >= k (bits >= 0 where valid), and the bits with
    invalid entries set to -1.

    Bit by bit from ``top_bit`` down, ``steps`` bits, in a rolled loop (XLA compiles it once).
    """
    b = tf.where(valid, bits, tf.constant(-1, int_dtype))
    one = tf.constant(1, int_dtype)

    def body(s, lo):
        cand = lo + tf.bitwise.left_shift(one, tf.cast(s, int_dtype))
        count = tf.reduce_sum(tf.cast(b >= cand, tf.int32))
        return s - 1, tf.where(count >= k, cand, lo)

    _, lo = tf.while_loop(
        lambda s, lo: s > top_bit - steps, body, (tf.constant(top_bit), tf.constant(0, int_dtype)),
        maximum_iterations=steps,
    )
    return b, lo


#: Bisection steps of the intermediate thresholds, from bit 29 of the normalised float32 scores:
#: 7 exponent and 9 mantissa bits, i.e. 1/512 relative precision.
FAST_STEPS = 16


def _select_fast(scores, valid, k):
    """Keep the valid entries at or above a threshold found to 1/512 relative precision.

    At least min(k, count(valid)) entries are kept; more only where several scores share the
    threshold's 1/512-wide bucket.
    """
    top = tf.reduce_max(tf.where(valid, scores, tf.zeros_like(scores)))
    safe = tf.where(top > 0, top, tf.ones_like(top))
    normed = tf.cast(tf.where(valid, scores / safe, tf.zeros_like(scores)), tf.float32)
    bits = tf.bitcast(normed, tf.int32)  # values in [0, 1]: bit 30 is always 0
    b, lo = _bisect(bits, valid, k, 29, FAST_STEPS, tf.int32)
    return tf.logical_and(valid, tf.logical_and(b >= lo, k > 0))


def _select_exact(scores, valid, k):
    """Exactly min(k, count(valid)) entries: the largest scores, ties to the earlier position."""
    int_dtype = _int_type(scores.dtype)
    top_bit = 62 if int_dtype == tf.int64 else 30
    bits = tf.bitcast(tf.where(valid, scores, tf.zeros_like(scores)), int_dtype)
    b, lo = _bisect(bits, valid, k, top_bit, top_bit + 1, int_dtype)
    above = tf.logical_and(valid, b > lo)
    ties = tf.logical_and(valid, tf.equal(b, lo))
    room = k - tf.reduce_sum(tf.cast(above, tf.int32))
    rank = tf.cumsum(tf.cast(ties, tf.int32), exclusive=True)
    keep = tf.logical_or(above, tf.logical_and(ties, rank < room))
    return tf.logical_and(keep, k > 0)


class SynFlowScorer:
    """A reusable SynFlow scorer for one model: the clone and compiled loop are built once.

    ``scorer(sparsity, iterations)`` may be called repeatedly (e.g. for several sparsities)
    without recompiling, as long as ``iterations`` and the per-layer mode do not change.
    :func:`synflow_scores` and :func:`run` build one and call it once.
    """

    def __init__(self, model, *, exclude=None, dtype="float64", jit_compile=True, exact_schedule=False,
                 input_shape=None):
        _common.check_plain_model(model)
        _common.check_exclude(model, exclude)
        if dtype not in _DTYPES:
            raise ValueError(f"dtype={dtype!r}: must be one of {_DTYPES}")
        self.dtype = tf.as_dtype(dtype)
        self.jit_compile = bool(jit_compile)
        self.exact_schedule = bool(exact_schedule)
        # R sums the logits: a final softmax would make R constant (official models output logits).
        net = _common.logits_model(model) if len(model.outputs) == 1 else model
        self._clone = _common.float_clone(net, dtype, lambda layer, name, value: np.abs(value))
        found = layers.prunable(self._clone, exclude)
        self.keys = list(found)
        self._variables = [w.variable for w in found.values()]
        self._weights = [tf.constant(v.numpy()) for v in self._variables]  # |w|, in dtype
        self.shapes = [tuple(int(d) for d in v.shape) for v in self._variables]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self._inputs = _common.ones_inputs(self._clone, self.dtype, input_shape)
        self._functions = {}

    # ----------------------------------------------------------------- graph pieces

    def _score(self, masks):
        for variable, weight, mask in zip(self._variables, self._weights, masks):
            variable.assign(weight * mask)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(self._variables)
            outputs = self._clone(self._inputs, training=False)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            r = tf.add_n([tf.reduce_sum(tf.cast(o, self.dtype)) for o in outputs])
        grads = tape.gradient(r, self._variables)
        scores = [
            tf.zeros_like(w) if g is None else tf.abs(g * w * m)
            for g, w, m in zip(grads, self._weights, masks)
        ]
        return r, scores

    def _select(self, scores, masks, k, exact):
        select = _select_exact if exact else _select_fast
        if k.shape.rank == 0:  # one global count
            flat_scores = tf.concat([tf.reshape(s, [-1]) for s in scores], 0)
            valid = tf.concat([tf.reshape(m > 0, [-1]) for m in masks], 0)
            parts = tf.split(tf.cast(select(flat_scores, valid, k), self.dtype), self.sizes)
        else:  # one count per layer
            parts = [
                tf.cast(select(tf.reshape(s, [-1]), tf.reshape(m > 0, [-1]), k[i]), self.dtype)
                for i, (s, m) in enumerate(zip(scores, masks))
            ]
        return [tf.reshape(p, shape) for p, shape in zip(parts, self.shapes)]

    def _loop(self, counts):
        n = counts.shape[0]
        masks = [tf.ones(shape, self.dtype) for shape in self.shapes]
        first = tf.constant(float("nan"), self.dtype)
        if n > 1:
            def body(i, masks, first):
                r, scores = self._score(masks)
                masks = self._select(scores, masks, counts[i], self.exact_schedule)
                first = tf.where(tf.equal(i, 0), r, first)
                return i + 1, masks, first

            _, masks, first = tf.while_loop(
                lambda i, masks, first: i < n - 1, body, (tf.constant(0), masks, first),
                maximum_iterations=n - 1,
            )
        r, scores = self._score(masks)
        final = self._select(scores, masks, counts[n - 1], True)
        if n == 1:
            first = r
        return scores, final, first, r

    def _dense(self):
        masks = [tf.ones(shape, self.dtype) for shape in self.shapes]
        r, scores = self._score(masks)
        return scores, r

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

    # ----------------------------------------------------------------- public

    def close(self):
        """Drop the compiled functions and the clone now.

        The compiled loop refers back to the scorer, so without ``close`` an unused scorer lives
        until Python's cycle collector runs -- and live XLA executables were measured to slow
        later ones down (about 1.7x with four left alive). :func:`run` closes its scorer.
        """
        self._functions.clear()
        self._clone = self._variables = self._weights = None

    def schedule(self, sparsity, iterations=ITERATIONS, keep=None):
        """Survivor counts per iteration: shape (n,) (global) or (n, layers) (``keep`` given)."""
        iterations = check_int(iterations, "iterations", 1)
        sparsity = budget.check_sparsity(sparsity)
        exponents = [(k + 1) / iterations for k in range(iterations)]
        if keep is None:
            total = sum(self.sizes)
            rho = 1.0 - sparsity
            counts = [int(math.floor(total * rho ** e + 0.5)) for e in exponents[:-1]]
            counts.append(budget.survivors(total, sparsity))
            return np.array(counts, np.int32)
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
            columns.append([int(math.floor(size * density ** e + 0.5)) for e in exponents[:-1]] + [int(final)])
        return np.array(columns, np.int32).T.copy()

    def __call__(self, sparsity=None, iterations=ITERATIONS, keep=None):
        """:class:`SynFlowResult` for ``sparsity`` (None: one dense pass, no masks)."""
        if self._clone is None:
            raise RuntimeError("this SynFlowScorer was closed; build a new one")
        if sparsity is None:
            if keep is not None:
                raise ValueError("keep: needs a sparsity (per-layer survivors of the iterative schedule)")
            scores, r = self._call("dense", self._dense)
            first = last = r
            masks = None
        else:
            counts = tf.constant(self.schedule(sparsity, iterations, keep))
            scores, final, first, last = self._call(("loop", tuple(counts.shape)), self._loop, counts)
            masks = collections.OrderedDict(
                (k, m.numpy().astype(np.float32)) for k, m in zip(self.keys, final)
            )
        first, last = float(first.numpy()), float(last.numpy())
        scores = [s.numpy().astype(np.float64) for s in scores]
        if not (math.isfinite(first) and math.isfinite(last)) or not all(np.all(np.isfinite(s)) for s in scores):
            raise FloatingPointError(
                f"SynFlow overflowed in {self.dtype.name}: R = {first!r} for the dense network"
                + ("; use dtype='float64'" if self.dtype == tf.float32 else "; the network is too deep for float64")
            )
        scores = collections.OrderedDict(zip(self.keys, scores))
        return SynFlowResult(scores, masks, (first, last))


def run(model, sparsity=None, iterations=ITERATIONS, *, exclude=None, keep=None, dtype="float64",
        jit_compile=True, exact_schedule=False, input_shape=None):
    """Iterative SynFlow on ``model``: a :class:`SynFlowResult` (scores, masks, path mass).

    See :func:`synflow_scores` for the arguments.
    """
    scorer = SynFlowScorer(
        model, exclude=exclude, dtype=dtype, jit_compile=jit_compile, exact_schedule=exact_schedule,
        input_shape=input_shape,
    )
    try:
        return scorer(sparsity, iterations, keep)
    finally:
        scorer.close()


def synflow_scores(model, data=None, *, sparsity=None, iterations=ITERATIONS, exclude=None, keep=None,
                   dtype="float64", jit_compile=True, exact_schedule=False, input_shape=None):
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
      dtype: "float64" (default, robust on deep networks) or "float32".
      jit_compile: XLA-compile the loop (falls back to plain graph mode if XLA fails).
      exact_schedule: exact survivor counts at every iteration, not only the last.
      input_shape: the input shape without batch axis, when the model's is not fully known.
    """
    return run(
        model, sparsity, iterations, exclude=exclude, keep=keep, dtype=dtype, jit_compile=jit_compile,
        exact_schedule=exact_schedule, input_shape=input_shape,
    ).scores
