"""Greedy forward selection of channels (Ye et al., "Good subnetworks provably exist: pruning via
greedy forward selection", ICML 2020), following the official procedure.

Layer by layer, from input to output: start from the empty set; at each step draw up to
``candidates`` channels at random among the channels not selected yet (as the official code,
github.com/lushleaf/Network-Pruning-Greedy-Forward-Selection, does) -- or, with
``repeats=True``, among all channels, so that a channel may be picked again and then weighs
more (the multiset of the paper's analysis) -- and add the candidate whose addition gives the
lowest loss on a fresh minibatch. The selection weights follow
``alpha <- (1 - 1/(n+1)) alpha + e_i/(n+1)``, i.e. ``alpha = counts / n`` after ``n`` picks;
the layer's readers see channel ``j`` scaled by ``N * alpha_j`` (``N`` the original width, the
official code's ``scale * x * prune_a``), so the subnetwork's sum estimates the full layer's
sum ``sum_j w_j h_j = N mean_j w_j h_j``; selecting every channel once is the identity. A layer
stops when the accuracy on a fixed subsample is within ``tolerance`` (absolute; the official
code's ``top1_tol`` is relative) of the unpruned model's, or when ``keep`` distinct channels are
selected. The layer is then cut out (:func:`surgery`) before the next one is selected.

All candidates of a step are evaluated in one batched forward pass through the rest of the
network only (the part of the graph downstream of the layer's readers), in a ``tf.function``
compiled with XLA where it compiles.
"""

from __future__ import annotations

import dataclasses
import time
from fractions import Fraction
from typing import Any, Callable

import numpy as np
from tqdm.auto import tqdm

from tfprune._validate import check_choice, check_int, is_real
from tfprune.backend import keras, tf
from tfprune.structured import graph
from tfprune.structured.surgery import Selection, surgery


def convex_update(alpha: list[Fraction], i: int, n: int) -> list[Fraction]:
    """``(1 - 1/(n+1)) alpha + e_i/(n+1)`` in exact arithmetic (``n`` = picks so far)."""
    step = Fraction(1, n + 1)
    return [(1 - step) * a + (step if j == i else 0) for j, a in enumerate(alpha)]


@dataclasses.dataclass
class GreedyPath:
    """One layer's greedy run: the picks in order (a multiset), the loss after each step and the
    subsample score (accuracy, or minus the loss for ``"mse"``) after each step; the wall time of the
    layer and the part spent in the batched candidate evaluation."""

    group: str
    width: int
    picks: list = dataclasses.field(default_factory=list)
    losses: list = dataclasses.field(default_factory=list)
    scores: list = dataclasses.field(default_factory=list)
    evaluated: int = 0
    seconds: float = 0.0
    seconds_batched: float = 0.0

    @property
    def alpha(self) -> np.ndarray:
        """The selection weights ``counts / n`` over all ``width`` channels."""
        return np.bincount(self.picks, minlength=self.width) / len(self.picks)

    @property
    def selection(self) -> Selection:
        """Distinct picks with scale ``width * count / n`` (see the module docstring)."""
        return Selection.from_picks(self.picks, self.width)


def per_example_loss(loss: str | Callable) -> Callable:
    """``(y, outputs) -> per-example loss`` for ``"crossentropy"`` (sparse, logits), ``"mse"`` or a callable."""
    if callable(loss):
        return loss
    if loss == "crossentropy":
        return lambda y, out: tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(y, tf.int32), out)
    if loss == "mse":
        def mse(y, out):
            squares = tf.square(out - tf.cast(y, out.dtype))
            return tf.reduce_mean(tf.reshape(squares, [tf.shape(out)[0], -1]), 1)
        return mse
    raise ValueError(f"loss={loss!r}: must be 'crossentropy' (sparse labels, logits), 'mse' or a callable "
                     "(y, outputs) -> per-example loss")


def score_of(loss: str | Callable, y: Any, out: Any) -> Any:
    """Per-example score: correct (1/0) for classification, minus the loss otherwise."""
    if loss == "crossentropy":
        return tf.cast(tf.equal(tf.argmax(out, -1, output_type=tf.int32), tf.cast(y, tf.int32)), tf.float32)
    return -per_example_loss(loss)(y, out)


#: Largest tiled frontier (float32 elements, 256 MiB) evaluated in one call; more candidates are chunked.
MAX_ELEMENTS = 1 << 26


class Evaluator:
    """Runs the part of ``model`` downstream of group ``name``'s readers for many scale vectors."""

    def __init__(self, model: Any, name: str, jit_compile: bool = True):
        a = graph.analyse(model)
        gid = graph.root_of(a, name)
        self.width = a.width[gid]
        consumers = set(a.consumers[gid])
        suffix, produced = set(), set()
        for node in graph.nodes(model):
            if node.layer.name in consumers or any(id(t) in produced for t in node.keras_inputs):
                suffix.add(id(node))
                produced.update(id(t) for t in tf.nest.flatten(node.outputs))
        frontier = {}
        for node in graph.nodes(model):
            if id(node) in suffix:
                frontier.update({id(t): t for t in node.keras_inputs if id(t) not in produced})
        self.frontier_ids = list(frontier)
        self.prefix = keras.Model(model.inputs, list(frontier.values())) if frontier else None
        self.maps = {}  # consumer layer name -> index of each input channel into [s, 1]
        for node in graph.nodes(model):
            if node.layer.name in consumers:
                info = a.info[id(node.keras_inputs[0])]
                self.maps[node.layer.name] = self._index_map(a, info, gid)
        self.model, self.suffix, self.outputs = model, suffix, model.outputs
        # the replay is plain Python over the graph: no AutoGraph conversion needed
        self._run = tf.function(self._forward, jit_compile=jit_compile, reduce_retracing=True, autograph=False)
        self._fallback = tf.function(self._forward, reduce_retracing=True, autograph=False)

    def _index_map(self, a, info, gid):
        """Position j of the tensor reads s[k] if it is the group's channel k, else the constant 1."""
        segments = info.segments if isinstance(info, graph.Flat) else info
        pieces = [np.arange(w) if a.find(g) == gid else np.full(w, self.width) for g, w in segments]
        index = np.concatenate(pieces)
        return np.tile(index, info.positions) if isinstance(info, graph.Flat) else index

    def _forward(self, values: list, scales: Any) -> list:
        ext = tf.concat([scales, tf.ones_like(scales[:, :1])], axis=1)

        def before(node, args):
            if node.layer.name not in self.maps:
                return args
            x = args[0][0]
            s = tf.gather(ext, self.maps[node.layer.name], axis=1)
            s = tf.reshape(s, [-1] + [1] * (x.shape.rank - 2) + [x.shape[-1]])
            return ((x * s,) + tuple(args[0][1:]), args[1])

        start = dict(zip(self.frontier_ids, values))
        new = graph.replay(self.model, lambda layer: layer, start=start, before=before, only=self.suffix)
        return [new[id(t)] for t in self.outputs]

    def frontier(self, x: Any) -> list:
        """The tensors the downstream part reads, computed once for inputs ``x``."""
        out = self.prefix(x, training=False)
        return out if isinstance(out, list) else [out]

    def __call__(self, values: list, scales: np.ndarray) -> Any:
        """Model outputs for every scale vector (rows of ``scales``) on every example:
        shape ``(len(scales) * batch, ...)``, candidate-major. Candidates go through in chunks of
        equal size (the last one padded) so that a tiled frontier stays under ``MAX_ELEMENTS``."""
        k, batch = scales.shape[0], int(values[0].shape[0])
        per_candidate = batch * sum(int(np.prod(v.shape[1:])) for v in values)
        chunk = max(1, min(k, MAX_ELEMENTS // per_candidate))
        outputs = []
        for first in range(0, k, chunk):
            part = scales[first:first + chunk]
            part = np.concatenate([part, np.repeat(part[-1:], chunk - len(part), axis=0)])
            outputs.append(self._batched(values, part)[: min(chunk, k - first) * batch])
        return outputs[0] if len(outputs) == 1 else tf.concat(outputs, axis=0)

    def _batched(self, values: list, scales: np.ndarray) -> Any:
        k = scales.shape[0]
        tiled = [tf.reshape(tf.tile(v[None], [k] + [1] * v.shape.rank), [-1] + v.shape[1:].as_list()) for v in values]
        s = tf.constant(np.repeat(scales, int(values[0].shape[0]), axis=0), tf.float32)
        if self._run is not None:
            try:
                return self._run(tiled, s)[0]
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, ValueError):
                self._run = None  # this graph does not compile with XLA here
        return self._fallback(tiled, s)[0]


def greedy_layer(model: Any, name: str, x: np.ndarray, y: np.ndarray, *, keep: int | None,
                 tolerance: float | None, reference: float | None, candidates: int, batch_size: int,
                 eval_x: np.ndarray, eval_y: np.ndarray, loss: str | Callable, rng: np.random.Generator,
                 max_steps: int | None = None, repeats: bool = False, jit_compile: bool = True,
                 bar: Any = None) -> GreedyPath:
    """Greedy forward selection on one group of ``model`` (see the module docstring)."""
    start = time.perf_counter()
    fn = per_example_loss(loss)
    ev = Evaluator(model, name, jit_compile=jit_compile)
    width = ev.width
    path = GreedyPath(name, width)
    counts = np.zeros(width)
    eval_frontier = ev.frontier(eval_x)
    keep = width if keep is None else keep
    max_steps = max_steps or 4 * width
    k = min(candidates, width)
    while len(path.picks) < max_steps:
        n = len(path.picks)
        rows = rng.choice(len(x), size=min(batch_size, len(x)), replace=False)
        pool = np.arange(width) if repeats else np.flatnonzero(counts == 0)
        if pool.size == 0:
            break
        cand = np.sort(rng.choice(pool, size=min(k, pool.size), replace=False))
        cand = np.concatenate([cand, np.full(k - cand.size, cand[-1])])  # one compiled shape per layer
        scales = np.tile(counts, (k, 1))
        scales[np.arange(k), cand] += 1
        scales *= width / (n + 1)
        tic = time.perf_counter()
        out = ev(ev.frontier(x[rows]), scales)
        losses = tf.reduce_mean(tf.reshape(fn(np.concatenate([y[rows]] * k), out), [k, -1]), axis=1).numpy()
        path.seconds_batched += time.perf_counter() - tic
        best = int(np.argmin(losses))
        counts[cand[best]] += 1
        path.picks.append(int(cand[best]))
        path.losses.append(float(losses[best]))
        path.evaluated += int(np.unique(cand).size)
        current = ev(eval_frontier, (counts * width / (n + 1))[None])
        path.scores.append(float(tf.reduce_mean(score_of(loss, eval_y, current))))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(distinct=int((counts > 0).sum()), candidates=path.evaluated)
        if int((counts > 0).sum()) >= keep:
            break
        if tolerance is not None and reference is not None and path.scores[-1] >= reference - tolerance:
            break
    path.seconds = time.perf_counter() - start
    return path


def train_steps(model: Any, optimizer: Any, x: np.ndarray, y: np.ndarray, steps: int, batch_size: int,
                rng: np.random.Generator, loss: str | Callable = "crossentropy") -> None:
    """``steps`` optimizer steps on minibatches of ``batch_size`` rows drawn with replacement."""
    fn = per_example_loss(loss)
    for _ in range(steps):
        rows = rng.integers(0, len(x), size=batch_size)
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(fn(y[rows], model(x[rows], training=True)))
        optimizer.apply_gradients(zip(tape.gradient(value, model.trainable_variables), model.trainable_variables))


def greedy(model: Any, x: np.ndarray, y: np.ndarray, keep: dict, *, tolerance: float | None = 0.02,
           candidates: int = 50, batch_size: int = 128, subsample: int = 1000, loss: str | Callable = "crossentropy",
           seed: int = 0, progress: bool = True, max_steps: int | None = None, repeats: bool = False,
           jit_compile: bool = True, finetune_steps: int = 0, learning_rate: float = 1e-3) -> tuple[dict, dict, Any]:
    """Greedy forward selection on every group in ``keep`` ({group: max distinct channels or None}),
    input to output; after each group is cut, ``finetune_steps`` Adam steps (``learning_rate``) on
    minibatches of ``x, y`` (the official code's short fine-tune between layers; 0: none).

    Returns ``({group: Selection}, {group: GreedyPath}, narrow model)``; the selections index the
    *original* model's channels, and the narrow model is ``surgery(model, selections)`` unless
    fine-tuning changed its weights."""
    check_int(candidates, "candidates", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_int(subsample, "subsample", minimum=1)
    check_int(max_steps, "max_steps", minimum=1, allow_none=True)
    check_choice(repeats, "repeats", [False, True])
    check_choice(jit_compile, "jit_compile", [False, True])
    check_int(finetune_steps, "finetune_steps", minimum=0)
    if not (is_real(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate={learning_rate!r}: must be a positive number")
    per_example_loss(loss)
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(x), size=min(subsample, len(x)), replace=False)
    eval_x, eval_y = x[sub], y[sub]
    reference = float(tf.reduce_mean(score_of(loss, eval_y, model(eval_x, training=False))))
    current, chosen, paths = model, {}, {}
    for name in tqdm(list(keep), desc="greedy selection", unit="layer", disable=not progress):
        with tqdm(total=keep[name], desc=f"  {name}", unit="step", leave=False, disable=not progress) as bar:
            path = greedy_layer(current, name, x, y, keep=keep[name], tolerance=tolerance, reference=reference,
                                candidates=candidates, batch_size=batch_size, eval_x=eval_x, eval_y=eval_y,
                                loss=loss, rng=rng, max_steps=max_steps, repeats=repeats,
                                jit_compile=jit_compile, bar=bar)
        paths[name] = path
        chosen[name] = path.selection
        current = surgery(current, {name: path.selection})
        if finetune_steps:
            train_steps(current, keras.optimizers.Adam(learning_rate), x, y, finetune_steps, batch_size, rng, loss)
    return chosen, paths, current


def selector(model: Any, x: np.ndarray, y: np.ndarray, keep: dict, *, tolerance: float | None = 0.02,
             seed: int = 0, progress: bool = True, **options: Any) -> tuple[dict, dict, Any]:
    """The ``greedy`` entry of ``SELECTORS``: :func:`greedy` with per-group details for the report."""
    chosen, paths, narrow = greedy(model, x, y, keep, tolerance=tolerance, seed=seed, progress=progress, **options)
    details = {name: {"steps": len(p.picks), "distinct": len(chosen[name]), "candidates_evaluated": p.evaluated,
                      "minibatch_loss": p.losses[-1], "subsample_score": p.scores[-1],
                      "seconds": p.seconds, "seconds_batched": p.seconds_batched} for name, p in paths.items()}
    return chosen, details, narrow
