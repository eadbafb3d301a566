"""Small classification data sets as batched ``tf.data`` pipelines.

``load("digits")`` and ``load("mnist1d")`` work offline out of the box; any other
name is read from TensorFlow Datasets, which must already be prepared on disk.
"""

import dataclasses
import functools
import math
import numbers
import os
import random

import numpy as np

from tfprune.backend import tf

BUILTIN = ("digits", "mnist1d")

_SPLITS = ("train", "validation", "test")
# Shuffle buffer for TFDS training splits (examples held before scaling).
_TFDS_SHUFFLE_BUFFER = 10_000


@dataclasses.dataclass(frozen=True)
class Splits:
    """Train/validation/test pipelines of ``(x, y)`` batches plus what a model needs to know.

    ``train`` is reshuffled every epoch, in an order fixed by the ``seed`` given to
    :func:`load`; ``validation`` and ``test`` are in a fixed order. ``x`` is float32,
    ``y`` int64 class indices in ``[0, num_classes)``.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    input_shape: tuple
    num_classes: int
    name: str
    # split -> (x, y) numpy arrays, or an unbatched, unshuffled tf.data.Dataset.
    _sources: dict = dataclasses.field(default=None, repr=False, compare=False)

    def numpy(self, split="train"):
        """The whole ``split`` as ``(x float32, y int64)`` arrays, in the unshuffled order."""
        if split not in _SPLITS:
            raise ValueError(f"split={split!r} is not one of {_SPLITS}")
        source = self._sources[split]
        if isinstance(source, tuple):
            x, y = source
            return x.copy(), y.copy()
        xs, ys = [], []
        for x, y in source.batch(1024).as_numpy_iterator():
            xs.append(x)
            ys.append(y)
        if not xs:
            return (np.zeros((0,) + tuple(self.input_shape), np.float32), np.zeros((0,), np.int64))
        return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)

    def balanced_batch(self, per_class, seed=0):
        """Exactly ``per_class`` training examples of every class, drawn at random with ``seed``.

        Returns ``(x, y)`` arrays of ``per_class * num_classes`` examples in shuffled order.
        Raises ValueError if some class has fewer than ``per_class`` training examples.
        """
        if not _is_int(per_class) or per_class < 1:
            raise ValueError(f"per_class={per_class!r}: must be a positive int")
        if not _is_int(seed):
            raise ValueError(f"seed={seed!r}: must be an int")
        x, y = self.numpy("train")
        rng = np.random.default_rng(seed)
        picks = []
        for c in range(self.num_classes):
            idx = np.flatnonzero(y == c)
            if len(idx) < per_class:
                raise ValueError(
                    f"per_class={per_class}: class {c} of {self.name!r} has only "
                    f"{len(idx)} training examples"
                )
            picks.append(rng.choice(idx, size=per_class, replace=False))
        order = rng.permutation(np.concatenate(picks))
        return x[order], y[order]


def load(
    name="digits",
    *,
    batch_size=64,
    validation_fraction=0.1,
    test_fraction=0.2,
    seed=0,
    data_dir=None,
):
    """Load data set ``name`` as :class:`Splits`.

    ``name`` is one of :data:`BUILTIN` or a TensorFlow Datasets name (e.g. ``"mnist"``).

    The fractions apply to the examples that tfprune splits itself:

    * ``digits`` (scikit-learn's 1797 8x8 images): the whole set is split, stratified
      by class, into ``ceil(n * test_fraction)`` test, ``ceil(n * validation_fraction)``
      validation and the rest training examples.
    * ``mnist1d`` (4000 + 1000 length-40 signals, generated locally): the package's
      own test split is kept; ``ceil(4000 * validation_fraction)`` validation examples
      are carved from its training split, stratified.
    * TFDS: the data set's own ``test`` and ``validation`` splits are used where they
      exist; a missing one is sliced off the end of ``train`` by TFDS percent slicing
      (``validation_fraction`` / ``test_fraction`` of ``train``). Integer image
      features are scaled to [0, 1]. Nothing is downloaded: the data must already be
      under ``data_dir`` (TFDS's default folder if None).

    ``seed`` fixes the split of digits/mnist1d and the shuffling of ``train``.
    """
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: must be a positive int")
    fractions = {"validation_fraction": validation_fraction, "test_fraction": test_fraction}
    for arg, value in fractions.items():
        if not _is_real(value) or not 0 < value < 1:
            raise ValueError(f"{arg}={value!r}: must be a number in (0, 1)")
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            f"validation_fraction={validation_fraction!r} and test_fraction={test_fraction!r} "
            "must sum to less than 1 (the rest is training data)"
        )
    if not _is_int(seed) or not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed!r}: must be an int in [0, 2**32)")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name={name!r}: must be a non-empty str ({_names_allowed()})")

    if name == "digits":
        x, y = _digits_arrays()
        n = len(y)
        x_rest, y_rest, x_test, y_test = _stratified_holdout(
            x, y, math.ceil(n * test_fraction), seed, "test_fraction", test_fraction
        )
        x_train, y_train, x_val, y_val = _stratified_holdout(
            x_rest, y_rest, math.ceil(n * validation_fraction), seed,
            "validation_fraction", validation_fraction,
        )
        arrays = dict(train=(x_train, y_train), validation=(x_val, y_val), test=(x_test, y_test))
        return _from_arrays(name, arrays, 10, batch_size, seed)
    if name == "mnist1d":
        x, y, x_test, y_test = _mnist1d_arrays()
        x_train, y_train, x_val, y_val = _stratified_holdout(
            x, y, math.ceil(len(y) * validation_fraction), seed,
            "validation_fraction", validation_fraction,
        )
        arrays = dict(train=(x_train, y_train), validation=(x_val, y_val), test=(x_test, y_test))
        return _from_arrays(name, arrays, 10, batch_size, seed)
    return _load_tfds(name, batch_size, validation_fraction, test_fraction, seed, data_dir)


# --------------------------------------------------------------------------- helpers


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _names_allowed():
    return f"built-in: {', '.join(BUILTIN)}; any TensorFlow Datasets name is also accepted"


def _readonly(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., np.newaxis]
    y = d.target.astype(np.int64)
    return _readonly(x, y)


@functools.lru_cache(maxsize=1)
def _mnist1d_arrays():
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset reseeds the global `random` and NumPy generators; put them back.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(get_dataset_args())  # generated locally; get_dataset would download
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    x = d["x"].astype(np.float32)[..., np.newaxis]
    x_test = d["x_test"].astype(np.float32)[..., np.newaxis]
    return _readonly(x, d["y"].astype(np.int64), x_test, d["y_test"].astype(np.int64))


def _stratified_holdout(x, y, n_holdout, seed, arg, value):
    """Split off ``n_holdout`` examples, stratified by class: (x_keep, y_keep, x_out, y_out)."""
    from sklearn.model_selection import train_test_split

    try:
        x_keep, x_out, y_keep, y_out = train_test_split(
            x, y, test_size=n_holdout, stratify=y, random_state=seed
        )
    except ValueError as e:
        raise ValueError(
            f"{arg}={value!r} cannot be split off {len(y)} examples with every class "
            f"in every split: {e}"
        ) from None
    return x_keep, y_keep, x_out, y_out


def _from_arrays(name, arrays, num_classes, batch_size, seed):
    """Build :class:`Splits` from ``{split: (x, y)}`` numpy arrays."""
    sources, pipelines = {}, {}
    for split in _SPLITS:
        x, y = arrays[split]
        x, y = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.int64)
        sources[split] = _readonly(x, y)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if split == "train":
            ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
        pipelines[split] = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return Splits(
        input_shape=tuple(arrays["train"][0].shape[1:]),
        num_classes=num_classes,
        name=name,
        _sources=sources,
        **pipelines,
    )


def _pct(fraction):
    return np.format_float_positional(round(100 * fraction, 6), trim="-") + "%"


def _tfds_split_specs(available, validation_fraction, test_fraction):
    """TFDS split strings for (train, validation, test) given the data set's split names.

    Unknown split names (empty ``available``, e.g. metadata not generated) are taken
    to mean the usual ``train`` + ``test``.
    """
    available = set(available) or {"train", "test"}
    if "test" in available:
        test = "test"
        end = 1.0
    else:
        end = 1.0 - test_fraction
        test = f"train[{_pct(end)}:]"
    if "validation" in available:
        validation = "validation"
        cut = end
    else:
        cut = end - validation_fraction
        validation = f"train[{_pct(cut)}:{_pct(end)}]" if end < 1 else f"train[{_pct(cut)}:]"
    train = "train" if cut >= 1 else f"train[:{_pct(cut)}]"
    return train, validation, test


def _load_tfds(name, batch_size, validation_fraction, test_fraction, seed, data_dir):
    import tensorflow_datasets as tfds

    if data_dir is not None:
        data_dir = os.fspath(data_dir)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"name={name!r} is neither a built-in data set nor a TensorFlow Datasets name "
            f"({_names_allowed()})"
        ) from None

    info = builder.info
    if not info.supervised_keys or len(info.supervised_keys) != 2:
        raise ValueError(f"name={name!r}: the TFDS data set has no (input, label) supervised keys")
    x_key, y_key = info.supervised_keys
    if not isinstance(x_key, str) or not isinstance(y_key, str):
        raise ValueError(
            f"name={name!r}: nested supervised keys {info.supervised_keys!r} are not supported"
        )
    x_feature, y_feature = info.features[x_key], info.features[y_key]
    if not isinstance(y_feature, tfds.features.ClassLabel):
        raise ValueError(f"name={name!r}: the label feature {y_key!r} is not a class label")
    x_dtype = np.dtype(x_feature.np_dtype)
    if x_dtype.kind not in "biuf":
        raise ValueError(
            f"name={name!r}: the input feature {x_key!r} has non-numeric dtype {x_dtype}"
        )
    scale = None
    if isinstance(x_feature, tfds.features.Image) and x_dtype.kind in "iu":
        scale = float(np.iinfo(x_dtype).max)

    if "train" not in info.splits and len(info.splits):
        raise ValueError(
            f"name={name!r}: the TFDS data set has no 'train' split (it has {sorted(info.splits)})"
        )
    specs = _tfds_split_specs(list(info.splits), validation_fraction, test_fraction)
    try:
        raw = builder.as_dataset(split=list(specs), as_supervised=True, shuffle_files=False)
    except (AssertionError, tfds.core.registered.DatasetNotFoundError, FileNotFoundError):
        where = data_dir if data_dir is not None else getattr(builder, "_data_dir_root", None)
        raise ValueError(
            f"name={name!r}: TFDS data not found under data_dir={where!r} (looked in "
            f"{builder.data_dir!r}). tfprune never downloads: prepare it beforehand, e.g. "
            f"`tfds build {name} --data_dir {where}` or "
            f"`tensorflow_datasets.load({name!r}, data_dir=..., download=True)` on a machine "
            "with network access"
        ) from None

    def convert(x, y):
        x = tf.cast(x, tf.float32)
        if scale is not None:
            x = x / scale
        return x, tf.cast(y, tf.int64)

    sources, pipelines = {}, {}
    for split, ds in zip(_SPLITS, raw):
        sources[split] = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if split == "train":
            ds = ds.shuffle(_TFDS_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        pipelines[split] = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return Splits(
        input_shape=tuple(x_feature.shape),
        num_classes=int(y_feature.num_classes),
        name=name,
        _sources=sources,
        **pipelines,
    )
