"""Timing helpers the benchmarks share."""

import time

from tfprune.backend import keras


class StepTimes(keras.callbacks.Callback):
    """Wall time of each training step, from the batch's start to its loss being ready (a wait on
    asynchronous devices). Put it first in ``callbacks`` so that the batch hooks of the callbacks
    after it (a pruning callback's reallocation, say) count in the step they precede."""

    def __init__(self):
        super().__init__()
        self._supports_tf_logs = True
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])
        self.times.append(time.perf_counter() - self._start)
