"""Small built-in models for the offline data sets (and any input shape)."""

from tfprune.backend import keras


def default_model(input_shape, num_classes, seed=0):
    """A small CNN for images (h, w, c), a 1-D CNN for signals (n, c), an MLP otherwise.

    The output layer gives logits (no softmax).
    """
    init = keras.initializers.GlorotUniform(seed=seed)
    layers = [keras.Input(tuple(input_shape))]
    if len(input_shape) in (2, 3):  # images (h, w, c) or signals (n, c)
        conv, pool, size = ((keras.layers.Conv2D, keras.layers.MaxPooling2D, 3) if len(input_shape) == 3
                            else (keras.layers.Conv1D, keras.layers.MaxPooling1D, 5))
        layers += [
            conv(16, size, padding="same", activation="relu", kernel_initializer=init, name="conv1"),
            conv(32, size, padding="same", activation="relu", kernel_initializer=init, name="conv2"),
            pool(2),
            keras.layers.Flatten(),
        ]
    else:
        layers.append(keras.layers.Flatten())
    layers += [
        keras.layers.Dense(128, activation="relu", kernel_initializer=init, name="dense1"),
        keras.layers.Dense(num_classes, kernel_initializer=init, name="logits"),
    ]
    return keras.Sequential(layers, name="tfprune_default")


def classification_loss(model):
    """The loss to train ``model`` with on integer class labels.

    The model's own compiled loss when it has one (a ``--model`` file saved after
    ``compile``); otherwise cross-entropy fitted to the output layer
    (:func:`tfprune.scoring._common.output_activation`): on probabilities for a softmax or
    sigmoid head (binary cross-entropy for a single sigmoid unit), on logits otherwise.
    """
    from tfprune.scoring._common import output_activation

    loss = getattr(model, "loss", None)
    if loss is not None:
        return loss
    activation = output_activation(model)
    if activation == "sigmoid" and model.outputs[0].shape[-1] == 1:
        return keras.losses.BinaryCrossentropy(from_logits=False)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=activation not in ("softmax", "sigmoid"))


def compile_for_classification(model, learning_rate=1e-3, jit_compile=False, loss=None):
    """Compile with Adam, ``loss`` (default: :func:`classification_loss` of ``model``) and accuracy.

    The one way the command line compiles: pass the loss found for the dense model to compile
    its pruned and stripped copies the same way.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=classification_loss(model) if loss is None else loss,
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def mlp_model(input_shape, num_classes, seed=0, widths=(300, 100)):
    """An MLP: Flatten -> Dense ``widths`` (ReLU) -> logits, Glorot uniform under ``seed``; the
    default widths are LeNet-300-100. Layers are named ``fc1``, ``fc2``, ... and ``logits``."""
    init = keras.initializers.GlorotUniform(seed=seed)
    hidden = [keras.layers.Dense(width, activation="relu", kernel_initializer=init, name=f"fc{i + 1}")
              for i, width in enumerate(widths)]
    return keras.Sequential([keras.Input(tuple(input_shape)), keras.layers.Flatten(), *hidden,
                             keras.layers.Dense(num_classes, kernel_initializer=init, name="logits")],
                            name="mlp")


def cnn_model(input_shape, num_classes, seed=0):
    """The built-in CNN of :func:`default_model` (2-D for images, 1-D for signals)."""
    if len(input_shape) not in (2, 3):
        raise ValueError(f"--model 'cnn': needs image (h, w, c) or signal (n, c) inputs, the data has shape "
                         f"{tuple(input_shape)}; use --model mlp")
    return default_model(input_shape, num_classes, seed=seed)


#: Built-in models of ``tfprune bench --model``.
BUILTIN_MODELS = {"mlp": mlp_model, "cnn": cnn_model}


def bench_model(name, input_shape, num_classes, seed=0):
    """A fresh model for a benchmark run: a built-in (``mlp``, ``cnn``) or the architecture of a
    model file, re-initialised from its initialisers under ``seed``."""
    if name in BUILTIN_MODELS:
        return BUILTIN_MODELS[name](input_shape, num_classes, seed)
    from tfprune.backend import tf
    from tfprune.cli._options import load_cli_model

    loaded = load_cli_model(name, compile=False)
    expected = tuple(loaded.input_shape[1:])
    if expected != tuple(input_shape) or loaded.outputs[0].shape[-1] != num_classes:
        raise ValueError(f"--model {name!r} takes inputs {expected} with {loaded.outputs[0].shape[-1]} outputs; "
                         f"the data set has inputs {tuple(input_shape)} and {num_classes} classes")
    tf.keras.utils.set_random_seed(seed)
    return keras.models.clone_model(loaded)
