"""Models the benchmarks share that tfprune does not ship."""

import _checkout  # noqa: F401  (this checkout first on the path)
from tfprune.backend import keras


def resnet20(input_shape=(32, 32, 3), classes=10, seed=0):
    """CIFAR ResNet-20 (He et al. 2016, section 4.2): 3 stages x 3 basic blocks, 16/32/64 channels,
    projection (1x1 conv + BN) shortcuts where the shape changes; 270,896 prunable weights."""
    keras.utils.set_random_seed(seed)
    L = keras.layers

    def conv_bn(x, filters, size, strides=1):
        x = L.Conv2D(filters, size, strides=strides, padding="same", use_bias=False)(x)
        return L.BatchNormalization()(x)

    inputs = keras.Input(input_shape)
    x = L.ReLU()(conv_bn(inputs, 16, 3))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            y = conv_bn(L.ReLU()(conv_bn(x, filters, 3, strides)), filters, 3)
            shortcut = conv_bn(x, filters, 1, strides) if strides != 1 else x
            x = L.ReLU()(L.Add()([shortcut, y]))
    outputs = L.Dense(classes)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="resnet20")
