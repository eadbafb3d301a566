"""Timing helpers the benchmarks share."""

import time

from tfprune.backend import keras


class EpochTimes(keras.callbacks.Callback):
    """Wall time of each epoch, measured inside ``fit`` (set-up and teardown of ``fit`` excluded)."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)
