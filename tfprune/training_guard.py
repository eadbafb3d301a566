"""Fail loudly when a pruned model is trained without the pruning callbacks.

TF-MOT's own check (a ``tf.debugging`` assert in the wrapper) is dropped under
``jit_compile=True``: training then runs silently and ends far below the target sparsity.
This guard lives outside the compiled step. ``fit`` builds its train function right before
``on_train_begin``; the guard clears a flag there, the tfprune callbacks set it in
``on_train_begin``, and the train function refuses to run while it is unset.
"""

import types

MISSING_CALLBACKS = (
    "this model is wrapped for pruning, but model.fit got no tfprune pruning callbacks: pruning would "
    "silently not happen (under jit_compile=True TF-MOT's own check is skipped). Pass "
    "callbacks=tfprune.callbacks(model) (you may add your own callbacks to that list)."
)


class MissingPruningCallbacks(RuntimeError):
    """Training a pruned model without ``tfprune.callbacks(model)``."""


def _guarded_make_train_function(model, force=False):
    model._tfprune_callbacks_active = False
    function = type(model).make_train_function(model, force)
    if getattr(function, "_tfprune_guarded", False):
        return function

    def train_function(*args, **kwargs):
        if not model._tfprune_callbacks_active:
            raise MissingPruningCallbacks(MISSING_CALLBACKS)
        return function(*args, **kwargs)

    train_function._tfprune_guarded = True
    model.train_function = train_function
    return train_function


def install(model):
    """Guard ``model`` (idempotent). Done by ``tfprune.prune`` and ``tfprune.load_model``."""
    model._tfprune_callbacks_active = False
    model.make_train_function = types.MethodType(_guarded_make_train_function, model)
    model.train_function = None
    return model


def mark_active(model):
    """Called by the tfprune callbacks at the start of training."""
    model._tfprune_callbacks_active = True
