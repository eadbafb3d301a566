"""Linear CKA (Kornblith et al. 2019): exact properties and agreement with the Gram-matrix form."""

import numpy as np
import pytest

from tfprune.backend import keras
from tfprune.diagnostics.cka import cka, linear_cka


def gram_cka(x, y, debiased=False):
    """CKA written directly from Gram matrices: HSIC = tr(K H L H), or Song et al.'s unbiased HSIC."""
    k, l = x @ x.T, y @ y.T
    n = len(k)
    if not debiased:
        h = np.eye(n) - np.ones((n, n)) / n
        hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    else:
        def hsic(a, b):
            a, b = a - np.diag(np.diag(a)), b - np.diag(np.diag(b))
            one = np.ones(n)
            return (np.trace(a @ b) + one @ a @ one * (one @ b @ one) / ((n - 1) * (n - 2))
                    - 2.0 / (n - 2) * one @ a @ b @ one) / (n * (n - 3))
    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


@pytest.fixture
def features():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6))
    y = x @ rng.normal(size=(6, 4)) + 0.5 * rng.normal(size=(40, 4))
    return x, y


@pytest.mark.parametrize("debiased", [False, True])
def test_identical_features_give_one(features, debiased):
    x, _ = features
    assert linear_cka(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_equals_the_gram_matrix_form(features, debiased):
    x, y = features
    expected = gram_cka(x, y, debiased)
    assert 0.05 < expected < 0.999  # a non-trivial value
    assert linear_cka(x, y, debiased=debiased) == pytest.approx(expected, rel=1e-10)


def test_debiased_differs_from_biased(features):
    x, y = features
    assert abs(linear_cka(x, y) - linear_cka(x, y, debiased=True)) > 1e-3


@pytest.mark.parametrize("debiased", [False, True])
def test_invariant_to_orthogonal_transforms_isotropic_scaling_and_shifts(features, debiased):
    x, y = features
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(4, 4)))
    base = linear_cka(x, y, debiased=debiased)
    assert linear_cka(x, 7.5 * y @ q + 3.0, debiased=debiased) == pytest.approx(base, rel=1e-10)
    assert linear_cka(0.01 * x, y, debiased=debiased) == pytest.approx(base, rel=1e-10)


def test_not_invariant_to_non_isotropic_scaling(features):
    x, y = features
    stretched = y * np.array([10.0, 1.0, 1.0, 0.1])
    assert abs(linear_cka(x, stretched) - linear_cka(x, y)) > 1e-2


def test_unrelated_features_are_far_from_one():
    rng = np.random.default_rng(3)
    assert linear_cka(rng.normal(size=(500, 3)), rng.normal(size=(500, 3))) < 0.05


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="x has 3 examples but y has 4"):
        linear_cka(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="x: features are constant"):
        linear_cka(np.ones((5, 2)), np.arange(10.0).reshape(5, 2))
    with pytest.raises(ValueError, match="at least 4 .*debiased=True"):
        linear_cka(np.eye(3), np.eye(3), debiased=True)
    with pytest.raises(TypeError, match="debiased='yes'"):
        linear_cka(np.eye(3), np.eye(3), debiased="yes")
    with pytest.raises(ValueError, match="x: shape"):
        linear_cka(np.ones(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="NaN"):
        linear_cka(np.array([[np.nan], [1.0]]), np.ones((2, 1)))


def _mlp(seed):
    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu", kernel_initializer=init),
                             keras.layers.Dense(3, kernel_initializer=init)])


def test_cka_of_models_uses_their_logits_on_the_first_batches():
    x = np.random.default_rng(0).normal(size=(100, 5)).astype(np.float32)
    y = np.zeros(100, np.int64)
    a, b = _mlp(0), _mlp(1)
    assert cka(a, a, (x, y)) == pytest.approx(1.0, abs=1e-9)
    # max_batches=2 of 16: exactly the first 32 examples
    expected = linear_cka(a(x[:32]).numpy(), b(x[:32]).numpy())
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 100, 16)]
    assert cka(a, b, batches, max_batches=2) == pytest.approx(expected, rel=1e-6)


def test_cka_rejects_non_models_and_bad_data():
    with pytest.raises(TypeError, match="model_b"):
        cka(_mlp(0), "model", [(np.ones((2, 5)), np.ones(2))])
    with pytest.raises(TypeError, match="data=str"):
        cka(_mlp(0), _mlp(0), "digits")


def test_package_name_is_the_function_whichever_import_came_first():
    # Importing the submodule tfprune.diagnostics.cka first must not make the package attribute
    # `cka` the submodule: the documented `tfprune.diagnostics.cka(...)` stays the function.
    import os
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import tfprune.diagnostics.cka; import tfprune.diagnostics as d; "
            "from tfprune.diagnostics.cka import cka; print(d.cka is cka, d.linear_cka.__module__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "tfprune.diagnostics.cka"]
