"""Every registered allocation and scorer passes the same conformance checks, including methods
registered by a user: adding a method is one file plus one ``register(...)``, and prune,
prune_at_init and the tuner's search space pick it up with no other edit."""

import numpy as np
import pytest

import tfprune
from tfprune import allocation, scoring
from tfprune.allocation import budget
from tfprune.backend import keras
from tfprune.layers import prunable_weights
from tfprune.schedules import Gradual

# ----------------------------------------------------------------------------- toy methods


def first_dense(weights, sparsity):
    """Toy: the first weight dense, the others share the rest of the budget evenly."""
    sizes = budget.sizes_of(weights)
    keys = list(sizes)
    keep_total = budget.survivors(sum(sizes.values()), sparsity)
    rest = {k: sizes[k] for k in keys[1:]}
    left = keep_total - sizes[keys[0]]
    if not rest or left < 0:
        return allocation.uniform(weights, sparsity)
    share = left / sum(rest.values())
    keep = {keys[0]: sizes[keys[0]], **budget.apportion({k: n * share for k, n in rest.items()}, left, upper=rest)}
    return budget.to_sparsity(keep, sizes)


def row_index_scores(model, data=None, *, exclude=None):
    """Toy: later rows score higher (data-free, deterministic)."""
    return {k: np.broadcast_to(np.arange(w.shape[0], dtype=np.float64).reshape((-1,) + (1,) * (w.ndim - 1)),
                               w.shape).copy()
            for k, w in prunable_weights(model, exclude).items()}


@pytest.fixture(scope="module", autouse=True)
def _toys():
    """The toy methods are registered while this module's tests run (one registration each)."""
    allocation.register("toy-first-dense", first_dense, uses_values=False)
    scoring.register("toy-row-index", row_index_scores, needs_data=False)
    yield
    allocation.ALLOCATIONS.unregister("toy-first-dense")
    scoring.SCORERS.unregister("toy-row-index")


ALLOCATION_NAMES = [*allocation.ALLOCATIONS, "toy-first-dense"]
SCORER_NAMES = [*scoring.SCORERS, "toy-row-index"]


def cnn():
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
         keras.layers.Flatten(), keras.layers.Dense(16, activation="relu", name="hidden"),
         keras.layers.Dense(10, name="out")]
    )


def random_weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"conv/kernel": rng.normal(size=(3, 3, 1, 4)), "hidden/kernel": rng.normal(size=(144, 16)),
            "out/kernel": rng.normal(size=(16, 10))}


DIGITS = (np.random.default_rng(0).random((40, 8, 8, 1)).astype("float32"), np.arange(40) % 10)

# ----------------------------------------------------------------------------- allocations


@pytest.mark.parametrize("name", ALLOCATION_NAMES)
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_allocation_hits_the_target_exactly_and_is_deterministic(name, sparsity):
    weights = random_weights()
    sizes = budget.sizes_of(weights)
    result = allocation.allocate(name, weights, sparsity)
    assert list(result) == list(weights)
    assert all(0.0 <= s <= 1.0 for s in result.values())
    keep = sum(round(sizes[k] * (1 - s)) for k, s in result.items())
    assert keep == budget.survivors(sum(sizes.values()), sparsity)
    assert result == allocation.allocate(name, weights, sparsity)
    assert all(s < 1.0 for s in result.values())  # no weight emptied at these targets


@pytest.mark.parametrize("name", ALLOCATION_NAMES)
def test_allocation_facts_are_true(name):
    entry = allocation.ALLOCATIONS[name]
    a, b = random_weights(0), random_weights(1)
    same = allocation.allocate(name, a, 0.8) == allocation.allocate(name, b, 0.8)
    if not entry.uses_values:
        assert same  # shapes only
    if entry.adaptive:
        assert entry.uses_values


@pytest.mark.parametrize("name", ALLOCATION_NAMES)
def test_every_allocation_prunes_through_prune_prune_at_init_and_the_tuner(name):
    model = cnn()
    weights = prunable_weights(model)
    expected = allocation.allocate(name, weights, 0.75)
    rows = tfprune.sparsity_summary(tfprune.prune(model, 0.75, allocation=name))["layers"]
    assert {r["key"]: r["nonzeros"] for r in rows} == {
        k: round(w.size * (1 - expected[k])) for k, w in weights.items()
    }
    at_init, report = tfprune.prune_at_init(model, 0.75, score="magnitude", allocation=name, warn=False)
    assert report["allocation"] == name
    total = tfprune.sparsity_summary(at_init)["total"]
    assert total["nonzeros"] == budget.survivors(total["params"], 0.75)
    from tfprune.tuning import PruningHyperModel

    assert name in PruningHyperModel(lambda hp: cnn()).allocations


@pytest.mark.parametrize("name", ALLOCATION_NAMES)
def test_adaptive_allocations_are_refreshed_during_training(name):
    pruned = tfprune.prune(cnn(), allocation=name, schedule=Gradual(0.8, end_step=4, frequency=2))
    kinds = {type(c).__name__ for c in tfprune.callbacks(pruned)}
    assert "RefreshAllocation" in kinds  # every allocation is recomputed on the surviving weights
    fixed = tfprune.prune(cnn(), allocation=name, schedule=Gradual(0.8, end_step=4, frequency=2), reallocate=False)
    kinds = {type(c).__name__ for c in tfprune.callbacks(fixed)}
    assert ("RefreshAllocation" in kinds) == allocation.ALLOCATIONS[name].adaptive
    pruned.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    pruned.fit(*DIGITS, batch_size=10, epochs=1, verbose=0, callbacks=tfprune.callbacks(pruned))
    total = tfprune.sparsity_summary(pruned)["total"]
    assert total["nonzeros"] == budget.survivors(total["params"], 0.8)


# ----------------------------------------------------------------------------- scorers


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_scorer_keys_shapes_purity_and_determinism(name):
    entry = scoring.SCORERS[name]
    model = cnn()
    before = [w.copy() for w in model.get_weights()]
    data = DIGITS if entry.needs_data else None
    options = {"seed": 3} if entry.seeded else {}
    if entry.runner:
        options["iterations"] = 5
    scorer = entry.load()
    scores = scorer(model, data, **options)
    weights = prunable_weights(model)
    assert list(scores) == list(weights)
    assert all(scores[k].shape == w.shape and np.all(np.isfinite(scores[k])) for k, w in weights.items())
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # scoring changes nothing
    again = scorer(model, data, **options)
    for k in scores:
        np.testing.assert_array_equal(scores[k], again[k])


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_every_scorer_prunes_at_init_exactly_and_is_in_the_tuner(name):
    entry = scoring.SCORERS[name]
    options = {"iterations": 5} if entry.runner else {}
    data = DIGITS if entry.needs_data else None
    pruned, report = tfprune.prune_at_init(cnn(), 0.8, score=name, data=data, score_options=options, warn=False)
    total = tfprune.sparsity_summary(pruned)["total"]
    assert total["nonzeros"] == budget.survivors(total["params"], 0.8)
    assert report["score"] == name and report["rescaled"] == entry.rescale
    if entry.needs_data:
        with pytest.raises(ValueError, match=f"data=None: score={name!r} is data-driven"):
            tfprune.prune_at_init(cnn(), 0.8, score=name)
    from tfprune.tuning import PruningHyperModel

    assert name in PruningHyperModel(lambda hp: cnn(), schedule="at_init", score=name).scores


def test_the_toy_scorer_keeps_the_last_rows():
    pruned, _ = tfprune.prune_at_init(cnn(), 0.5, score="toy-row-index", allocation="uniform", warn=False)
    kernel = prunable_weights(pruned)["hidden/kernel"]
    assert np.count_nonzero(kernel[:72]) == 0 and np.all(kernel[72:] != 0)


def test_register_refuses_taken_names_and_unknown_facts():
    with pytest.raises(ValueError, match="name='lamp': the allocation registry has it already"):
        allocation.register("lamp", first_dense)
    with pytest.raises(ValueError, match=r"\['needs_data'\]: not facts the allocation registry knows"):
        allocation.register("x", first_dense, needs_data=True)
    with pytest.raises(TypeError, match="expected a callable"):
        scoring.register("y", 3)


def test_registered_methods_are_command_line_choices():
    from tfprune.cli.prune import prune_command
    from tfprune.cli.prune_at_init import prune_at_init_command

    def choices(command, option):
        param = next(p for p in command.params if p.name == option)
        return param.type.choices()

    assert "toy-first-dense" in choices(prune_command, "allocation")
    assert "toy-first-dense" in choices(prune_at_init_command, "allocation")
    assert "toy-row-index" in choices(prune_at_init_command, "score")
