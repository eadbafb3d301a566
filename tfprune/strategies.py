"""Which ``tf.distribute`` strategies pruning runs under, and a clear refusal for the others.

Supported (tested): the default strategy, ``MirroredStrategy`` and ``MultiWorkerMirroredStrategy``:
training steps are synchronous, every replica holds the same weights after each step, so the
pruning callbacks -- which act between steps on the weights -- see the same values on every
worker and compute the same masks. Refused: ``ParameterServerStrategy``, whose workers run
steps asynchronously while ``fit``'s callbacks run on the coordinator when a step is *scheduled*,
not when it runs: the pruning step counter and the LAMP reallocation would act on stale weights
at steps nobody can predict (it trains, but the masks are not reproducible).
"""

from typing import Any

#: strategy class name -> why pruning refuses it
REFUSED = {
    "ParameterServerStrategy": (
        "its workers run training steps asynchronously while fit's callbacks run on the coordinator when a "
        "step is scheduled, so the pruning schedule and the LAMP reallocation would act on stale weights at "
        "unpredictable steps"
    ),
}


def check_strategy(strategy: Any, argument: str = "strategy") -> None:
    """Raise a ValueError naming ``strategy`` when pruning cannot run under it (see :data:`REFUSED`)."""
    for cls in type(strategy).__mro__:
        for name, reason in REFUSED.items():
            if cls.__name__.startswith(name):
                raise ValueError(
                    f"{argument}={type(strategy).__name__}: pruning does not support {name}: {reason}. Use "
                    "MultiWorkerMirroredStrategy (synchronous, several workers) or MirroredStrategy instead"
                )
