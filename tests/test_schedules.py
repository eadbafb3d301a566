"""Schedules: exact event tables, graph == Python, serialization, validation."""

import numpy as np
import pytest

from tfprune import schedules
from tfprune.backend import keras, tf

ALL = [
    schedules.OneShot(0.8),
    schedules.Gradual(0.9, end_step=50, begin_step=5, frequency=7),
    schedules.Gradual(0.5, end_step=10, begin_step=10),
    schedules.Iterative(0.9, steps_per_round=6, rate=0.3, begin_step=2),
]


def test_gradual_follows_cubic_and_reaches_target_at_end_step():
    g = schedules.Gradual(0.9, end_step=21, begin_step=1, frequency=10)
    assert g.pruning_steps() == [1, 11, 21]
    assert g.sparsity_at(1) == 0.0
    assert g.sparsity_at(11) == pytest.approx(0.9 * (1 - 0.5**3))
    assert g.sparsity_at(21) == 0.9
    assert g.sparsity_at(1000) == 0.9


def test_gradual_adds_end_step_when_frequency_skips_it():
    assert schedules.Gradual(0.5, end_step=10, begin_step=1, frequency=4).pruning_steps() == [1, 5, 9, 10]


def test_iterative_is_twenty_percent_of_remaining_per_round():
    it = schedules.Iterative(1 - 0.8**19, steps_per_round=3)
    assert it.rounds == 19
    assert it.pruning_steps() == [1 + 3 * k for k in range(19)]
    for k, (_, s) in enumerate(it.events):
        assert s == pytest.approx(1 - 0.8 ** (k + 1))
    assert it.total_steps == 57


def test_iterative_last_round_is_capped_at_target():
    it = schedules.Iterative(0.5, steps_per_round=2, rate=0.2)
    assert it.rounds == 4
    assert it.events[-1][1] == 0.5


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_graph_agrees_with_python(schedule):
    call = tf.function(schedule.__call__)
    events = dict(schedule.events)
    for step in range(0, 70):
        should_prune, sparsity = call(tf.constant(step, tf.int64))
        assert bool(should_prune) == (step in events)
        expected = schedule.sparsity_at(step) if schedule.events else schedule.sparsity
        assert float(sparsity) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    restored = keras.utils.deserialize_keras_object(schedule.get_config())
    assert type(restored) is type(schedule)
    assert restored.events == schedule.events


def test_layer_schedule_scales_fixed_targets_and_reads_adaptive_variable():
    g = schedules.Gradual(0.8, end_step=11, begin_step=1, frequency=5)
    fixed = schedules.LayerSchedule(g, 0.4)
    _, value = fixed(tf.constant(6, tf.int64))
    assert float(value) == pytest.approx(0.4 * g.sparsity_at(6) / 0.8, rel=1e-6)
    adaptive = schedules.LayerSchedule(g, 0.3, adaptive=True)
    adaptive.target.assign([0.55])
    assert float(adaptive(tf.constant(6, tf.int64))[1]) == pytest.approx(0.55)
    restored = keras.utils.deserialize_keras_object(adaptive.get_config())
    assert float(restored.target.numpy()[0]) == pytest.approx(0.55) and restored.adaptive


@pytest.mark.parametrize("schedule", [s for s in ALL if s.events], ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("adaptive", [False, True])
def test_layer_schedule_numpy_targets_equal_the_graph_bit_for_bit(schedule, adaptive):
    """What the callbacks' mask update reads (``sparsities_at``) is exactly, in float32, what the
    graph's per-weight schedule gives at every pruning step, for awkward targets. (A OneShot
    schedule has no pruning steps: the callbacks never ask it.)"""
    targets = np.float32([0.0, 0.1, 1 / 3, 0.7777777, 0.95, 1.0])
    layer = schedules.LayerSchedule(schedule, targets, adaptive=adaptive)
    graph = [tf.function(layer.for_weight(i)) for i in range(len(targets))]
    for step in schedule.pruning_steps():
        ours = layer.sparsities_at(step)
        assert ours.dtype == np.float32
        theirs = np.float32([float(f(tf.constant(step, tf.int64))[1]) for f in graph])
        np.testing.assert_array_equal(ours, theirs, err_msg=f"step {step}")


def test_layer_schedule_holds_one_target_per_weight():
    g = schedules.Gradual(0.8, end_step=11, begin_step=1, frequency=5)
    two = schedules.LayerSchedule(g, [0.2, 0.6])
    step = tf.constant(6, tf.int64)
    ramp = g.sparsity_at(6) / 0.8
    assert float(two.for_weight(0)(step)[1]) == pytest.approx(0.2 * ramp, rel=1e-6)
    assert float(two.for_weight(1)(step)[1]) == pytest.approx(0.6 * ramp, rel=1e-6)
    assert float(two(step)[1]) == pytest.approx(0.4 * ramp, rel=1e-6)  # the mean, for TF-MOT's summaries
    restored = keras.utils.deserialize_keras_object(two.get_config())
    np.testing.assert_allclose(restored.target.numpy(), [0.2, 0.6])
    with pytest.raises(ValueError, match="one sparsity per prunable weight"):
        schedules.LayerSchedule(g, [])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: schedules.Gradual(0.9, end_step=5, begin_step=10), "end_step=5"),
        (lambda: schedules.Gradual(0.9, end_step=5, frequency=0), "frequency=0"),
        (lambda: schedules.Gradual(0.9, end_step=5, power=0), "power=0"),
        (lambda: schedules.Gradual(0.5, end_step=5, initial_sparsity=0.6), "initial_sparsity=0.6"),
        (lambda: schedules.Gradual(1.0, end_step=5), r"sparsity=1\.0"),
        (lambda: schedules.Iterative(0.9, steps_per_round=0), "steps_per_round=0"),
        (lambda: schedules.Iterative(0.9, steps_per_round=5, rate=1.0), "rate=1.0"),
        (lambda: schedules.Iterative(0.9, steps_per_round=5, begin_step=3, rewind_step=4), "rewind_step=4"),
        (lambda: schedules.Gradual(0.9, end_step=2.5), "end_step=2.5"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
