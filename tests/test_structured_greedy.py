"""Greedy forward selection: planted solutions, a brute-force reference, exact selection weights,
and the batched evaluation against the masked model."""

from fractions import Fraction

import numpy as np
import pytest

from tfprune.backend import keras
from tfprune.structured import Selection, masked_model, surgery
from tfprune.structured.greedy import Evaluator, GreedyPath, convex_update, greedy, greedy_layer, per_example_loss

L = keras.layers
N, D = 10, 5


def two_layer(signs):
    """f(x) = (1/N) sum_i sign_i relu(w_i . x): the paper's average of neurons."""
    x = keras.Input((D,))
    h = L.Dense(N, activation="relu", use_bias=False, name="h")(x)
    model = keras.Model(x, L.Dense(1, use_bias=False, name="out")(h))
    model.get_layer("out").set_weights([np.asarray(signs, np.float32)[:, None] / N])
    return model


def planted(weights, n=400, seed=1):
    """Data whose target is sum_i weights[i] * relu(w_i . x) (weights sum to 1); neurons outside the
    target have sign -1, so they only move the output away from it."""
    model = two_layer([1.0 if w > 0 else -1.0 for w in weights])
    x = np.random.RandomState(seed).randn(n, D).astype(np.float32)
    hidden = np.maximum(x @ model.get_layer("h").get_weights()[0], 0)
    return model, x, (hidden @ np.asarray(weights, np.float32))[:, None], hidden


def brute_force_path(hidden, signs, y, steps, repeats):
    """At every step try every neuron (every unselected one without repeats) in NumPy and keep the
    one with the lowest MSE."""
    counts, path, losses = np.zeros(N), [], []
    for n in range(steps):
        trials = [np.mean(((hidden * signs) @ ((counts + np.eye(N)[i]) / (n + 1)) - y[:, 0]) ** 2)
                  if repeats or counts[i] == 0 else np.inf for i in range(N)]
        path.append(int(np.argmin(trials)))
        losses.append(min(trials))
        counts[path[-1]] += 1
    return path, losses


def run(model, x, y, keep, max_steps=None, repeats=True):
    return greedy_layer(model, "h", x, y, keep=keep, tolerance=None, reference=None, candidates=N,
                        batch_size=len(x), eval_x=x, eval_y=y, loss="mse", rng=np.random.default_rng(0),
                        max_steps=max_steps, repeats=repeats)


@pytest.mark.parametrize("repeats", [False, True])
def test_greedy_finds_exactly_the_planted_neurons_and_follows_brute_force(repeats):
    target = [0, 3, 7]
    weights = np.isin(np.arange(N), target) / len(target)
    model, x, y, hidden = planted(weights)
    path = run(model, x, y, keep=3, repeats=repeats)
    expected, losses = brute_force_path(hidden, np.where(weights > 0, 1.0, -1.0), y, 3, repeats)
    assert path.picks == expected
    assert sorted(path.picks) == target
    np.testing.assert_allclose(path.losses, losses, rtol=1e-4, atol=1e-9)
    assert path.losses[-1] < 1e-9  # the average of the planted neurons is the target
    np.testing.assert_allclose(path.alpha, weights)


def test_multiset_path_weights_equal_counts_over_steps():
    weights = np.zeros(N)
    weights[2], weights[5] = 2 / 3, 1 / 3
    model, x, y, hidden = planted(weights)
    path = run(model, x, y, keep=None, max_steps=3)
    assert path.picks == [2, 5, 2]  # neuron 2 is picked twice and weighs twice
    assert path.alpha.tolist() == (np.bincount([2, 5, 2], minlength=N) / 3).tolist()
    assert path.losses[-1] < 1e-9
    sel = path.selection
    assert sel.indices.tolist() == [2, 5] and sel.scale.tolist() == [N * 2 / 3, N * 1 / 3]


def test_convex_update_gives_counts_over_n_exactly():
    picks = [3, 1, 3, 3, 0, 1, 3]
    alpha = [Fraction(0)] * 4
    for n, i in enumerate(picks):
        alpha = convex_update(alpha, i, n)
        counts = np.bincount(picks[: n + 1], minlength=4)
        assert alpha == [Fraction(int(c), n + 1) for c in counts]
    assert GreedyPath("g", 4, picks).alpha.tolist() == [c / 7 for c in np.bincount(picks, minlength=4)]


def conv_model():
    x = keras.Input((6, 6, 2))
    h = L.Conv2D(6, 3, padding="same", name="c1")(x)
    h = L.ReLU()(L.BatchNormalization()(h))
    skip = L.Conv2D(4, 1, name="skip")(x)
    y = L.Conv2D(4, 3, padding="same", name="c2")(h)
    z = L.Flatten()(L.Concatenate()([L.Add()([y, skip]), h]))
    return keras.Model(x, L.Dense(3, name="out")(z))


@pytest.mark.parametrize("group", ["c1", "skip"])
def test_batched_evaluation_equals_the_masked_model_for_each_candidate(group):
    model = conv_model()
    x = np.random.RandomState(0).randn(5, 6, 6, 2).astype(np.float32)
    ev = Evaluator(model, group)
    scales = np.random.RandomState(1).uniform(0, 3, (4, ev.width))
    scales[0, 1] = 0.0
    out = ev(ev.frontier(x), scales).numpy().reshape(4, 5, 3)
    for k, s in enumerate(scales):
        expected = masked_model(model, {group: Selection(np.arange(ev.width), s)})(x).numpy()
        np.testing.assert_allclose(out[k], expected, atol=1e-5)


def test_chunked_evaluation_equals_one_batch(monkeypatch):
    from tfprune.structured import greedy as module

    model = conv_model()
    x = np.random.RandomState(0).randn(5, 6, 6, 2).astype(np.float32)
    ev = Evaluator(model, "c1", jit_compile=False)
    scales = np.random.RandomState(1).uniform(0, 3, (7, ev.width))
    whole = ev(ev.frontier(x), scales).numpy()
    per_candidate = 5 * sum(int(np.prod(v.shape[1:])) for v in ev.frontier(x))
    monkeypatch.setattr(module, "MAX_ELEMENTS", 3 * per_candidate)  # chunks of 3, 3 and 1 (padded)
    np.testing.assert_allclose(ev(ev.frontier(x), scales).numpy(), whole, atol=1e-6)


def test_greedy_on_a_classifier_stops_within_tolerance_or_at_the_budget():
    rng = np.random.RandomState(0)
    x = rng.randn(300, 6, 6, 2).astype(np.float32)
    model = conv_model()
    y = np.argmax(model(x).numpy(), axis=1)  # the model is perfect on its own labels
    chosen, paths, narrow = greedy(model, x, y, {"c1": 3, "skip": None}, tolerance=0.1, candidates=4,
                           batch_size=64, subsample=200, progress=False)
    assert len(chosen["c1"]) == 3 or paths["c1"].scores[-1] >= 0.9
    assert len(chosen["c1"]) <= 3
    assert paths["skip"].scores[-1] >= 0.9 or len(chosen["skip"]) == 4
    # without repeats the candidates are the unselected channels, at most 4 per step
    assert all(p.evaluated == sum(min(4, p.width - s) for s in range(len(p.picks))) for p in paths.values())
    assert all(len(set(p.picks)) == len(p.picks) for p in paths.values())
    np.testing.assert_allclose(narrow(x).numpy(), surgery(model, chosen)(x).numpy(), atol=1e-5)


def test_finetuning_between_layers_lowers_the_training_loss():
    rng = np.random.RandomState(0)
    x = rng.randn(256, D).astype(np.float32)
    inputs = keras.Input((D,))
    hidden = L.Dense(N, activation="relu", name="h")(inputs)
    model = keras.Model(inputs, L.Dense(2, name="out")(hidden))
    y = (x[:, 0] > 0).astype(np.int64)  # a task the (untrained) network does not solve yet
    options = dict(tolerance=None, candidates=N, batch_size=64, progress=False, jit_compile=False)
    chosen, _, plain = greedy(model, x, y, {"h": 4}, **options)
    chosen_ft, _, tuned = greedy(model, x, y, {"h": 4}, finetune_steps=40, learning_rate=0.05, **options)
    assert chosen_ft["h"].indices.tolist() == chosen["h"].indices.tolist()  # same seed, same path
    loss = lambda m: float(np.mean(per_example_loss("crossentropy")(y, m(x)).numpy()))  # noqa: E731
    assert loss(tuned) < loss(plain)
