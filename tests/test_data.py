"""Tests for tfprune.data: built-in data sets, the TFDS path (offline) and input checks."""

import math
import random
import re

import numpy as np
import pytest

import tfprune  # noqa: F401  (before TensorFlow)
from tfprune import data
from tfprune.backend import tf

import tensorflow_datasets as tfds  # noqa: E402

SPLITS = ("train", "validation", "test")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.fixture(scope="module")
def mnist1d():
    return data.load("mnist1d")


def _rows(x):
    """Rows of ``x`` as a sorted list of bytes, to compare data sets as multisets."""
    return sorted(np.ascontiguousarray(r).tobytes() for r in x)


# Tiny, locally generated TFDS data sets: pixel value = example index, so slices are checkable.
class _Tiny(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    VERSION = tfds.core.Version("1.0.0")
    SIZES = {}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(4, 4, 1)),
                    "label": tfds.features.ClassLabel(num_classes=3),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        offsets = {"train": 0, "validation": 150, "test": 200}
        return {s: self._generate_examples(n, offsets[s]) for s, n in self.SIZES.items()}

    def _generate_examples(self, n, offset):
        for i in range(n):
            yield i, {"image": np.full((4, 4, 1), offset + i, np.uint8), "label": i % 3}


class TfpruneTinyTrainTest(_Tiny):
    SIZES = {"train": 100, "test": 20}


class TfpruneTinyTrainOnly(_Tiny):
    SIZES = {"train": 100}


class TfpruneTinyAll(_Tiny):
    SIZES = {"train": 100, "validation": 30, "test": 20}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    tfds.disable_progress_bar()
    root = str(tmp_path_factory.mktemp("tfds"))
    config = tfds.download.DownloadConfig(try_download_gcs=False)
    for cls in (TfpruneTinyTrainTest, TfpruneTinyTrainOnly, TfpruneTinyAll):
        cls(data_dir=root).download_and_prepare(download_config=config)
    return root


def _tfds_ids(name, spec, data_dir):
    ds = tfds.load(name, split=spec, data_dir=data_dir, download=False)
    return sorted(int(ex["image"][0, 0, 0]) for ex in ds.as_numpy_iterator())


def _pixel_ids(x):
    """The example index encoded in each image (all pixels equal)."""
    return sorted(np.rint(x[:, 0, 0, 0] * 255).astype(int).tolist())


# --------------------------------------------------------------------------- digits


def test_digits_split_sizes(digits):
    n = 1797
    sizes = {s: len(digits.numpy(s)[1]) for s in SPLITS}
    assert sum(sizes.values()) == n
    assert sizes["test"] == math.ceil(n * 0.2) == 360
    assert sizes["validation"] == math.ceil(n * 0.1) == 180
    assert sizes["train"] == 1257
    # Batched pipelines hold the same number of examples.
    assert sum(int(b[1].shape[0]) for b in digits.validation) == 180


def test_digits_other_fractions():
    s = data.load("digits", validation_fraction=0.25, test_fraction=0.25)
    assert [len(s.numpy(k)[1]) for k in SPLITS] == [1797 - 450 - 450, 450, 450]


def test_digits_shapes_dtypes_range(digits):
    assert digits.input_shape == (8, 8, 1)
    assert digits.num_classes == 10
    assert digits.name == "digits"
    for split in SPLITS:
        x, y = digits.numpy(split)
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.shape[1:] == (8, 8, 1)
        assert x.min() == 0.0 and x.max() == 1.0
    xb, yb = next(iter(digits.train))
    assert xb.shape == (64, 8, 8, 1) and xb.dtype == tf.float32
    assert yb.shape == (64,) and yb.dtype == tf.int64
    assert digits.train.element_spec[0].shape.as_list() == [None, 8, 8, 1]


def test_digits_stratified(digits):
    from sklearn.datasets import load_digits

    full = np.bincount(load_digits().target, minlength=10) / 1797
    for split in SPLITS:
        y = digits.numpy(split)[1]
        counts = np.bincount(y, minlength=10)
        assert (counts > 0).all(), split
        np.testing.assert_allclose(counts / len(y), full, atol=0.01)


def test_digits_partition_of_whole_set(digits):
    from sklearn.datasets import load_digits

    whole = (load_digits().images / 16.0).astype(np.float32)
    parts = [digits.numpy(s)[0][..., 0] for s in SPLITS]
    assert _rows(np.concatenate(parts)) == _rows(whole)
    seen = [set(_rows(p)) for p in parts]
    assert not seen[0] & seen[1] and not seen[0] & seen[2] and not seen[1] & seen[2]


def test_digits_deterministic_and_seeded(digits):
    again = data.load("digits")
    for split in SPLITS:
        for a, b in zip(digits.numpy(split), again.numpy(split)):
            np.testing.assert_array_equal(a, b)
    # Same seed -> same epoch orders in fresh pipelines; each epoch is reshuffled.
    a, b = data.load("digits"), data.load("digits")
    first = np.concatenate([y.numpy() for _, y in a.train])
    assert np.array_equal(first, np.concatenate([y.numpy() for _, y in b.train]))
    second = np.concatenate([y.numpy() for _, y in a.train])
    assert np.array_equal(second, np.concatenate([y.numpy() for _, y in b.train]))
    assert not np.array_equal(first, second)
    assert sorted(first) == sorted(second)
    # Another seed -> another split.
    other = data.load("digits", seed=1)
    assert _rows(other.numpy("test")[0]) != _rows(digits.numpy("test")[0])
    assert len(other.numpy("test")[1]) == 360


def test_validation_and_test_not_shuffled(digits):
    for ds, split in ((digits.validation, "validation"), (digits.test, "test")):
        y1 = np.concatenate([y.numpy() for _, y in ds])
        y2 = np.concatenate([y.numpy() for _, y in ds])
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(y1, digits.numpy(split)[1])


def test_batch_size_respected():
    s = data.load("digits", batch_size=100)
    sizes = [int(y.shape[0]) for _, y in s.test]
    assert sizes == [100, 100, 100, 60]


def test_numpy_returns_copies(digits):
    x, _ = digits.numpy("train")
    x[:] = -1
    assert digits.numpy("train")[0].min() == 0.0


# --------------------------------------------------------------------------- mnist1d


def test_mnist1d(mnist1d):
    assert mnist1d.input_shape == (40, 1)
    assert mnist1d.num_classes == 10
    sizes = {s: mnist1d.numpy(s)[0].shape for s in SPLITS}
    # make_dataset's defaults: 4000 train + 1000 test; validation = ceil(4000 * 0.1) from train.
    assert sizes == {"train": (3600, 40, 1), "validation": (400, 40, 1), "test": (1000, 40, 1)}
    for split in SPLITS:
        x, y = mnist1d.numpy(split)
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert set(np.unique(y)) == set(range(10))
    xb, yb = next(iter(mnist1d.train))
    assert xb.shape == (64, 40, 1) and yb.dtype == tf.int64


def test_mnist1d_matches_package_split(mnist1d):
    from mnist1d.data import get_dataset_args, make_dataset

    x_train, _ = mnist1d.numpy("train")
    x_val, _ = mnist1d.numpy("validation")
    x_test, y_test = mnist1d.numpy("test")
    ref = make_dataset(get_dataset_args())
    np.testing.assert_array_equal(x_test[..., 0], ref["x_test"].astype(np.float32))
    np.testing.assert_array_equal(y_test, ref["y_test"])
    assert _rows(np.concatenate([x_train, x_val])[..., 0]) == _rows(ref["x"].astype(np.float32))


def test_mnist1d_leaves_global_rng_alone():
    data._mnist1d_arrays.cache_clear()
    np.random.seed(123)
    random.seed(123)
    data.load("mnist1d")
    got = (np.random.rand(), random.random())
    np.random.seed(123)
    random.seed(123)
    assert got == (np.random.rand(), random.random())


# --------------------------------------------------------------------------- balanced_batch


def test_balanced_batch(digits):
    x, y = digits.balanced_batch(5)
    assert x.shape == (50, 8, 8, 1) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [5] * 10)
    train = set(_rows(digits.numpy("train")[0]))
    assert set(_rows(x)) <= train and len(set(_rows(x))) == 50
    x2, y2 = digits.balanced_batch(5)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = digits.balanced_batch(5, seed=1)
    assert not np.array_equal(x, x3)


def test_balanced_batch_mnist1d(mnist1d):
    _, y = mnist1d.balanced_batch(30, seed=3)
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [30] * 10)


def test_balanced_batch_too_many(digits):
    smallest = np.bincount(digits.numpy("train")[1]).min()
    digits.balanced_batch(int(smallest))  # exactly enough is fine
    with pytest.raises(ValueError, match=rf"per_class={smallest + 1}.*only {smallest}"):
        digits.balanced_batch(int(smallest) + 1)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "5", None])
def test_balanced_batch_bad_per_class(digits, bad):
    with pytest.raises(ValueError, match=re.escape(f"per_class={bad!r}")):
        digits.balanced_batch(bad)


# --------------------------------------------------------------------------- TFDS


def test_tfds_mock_mnist(monkeypatch):
    specs = []
    real = data._tfds_split_specs
    monkeypatch.setattr(data, "_tfds_split_specs", lambda *a: specs.append(real(*a)) or specs[-1])
    with tfds.testing.mock_data(num_examples=20):
        s = data.load("mnist", batch_size=8)
        assert s.input_shape == (28, 28, 1)
        assert s.num_classes == 10
        assert s.name == "mnist"
        xb, yb = next(iter(s.train))
        assert xb.shape == (8, 28, 28, 1) and xb.dtype == tf.float32 and yb.dtype == tf.int64
        for split in SPLITS:
            x, y = s.numpy(split)
            assert x.shape == (20, 28, 28, 1) and x.dtype == np.float32 and y.dtype == np.int64
            assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
            assert ((0 <= y) & (y < 10)).all()
    # mnist has no validation split: it is the last 10% of train.
    assert specs == [("train[:90%]", "train[90%:]", "test")]


def test_tfds_validation_sliced_from_train(tiny_dir):
    s = data.load("tfprune_tiny_train_test", data_dir=tiny_dir, batch_size=16)
    assert s.input_shape == (4, 4, 1) and s.num_classes == 3
    x_train, y_train = s.numpy("train")
    x_val = s.numpy("validation")[0]
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert (len(x_train), len(x_val)) == (90, 10)
    assert sorted(_pixel_ids(x_train) + _pixel_ids(x_val)) == list(range(100))
    assert _pixel_ids(x_val) == _tfds_ids("tfprune_tiny_train_test", "train[90%:]", tiny_dir)
    assert _pixel_ids(s.numpy("test")[0]) == list(range(200, 220))
    assert x_train.max() <= 1.0
    # Train is batched and shuffled (but the same examples).
    ids = _pixel_ids(np.concatenate([x.numpy() for x, _ in s.train]))
    assert ids == _pixel_ids(x_train)
    assert [int(y.shape[0]) for _, y in s.validation] == [10]


def test_tfds_validation_and_test_sliced_from_train(tiny_dir):
    s = data.load(
        "tfprune_tiny_train_only", data_dir=tiny_dir, validation_fraction=0.15, test_fraction=0.25
    )
    ids = {k: _pixel_ids(s.numpy(k)[0]) for k in SPLITS}
    assert [len(ids[k]) for k in SPLITS] == [60, 15, 25]
    assert sorted(ids["train"] + ids["validation"] + ids["test"]) == list(range(100))
    for split, spec in zip(SPLITS, ("train[:60%]", "train[60%:75%]", "train[75%:]")):
        assert ids[split] == _tfds_ids("tfprune_tiny_train_only", spec, tiny_dir)


def test_tfds_own_splits_used(tiny_dir):
    s = data.load("tfprune_tiny_all", data_dir=tiny_dir)
    assert _pixel_ids(s.numpy("train")[0]) == list(range(0, 100))
    assert _pixel_ids(s.numpy("validation")[0]) == list(range(150, 180))
    assert _pixel_ids(s.numpy("test")[0]) == list(range(200, 220))
    _, y = s.balanced_batch(10)
    np.testing.assert_array_equal(np.bincount(y), [10, 10, 10])


def test_tfds_data_dir_honoured(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"data_dir={str(tmp_path)!r}")) as err:
        data.load("mnist", data_dir=tmp_path)
    assert "tfds build mnist" in str(err.value)
    assert err.value.__cause__ is None


def test_tfds_prepared_elsewhere_not_found(tiny_dir, tmp_path):
    with pytest.raises(ValueError, match="TFDS data not found"):
        data.load("tfprune_tiny_all", data_dir=tmp_path)


def test_unknown_name():
    pattern = r"name='no_such_data_set_xyz'.*digits, mnist1d.*TensorFlow Datasets"
    with pytest.raises(ValueError, match=pattern) as err:
        data.load("no_such_data_set_xyz")
    assert err.value.__cause__ is None and err.value.__suppress_context__


# --------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "64", None])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match=re.escape(f"batch_size={bad!r}: must be a positive int")):
        data.load("digits", batch_size=bad)


@pytest.mark.parametrize("arg", ["validation_fraction", "test_fraction"])
@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.1, 1.5, float("nan"), "0.1", True, None])
def test_bad_fraction(arg, bad):
    with pytest.raises(ValueError, match=re.escape(f"{arg}={bad!r}: must be a number in (0, 1)")):
        data.load("digits", **{arg: bad})


def test_fractions_sum():
    pattern = r"validation_fraction=0\.5 and test_fraction=0\.5 must sum to less than 1"
    with pytest.raises(ValueError, match=pattern):
        data.load("digits", validation_fraction=0.5, test_fraction=0.5)


def test_fraction_too_small_for_stratification():
    with pytest.raises(ValueError, match=r"validation_fraction=0\.001 cannot be split"):
        data.load("digits", validation_fraction=0.001)


@pytest.mark.parametrize("bad", ["", None, 3])
def test_bad_name(bad):
    with pytest.raises(ValueError, match=re.escape(f"name={bad!r}")):
        data.load(bad)


@pytest.mark.parametrize("bad", ["a", -1, 2**32, 1.0, None])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match=re.escape(f"seed={bad!r}: must be an int")):
        data.load("digits", seed=bad)


def test_bad_numpy_split(digits):
    pattern = r"split='val' is not one of \('train', 'validation', 'test'\)"
    with pytest.raises(ValueError, match=pattern):
        digits.numpy("val")
