"""The model zoo as a test matrix: tf_keras.applications models and hand-built layers, each
pruned with LAMP, ERK and uniform to exactly the asked survivor count over all its prunable
weights, with the layers left dense exactly those TF-MOT cannot prune; trained a few steps
with and without XLA (the mask does not move), stripped (equal outputs), exported to a
verified TFLite file, pruned at initialisation, and offered to plain TF-MOT.

The models and steps are in ``zoo_cases.py`` (also used by ``benchmarks/zoo_table.py``, which
writes docs/models.md). Run alone with ``python -m pytest -m zoo``.
"""

import functools
import os
import tempfile

import numpy as np
import pytest

import tfprune
from tfprune.allocation import budget
from tfprune.backend import keras, tfmot

import zoo_cases as zoo

pytestmark = pytest.mark.zoo

BN, DW = "BatchNormalization", "DepthwiseConv2D"

# case: (prunable weights, prunable params, types of the layers left dense, plain TF-MOT's result)
EXPECTED = {
    "ResNet50": (54, 23475392, {BN}, "accepts"),
    "MobileNetV2": (36, 2138336, {BN, DW}, "accepts"),
    "MobileNetV3Small": (43, 1453488, {BN, DW}, "refuses Rescaling"),
    "EfficientNetB0": (66, 3786976, {BN, DW, "Normalization"}, "refuses Rescaling"),
    "DenseNet121": (121, 6880448, {BN}, "accepts"),
    "Xception": (41, 20565472, {BN}, "accepts"),
    "NASNetMobile": (197, 3921231, {BN}, "accepts"),
    "ConvNeXtTiny": (59, 27763680, {"LayerNormalization", "LayerScale"}, "refuses Normalization"),
    # MultiHeadAttention (4 kernels of 16 x 2 heads x 8), the feed-forward network, the head
    "transformer": (7, 4 * 16 * 2 * 8 + 16 * 32 + 32 * 16 + 16 * 10, {"LayerNormalization"}, "accepts"),
    "lstm": (3, 5 * 4 * 8 + 8 * 4 * 8 + 8 * 10, set(), "accepts"),  # kernel, recurrent kernel, head
    "gru": (3, 5 * 3 * 8 + 8 * 3 * 8 + 8 * 10, set(), "accepts"),
    "conv1d": (2, 3 * 4 * 8 + 8 * 10, set(), "accepts"),
    "conv2d_transpose": (3, 3 * 3 * 3 * 8 + 3 * 3 * 4 * 8 + 8 * 8 * 4 * 10, set(), "accepts"),
    "separable_depthwise": (2, 3 * 8 + 8 * 10, {BN, DW}, "accepts"),  # the pointwise kernel, the head
    "nested_sequential": (4, 12 * 16 + 2 * 16 * 16 + 16 * 10, set(), "accepts"),
    "shared_layer": (3, 12 * 16 + 16 * 16 + 16 * 10, set(), "accepts"),  # the shared kernel counts once
}

#: (case, step) -> a known tfprune defect, as a strict xfail (fixing it makes the test ask for removal)
DEFECTS = {}


def expect_defect(request, case, step):
    reason = DEFECTS.get((case.name, step))
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


@pytest.fixture(scope="module", params=zoo.CASES, ids=lambda case: case.name)
def case(request):
    return request.param


@pytest.fixture(scope="module")
def model(case):
    """The case's model, built once for all of its tests (they do not modify it)."""
    return case.model()


@pytest.fixture(scope="module")
def pruned(model):
    """The model pruned one-shot to 90% with LAMP, once for all tests of the case (read only)."""
    return zoo.fresh_pruned(model, "lamp")


def walk(model):
    """Every non-model layer, nested sub-models flattened (each layer once)."""
    for layer in model.layers:
        yield from walk(layer) if isinstance(layer, keras.Model) else [layer]


def tfmot_prunable(layer):
    """The weights TF-MOT's own wrapper prunes in ``layer`` ([] when it refuses the layer)."""
    try:
        return tfmot.sparsity.keras.prune_low_magnitude(layer).layer.get_prunable_weights()
    except ValueError:
        return []


def survivors(case):
    return budget.survivors(EXPECTED[case.name][1], zoo.SPARSITY)


def test_the_prunable_weights_are_those_tf_mot_prunes(case, model):
    weights, params, dense, _ = EXPECTED[case.name]
    assert len(tfprune.layers.prunable(model)) == weights
    assert zoo.totals(model)[0] == params  # (a random init can hold a few exact zeros: ResNet50 has 3)
    assert set(zoo.dense_types(model)) == dense
    # TF-MOT's own wrapper, layer by layer: the same weights, and nothing in the layers left dense
    layers = [layer for layer in walk(model) if layer.weights]
    by_tfmot = [tfmot_prunable(layer) for layer in layers]
    assert sum(sum(int(np.prod(w.shape)) for w in ws) for ws in by_tfmot) == params
    assert {type(layer).__name__ for layer, ws in zip(layers, by_tfmot) if not ws} == dense


@pytest.mark.parametrize("allocation", zoo.ALLOCATIONS)
def test_prune_keeps_exactly_the_survivors(case, model, pruned, allocation):
    expected = (EXPECTED[case.name][1], survivors(case))
    if allocation != "lamp" and not case.wrap_each:  # large models: wrapped once, with LAMP (time)
        assert zoo.one_shot_totals(model, allocation) == expected
        return
    result = pruned if allocation == "lamp" else zoo.fresh_pruned(model, allocation)
    assert zoo.totals(result) == expected
    assert set(zoo.dense_types(result)) == EXPECTED[case.name][2]


def test_strip_gives_the_wrapped_models_outputs_and_zeros(case, pruned):
    model = pruned
    x, _ = zoo.inputs(model)
    stripped = tfprune.strip(model)
    assert not tfprune.is_pruned(stripped)
    np.testing.assert_allclose(stripped(x, training=False).numpy(), model(x, training=False).numpy(), atol=1e-5)
    assert zoo.totals(stripped) == (EXPECTED[case.name][1], survivors(case))


def masks(model):
    return {key: weight.mask.numpy() for key, weight in tfprune.layers.prunable(model).items()}


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager-graph", "xla"])
def test_training_does_not_move_the_one_shot_masks(case, model, jit_compile):
    if jit_compile not in case.fit:
        pytest.skip("training runs on the hand-built models, and without XLA on MobileNetV3Small (time)")
    pruned = zoo.fresh_pruned(model, "erk" if jit_compile else "uniform")
    before = masks(pruned)
    weights = [w.numpy() for w in pruned.trainable_weights]
    zoo.fit(pruned, jit_compile)
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(weights, pruned.trainable_weights))  # it trained
    after = masks(pruned)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert zoo.totals(pruned) == (EXPECTED[case.name][1], survivors(case))


def test_export_writes_a_verified_file_that_keeps_the_zeros(case, pruned, tmp_path):
    if case.skip_export:
        pytest.skip(case.skip_export)
    if not case.export:
        pytest.skip("export runs on the cheaper models only (time)")
    result = zoo.export(pruned, str(tmp_path))
    assert result.max_abs_error <= 1e-5
    assert result.warnings == []
    assert result.layers and all(row.zeros_kept for row in result.layers)


@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_recurrent_models_export_once_unrolled(tmp_path, layer):
    result = zoo.export(zoo.fresh_pruned(zoo.recurrent(layer, unroll=True)()), str(tmp_path))
    assert result.max_abs_error <= 1e-5
    assert result.warnings == []


@functools.lru_cache(maxsize=None)
def refusal(layer):
    """``(error message, files left behind)`` of exporting the pruned recurrent model (converted once)."""
    with tempfile.TemporaryDirectory() as folder:
        with pytest.raises(tfprune.export.ExportError, match="rejected the model") as refused:
            zoo.export(zoo.fresh_pruned(zoo.recurrent(layer)()), folder)
        return str(refused.value), os.listdir(folder)


@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_recurrent_export_without_unroll_is_refused_and_writes_nothing(layer):
    assert refusal(layer)[1] == []


@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_recurrent_export_refusal_says_unroll_makes_it_convertible(request, layer):
    expect_defect(request, zoo.BY_NAME[layer.lower()], "export_message")
    assert "unroll=True" in refusal(layer)[0]


@pytest.mark.parametrize("score", ["synflow", "snip"])
def test_prune_at_init_keeps_exactly_the_survivors(case, model, score):
    if not case.at_init:
        pytest.skip("pruning at initialisation runs on a few small models (time)")
    pruned = zoo.at_init(model, score)
    n = EXPECTED[case.name][1]
    if score == "synflow":  # the official loop's count: SynFlow's own masks, N - int(S N) less tied scores
        from tfprune.scoring import synflow

        kept = sum(int(m.sum()) for m in synflow.run(model, zoo.SPARSITY, **zoo.SYNFLOW_OPTIONS).masks.values())
        assert zoo.totals(pruned) == (n, kept) and kept <= n - int(zoo.SPARSITY * n)
    else:
        assert zoo.totals(pruned) == (n, survivors(case))


def test_plain_tf_mot_on_the_whole_model(case, model):
    # the last test of each case: TF-MOT's clone wraps the model's own layers (they gain call nodes)
    assert zoo.tfmot_result(model) == EXPECTED[case.name][3]
