"""A tqdm progress bar for tf_keras ``fit`` (tqdm's own Keras callback targets Keras 3), and ``fit`` with it."""

from tqdm.auto import tqdm

from tfprune.backend import keras


class EpochProgress(keras.callbacks.Callback):
    """One bar over the epochs of a ``fit`` call, showing the latest metrics."""

    def __init__(self, description, disable=False):
        super().__init__()
        self.description = description
        self.disable = disable
        self._bar = None

    def on_train_begin(self, logs=None):
        self._bar = tqdm(total=self.params.get("epochs"), desc=self.description, unit="epoch", disable=self.disable)

    def on_epoch_end(self, epoch, logs=None):
        shown = {k: f"{v:.4f}" for k, v in (logs or {}).items() if "loss" in k or "accuracy" in k}
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def on_train_end(self, logs=None):
        self._bar.close()


def fit(model, splits, epochs, description, quiet=False, callbacks=()):
    """``model.fit`` on ``splits.train`` (validated on ``splits.validation``) with one progress bar."""
    return model.fit(splits.train, validation_data=splits.validation, epochs=epochs, verbose=0,
                     callbacks=[*callbacks, EpochProgress(description, disable=quiet)])
