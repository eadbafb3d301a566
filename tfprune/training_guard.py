"""Fail loudly when a pruned model is trained without the pruning callbacks.

TF-MOT's own check (a ``tf.debugging`` assert in the wrapper) is dropped under
``jit_compile=True``: training then runs silently and ends far below the target sparsity.
This guard lives outside the compiled step. ``fit`` builds its train function right before
``on_train_begin``; the guard clears a flag there, the tfprune callbacks set it in
``on_train_begin``, and the train function refuses to run while it is unset.

A guarded train function therefore only runs with the callbacks present, and they recompute the
masks between steps; :func:`callbacks_update_masks` tells a pruning wrapper, while it is traced
into such a function, that it need not check the schedule at every step itself.
"""

import types

MISSING_CALLBACKS = (
    "this model is wrapped for pruning, but model.fit got no tfprune pruning callbacks: pruning would "
    "silently not happen (under jit_compile=True TF-MOT's own check is skipped). Pass "
    "callbacks=tfprune.callbacks(model) (you may add your own callbacks to that list)."
)


class MissingPruningCallbacks(RuntimeError):
    """Training a pruned model without ``tfprune.callbacks(model)``."""


_guarded_calls = 0  # guarded train functions running now (replica threads trace inside them)


def callbacks_update_masks() -> bool:
    """True while a guarded train function runs (or is traced): the pruning callbacks are present."""
    return _guarded_calls > 0


def _guarded_make_train_function(model, force=False):
    model._tfprune_callbacks_active = False
    function = type(model).make_train_function(model, force)
    if getattr(function, "_tfprune_guarded", False):
        return function

    def train_function(*args, **kwargs):
        global _guarded_calls
        if not model._tfprune_callbacks_active:
            raise MissingPruningCallbacks(MISSING_CALLBACKS)
        _guarded_calls += 1
        try:
            return function(*args, **kwargs)
        finally:
            _guarded_calls -= 1

    train_function._tfprune_guarded = True
    model.train_function = train_function
    return train_function


def installed(model) -> bool:
    """Whether ``model`` is guarded."""
    return getattr(model.make_train_function, "__func__", None) is _guarded_make_train_function


def install(model):
    """Guard ``model`` (idempotent). Done by ``tfprune.prune`` and ``tfprune.load_model``."""
    if installed(model):
        return model
    model._tfprune_callbacks_active = False
    model.make_train_function = types.MethodType(_guarded_make_train_function, model)
    model.train_function = None
    return model


def mark_active(model):
    """Called by the tfprune callbacks at the start of training."""
    model._tfprune_callbacks_active = True
