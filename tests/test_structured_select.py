"""select(): the SELECTORS registry, the L1 and random baselines, the report, argument errors."""

import numpy as np
import pytest

from tfprune.backend import keras
from tfprune.structured import SELECTORS, Selection, count_flops, count_params, register, select
from tfprune.structured.baselines import l1, lamp

L = keras.layers


def mlp(seed=0):
    init = keras.initializers.GlorotUniform(seed=seed)
    x = keras.Input((8,))
    h = L.Dense(8, activation="relu", kernel_initializer=init, name="h")(x)
    h = L.Dense(6, activation="relu", kernel_initializer=init, name="g")(h)
    return keras.Model(x, L.Dense(3, kernel_initializer=init, name="out")(h))


def data(n=120):
    rng = np.random.RandomState(0)
    return rng.randn(n, 8).astype(np.float32), rng.randint(0, 3, n)


def test_registry_lists_the_methods_with_their_facts():
    assert SELECTORS.names() == ["greedy", "l1", "lamp", "random"]
    assert SELECTORS["greedy"].tolerance and SELECTORS["greedy"].uses_data
    assert not SELECTORS["l1"].tolerance and SELECTORS.names(uses_data=False) == ["l1", "lamp", "random"]


def test_l1_keeps_the_filters_of_largest_norm():
    model = mlp()
    kernel = np.zeros((8, 8), np.float32)
    kernel[:, [5, 2, 7]] = [3.0, 2.0, 1.0]  # norms 24, 16, 8; the rest 0 (ties: lower index)
    model.get_layer("h").set_weights([kernel, np.zeros(8, np.float32)])
    chosen, _ = l1(model, None, None, {"h": 4})
    assert chosen["h"].indices.tolist() == [0, 2, 5, 7]


def test_lamp_keeps_the_channels_of_largest_summed_lamp_score():
    model = mlp()
    kernel = np.random.default_rng(1).normal(size=(8, 8)).astype(np.float32)
    model.get_layer("h").set_weights([kernel, np.zeros(8, np.float32)])
    squares = np.square(kernel.astype(np.float64)).reshape(-1)
    brute = np.array([s / squares[squares >= s].sum() for s in squares]).reshape(8, 8)  # distinct values
    expected = np.argsort(-brute.sum(axis=0), kind="stable")[:3]
    chosen, _ = lamp(model, None, None, {"h": 3})
    assert chosen["h"].indices.tolist() == sorted(expected.tolist())


def test_select_l1_report_counts_match_the_narrow_model():
    model = mlp()
    small, report = select(model, data(), "l1", width=0.5, progress=False)
    assert report.widths == {"h": {"before": 8, "after": 4}, "g": {"before": 6, "after": 3}}
    assert report.params_before == 8 * 8 + 8 + 8 * 6 + 6 + 6 * 3 + 3
    assert report.params_after == count_params(small) == 8 * 4 + 4 + 4 * 3 + 3 + 3 * 3 + 3
    assert report.flops_after == count_flops(small) == 2 * (8 * 4 + 4 * 3 + 3 * 3)
    assert report.accuracy_data == "selection data" and 0 <= report.accuracy_after <= 1
    assert "h" in report.format() and report.to_dict()["widths"]["g"]["after"] == 3


def test_random_is_seeded_and_layers_restricts_the_groups():
    model = mlp()
    a, _ = select(model, data(), "random", width=0.25, layers=["g"], seed=3, progress=False)
    b, report = select(model, data(), "random", width=0.25, layers=["g"], seed=3, progress=False)
    assert list(report.widths) == ["g"] and report.widths["g"]["after"] == 2  # round(0.25 * 6) = 2
    assert a.get_layer("h").units == 8
    np.testing.assert_array_equal(a.get_layer("out").get_weights()[0], b.get_layer("out").get_weights()[0])


def test_greedy_with_a_tolerance_reaches_it_on_the_subsample():
    x, _ = data(200)
    model = mlp()
    y = np.argmax(model(x).numpy(), axis=1)
    small, report = select(model, (x, y), "greedy", tolerance=0.05, candidates=8, subsample=200, progress=False)
    for name, detail in report.details.items():
        width = report.widths[name]
        assert detail["subsample_score"] >= 1 - 0.05 or width["after"] == width["before"]
        assert detail["steps"] == detail["distinct"] == width["after"]


def test_progress_bars_show_unless_disabled(capsys):
    x, y = data(60)
    select(mlp(), (x, y), "greedy", width=0.5, candidates=2, progress=False, jit_compile=False)
    assert capsys.readouterr().err == ""
    select(mlp(), (x, y), "greedy", width=0.5, candidates=2, progress=True, jit_compile=False)
    err = capsys.readouterr().err
    assert "greedy selection" in err and "candidates=" in err


def test_a_registered_selector_is_used_by_select():
    @register("first", summary="the first channels")
    def first(model, x, y, keep, *, tolerance=None, seed=0, progress=True):
        return {name: Selection(np.arange(k)) for name, k in keep.items()}, {}

    try:
        small, report = select(mlp(), data(), "first", width=0.5, progress=False)
        assert report.method == "first" and small.get_layer("g").units == 3
    finally:
        SELECTORS.unregister("first")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"method": "obd", "width": 0.5}, ValueError,
     r"method='obd': unknown; choose one of \['greedy', 'l1', 'lamp', 'random'\]"),
    ({"width": 0.0}, ValueError, r"width=0.0: must be a number in \(0, 1\]"),
    ({"width": "half"}, ValueError, "width='half'"),
    ({"method": "l1"}, ValueError, "width=None: method='l1' needs width"),
    ({"method": "l1", "tolerance": 0.02}, ValueError, "method='l1' has no stopping rule"),
    ({"tolerance": 2}, ValueError, r"tolerance=2: must be a number in \[0, 1\]"),
    ({"method": "l1", "width": 0.5, "candidates": 3}, TypeError, r"\['candidates'\]: not options of method='l1'"),
    ({"width": 0.5, "candidates": 0}, ValueError, "candidates=0: must be an integer >= 1"),
    ({"width": 0.5, "loss": "hinge"}, ValueError, "loss='hinge'"),
    ({"width": 0.5, "layers": ["out"]}, ValueError,
     r"\['out'\] are not prunable channel groups; choose from \['h', 'g'\]"),
    ({"width": 0.5, "seed": -1}, ValueError, "seed=-1"),
])
def test_bad_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        select(mlp(), data(), progress=False, **kwargs)


X4 = np.zeros((4, 8), np.float32)


@pytest.mark.parametrize("data, error, match", [
    (X4, TypeError, "data=ndarray"),
    ((X4, np.zeros(3)), ValueError, r"x has 4 examples but y has 3 \(select, selection data\)"),
    ((np.zeros((0, 8)), np.zeros(0)), ValueError, r"data: no examples"),
    ((np.zeros((4, 5)), np.zeros(4)), ValueError, r"x has shape \(4, 5\) but the model expects .*\(None, 8\)"),
    ((X4, np.array([0, 1, 2, 3])), ValueError, r"labels range over \[0, 3\] but the model has 3 classes"),
    ((X4, np.array([0, -1, 2, 1])), ValueError, r"labels range over \[-1, 2\]"),
    ((X4, np.array([0.0, 0.5, 1.0, 2.0])), ValueError, "y must hold integer class indices"),
    ((X4, np.eye(3)[[0, 1, 2, 0]]), ValueError, r"y has shape \(4, 3\); expected \(4,\) class indices \("),
    ((X4, np.array(["a", "b", "c", "a"])), ValueError, "y must hold integer class indices"),
])
def test_bad_data_is_refused_before_any_work(data, error, match):
    """Labels out of range would make the sparse cross-entropy fail deep in TensorFlow on a CPU and
    return NaN losses on a GPU (every candidate tied: a silently wrong selection)."""
    with pytest.raises(error, match=match):
        select(mlp(), data, "greedy", width=0.5, progress=False)



def test_select_returns_the_model_greedy_finetuned_between_layers():
    x, y = data(60)
    options = dict(width=0.5, candidates=2, progress=False, jit_compile=False)
    plain, _ = select(mlp(), (x, y), "greedy", **options)
    tuned, report = select(mlp(), (x, y), "greedy", finetune_steps=5, learning_rate=0.05, **options)
    assert report.params_after == count_params(tuned) == count_params(plain)
    assert np.abs(tuned.get_layer("out").get_weights()[0] - plain.get_layer("out").get_weights()[0]).max() > 1e-4
