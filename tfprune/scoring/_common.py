"""Shared plumbing of the scorers: input checks, the scoring batch, logits, float clones.

Nothing here assigns to the variables of the model being scored: gradients are taken with
``tf.GradientTape`` on an inference-mode forward pass (which updates no BatchNorm statistics
and applies no dropout), and anything that needs different weight values (SynFlow's |w|,
the connectivity check) works on an independent clone.
"""

import numbers

import numpy as np

from tfprune import layers
from tfprune._validate import check_examples, check_int, num_classes
from tfprune.backend import keras, tf
from tfprune.pruning import is_pruned, prunable_or_fail

#: Examples per class in the scoring batch of the data-driven scorers (SNIP and GraSP papers: 10).
SAMPLES_PER_CLASS = 10
#: Most examples read from a tf.data.Dataset while collecting a class-balanced batch.
_MAX_SCAN = 200_000


# --------------------------------------------------------------------------- models


def check_plain_model(model, argument="model"):
    """A built, unwrapped tf_keras Sequential/Functional model, or a clear error."""
    layers.check_model(model, argument)
    if is_pruned(model):
        raise ValueError(
            f"{argument}: is wrapped for pruning; scorers work on the plain model "
            "(score before tfprune.prune, or score tfprune.strip(model))"
        )
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            f"{argument}: is not built; give it an input shape (keras.Input(...) first) before scoring"
        )


def check_exclude(model, exclude):
    """The prunable {key: PrunableWeight} of ``model`` after ``exclude``; an error if none is left."""
    return prunable_or_fail(model, exclude)


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) if activation is not None else None


def output_activation(model):
    """"softmax", "sigmoid" or None: the activation applied by the layer producing the output."""
    if len(model.outputs) != 1:
        return None
    layer = model.outputs[0]._keras_history.layer
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    name = _activation_name(layer)
    return name if name in ("softmax", "sigmoid") else None


def logits_model(model):
    """A model computing the pre-activation logits of ``model``'s single output.

    * output layer is a ``Softmax`` / ``Activation("softmax"|"sigmoid")`` layer: a sub-model
      ending at that layer's input (it shares ``model``'s variables);
    * output layer applies softmax or sigmoid as its ``activation``: a clone with that activation
      set to linear and ``model``'s weights copied in (independent variables);
    * otherwise the outputs are taken to be logits already and ``model`` itself is returned.
    """
    if len(model.outputs) != 1:
        raise ValueError(f"model: has {len(model.outputs)} outputs; data-driven scorers need exactly one")
    layer = model.outputs[0]._keras_history.layer
    name = "softmax" if isinstance(layer, keras.layers.Softmax) else _activation_name(layer)
    if name not in ("softmax", "sigmoid"):
        return model
    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
        return keras.Model(model.inputs, layer.input)

    def clone_function(original):
        config = original.get_config()
        if original is layer:
            config["activation"] = "linear"
        return original.__class__.from_config(config)

    clone = keras.models.clone_model(model, clone_function=clone_function)
    clone.set_weights(model.get_weights())
    return clone


def dense_gradients(grads, variables):
    """Gradients as dense tensors: zeros where a variable got none, and an Embedding's sparse
    ``IndexedSlices`` gradient scattered into the table's shape."""
    return [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]


def classification_loss(logits, labels):
    """Mean cross-entropy of ``logits`` (n, C) against int labels (n,) or one-hot (n, C).

    One logit column (n, 1) is a binary (sigmoid) classifier.
    """
    if logits.shape[-1] == 1:
        labels = tf.cast(tf.reshape(labels, [-1, 1]), logits.dtype)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
    if labels.shape.rank == 2:
        return tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(labels=tf.cast(labels, logits.dtype), logits=logits)
        )
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int64), logits=logits)
    )


# --------------------------------------------------------------------------- data


def _from_dataset(dataset, model, per_class, seed):
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise ValueError(f"data: a tf.data.Dataset must yield (x, y) pairs; its elements are {spec}")
    rank = len(model.inputs[0].shape)
    if spec[0].shape.rank == rank:  # batched
        dataset = dataset.unbatch()
    classes = num_classes(model)
    xs, ys, counts = [], [], np.zeros(classes, np.int64)
    for i, (x, y) in enumerate(dataset.take(_MAX_SCAN).as_numpy_iterator()):
        label = int(np.argmax(y)) if np.ndim(y) == 1 else int(y)
        if 0 <= label < classes and counts[label] < per_class:
            xs.append(x)
            ys.append(y)
            counts[label] += 1
            if counts.min() >= per_class:
                break
    if not xs:
        raise ValueError("data: the tf.data.Dataset yielded no usable (x, y) examples")
    order = np.random.default_rng(seed).permutation(len(xs))
    return np.stack(xs)[order], np.stack(ys)[order]


def scoring_batch(model, data, scorer, samples_per_class=SAMPLES_PER_CLASS, seed=0):
    """The (x, y) batch a data-driven scorer uses, as float32 / label arrays.

    ``data`` may be:

    * a :class:`tfprune.data.Splits` -- ``samples_per_class`` training examples of every class
      (``Splits.balanced_batch``), the class-balanced batch of the SNIP and GraSP papers;
    * a ``tf.data.Dataset`` of ``(x, y)`` (batched or not) -- the first ``samples_per_class``
      examples of every class in iteration order, shuffled with ``seed``;
    * an ``(x, y)`` pair of arrays -- used exactly as given (``samples_per_class`` is ignored).
    """
    if data is None:
        raise ValueError(
            f"data=None: score={scorer!r} is data-driven; give data=(x, y) arrays, a tfprune.data.Splits "
            "(tfprune.data.load(...)) or a tf.data.Dataset of (x, y)"
        )
    check_int(samples_per_class, "samples_per_class", 1)
    if hasattr(data, "balanced_batch") and hasattr(data, "num_classes"):
        x, y = data.balanced_batch(samples_per_class, seed=seed)
    elif isinstance(data, tf.data.Dataset):
        x, y = _from_dataset(data, model, samples_per_class, seed)
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in data)
    else:
        raise TypeError(
            f"data: expected (x, y) arrays, a tfprune.data.Splits or a tf.data.Dataset, got {type(data).__name__}"
        )
    check_examples(model, x, y, f"score={scorer!r}")
    return np.asarray(x, np.float32), y


# --------------------------------------------------------------------------- clones


def float_clone(model, dtype, transform):
    """An independent copy of ``model`` (wrappers removed) computing in ``dtype``.

    ``transform(layer, weight_name, value) -> value`` gives each copied weight its value
    (e.g. ``np.abs``). Floating-point inputs are ``dtype`` too, so operations on a raw input
    (``conv(x) + x``) see one dtype; integer inputs (token ids) keep theirs.
    """
    sources = {}

    def clone_function(layer):
        inner = layers.unwrap(layer)
        if isinstance(inner, keras.Model):
            return keras.models.clone_model(inner, clone_function=clone_function)
        config = inner.get_config()
        if "dtype" in config:
            config["dtype"] = dtype
        new = inner.__class__.from_config(config)
        sources[id(new)] = inner
        return new

    inputs = None
    if getattr(model, "inputs", None):
        inputs = [keras.Input(batch_shape=t.shape, dtype=dtype if t.dtype.is_floating else t.dtype)
                  for t in model.inputs]
        inputs = inputs[0] if len(inputs) == 1 else inputs
    clone = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone_function)
    for _, layer in layers.iter_layers(clone):
        inner = sources.get(id(layer))
        if inner is None or not inner.weights:
            continue
        values = [transform(inner, w.name, v) for w, v in zip(inner.weights, inner.get_weights())]
        layer.set_weights(values)
    return clone


def ones_inputs(model, dtype, input_shape=None):
    """A batch of one all-ones input per model input (SynFlow's data-free input)."""
    shapes = [tuple(t.shape[1:]) for t in model.inputs]
    if input_shape is not None:
        given = [tuple(input_shape)] if len(shapes) == 1 else [tuple(s) for s in input_shape]
        if len(given) != len(shapes):
            raise ValueError(f"input_shape={input_shape!r}: the model has {len(shapes)} inputs")
        shapes = given
    for shape in shapes:
        if any(d is None for d in shape):
            raise ValueError(
                f"model: input shape {(None,) + shape} is not fully known; pass input_shape=(...) "
                "without the batch axis"
            )
    ones = [tf.ones((1,) + shape, dtype) for shape in shapes]
    return ones[0] if len(ones) == 1 else ones
