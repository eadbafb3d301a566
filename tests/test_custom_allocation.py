"""An unregistered allocation function on a gradual schedule: the model ``prune`` returns keeps
the function itself (not its ``__name__``), and a saved model asks for it again instead of
continuing with another allocation."""

import numpy as np
import pytest

import tfprune
from tfprune.allocation import uniform as builtin_uniform
from tfprune.backend import keras
from tfprune.schedules import Gradual

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 12)).astype("float32")
Y = RNG.integers(0, 4, 64)
# frequency 2 from step 0 to 6: pruning steps 0, 2, 4, 6 over 8 steps of batch 8
SCHEDULE = dict(end_step=6, frequency=2)
PRUNING_STEPS = 4


def mlp():
    return keras.Sequential([keras.layers.Dense(16, activation="relu", input_shape=(12,), name="a"),
                             keras.layers.Dense(4, name="b")])


def recording(calls):
    """An allocation called ``uniform`` (the name of a registered one) that records every call."""

    def uniform(weights, sparsity):
        calls.append(float(sparsity))
        return builtin_uniform(weights, sparsity)

    return uniform


def fit(model, allocation=None):
    model.compile(keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0, shuffle=False,
              callbacks=tfprune.callbacks(model, allocation=allocation))
    return model


def test_the_function_itself_runs_every_reallocation_not_a_registered_namesake():
    calls = []
    pruned = tfprune.prune(mlp(), allocation=recording(calls), schedule=Gradual(0.75, **SCHEDULE))
    at_prune = len(calls)  # the final and the first event's allocation
    assert at_prune == 2
    fit(pruned)
    assert len(calls) == at_prune + PRUNING_STEPS
    assert calls[-1] == pytest.approx(0.75, abs=0.05)  # the last step asks for the target, given the zeros
    total = tfprune.sparsity_summary(pruned)["total"]
    assert total["nonzeros"] == tfprune.allocation.budget.survivors(total["params"], 0.75)


def test_a_lambda_trains_too():
    calls = []
    pruned = tfprune.prune(mlp(), allocation=lambda w, s: calls.append(s) or builtin_uniform(w, s),
                           schedule=Gradual(0.5, **SCHEDULE))
    fit(pruned)
    assert len(calls) == 2 + PRUNING_STEPS


def test_an_unregistered_function_is_recorded_as_none_and_kept_in_memory():
    function = recording([])
    pruned = tfprune.prune(mlp(), allocation=function, schedule=Gradual(0.5, **SCHEDULE))
    schedules = [layer.pruning_schedule for layer in pruned.layers]
    assert [s.allocation for s in schedules] == [None, None]
    assert all(s.function is function for s in schedules)
    assert all(s.get_config()["config"]["allocation"] is None for s in schedules)


def test_a_registered_function_passed_as_a_callable_is_recorded_by_name():
    pruned = tfprune.prune(mlp(), allocation=builtin_uniform, schedule=Gradual(0.5, **SCHEDULE))
    assert [(layer.pruning_schedule.allocation, layer.pruning_schedule.function) for layer in pruned.layers] == [
        ("uniform", None), ("uniform", None)]


def test_a_saved_model_asks_for_the_function_before_training(tmp_path):
    calls = []
    pruned = tfprune.prune(mlp(), allocation=recording(calls), schedule=Gradual(0.75, **SCHEDULE))
    path = str(tmp_path / "model.keras")
    pruned.save(path)
    loaded = tfprune.load_model(path)
    with pytest.raises(ValueError, match=r"allocation=None: this model was pruned with an unregistered allocation"):
        tfprune.callbacks(loaded)
    with pytest.raises(ValueError, match=r"allocation='lamb': unknown"):
        tfprune.callbacks(loaded, allocation="lamb")
    before = len(calls)
    fit(loaded, allocation=recording(calls))
    assert len(calls) == before + PRUNING_STEPS
