"""Choices read from the registries when a command runs, not when it is defined.

Nothing here imports TensorFlow at import time: the registries (and TensorFlow, for the
schedules) are read when a command runs or shows its help, so a method registered with
``tfprune.allocation.register(...)``, ``tfprune.scoring.register(...)`` or
``tfprune.schedules.register(...)`` before the command runs is one of its choices.
"""

import importlib

import click

class RegistryChoice(click.ParamType):
    """Like ``click.Choice``, but the choices come from ``names()`` (no arguments), called when
    a value is checked or the help is shown -- not when the command is defined."""

    name = "choice"

    def __init__(self, names):
        self.names = names

    def choices(self):
        return [str(name) for name in self.names()]

    def get_metavar(self, param, ctx=None):
        return "[" + "|".join(self.choices()) + "]"

    def convert(self, value, param, ctx):
        choices = self.choices()
        if value in choices:
            return value
        self.fail(f"{value!r} is not one of {', '.join(map(repr, choices))}.", param, ctx)

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        return [CompletionItem(c) for c in self.choices() if c.startswith(incomplete)]

    def __repr__(self):
        return f"RegistryChoice({getattr(self.names, '__name__', self.names)!r})"


def attribute_of(module, attribute):
    """A function returning ``module.attribute``, imported when called (lazy choices)."""

    def read():
        return getattr(importlib.import_module(module), attribute)

    read.__name__ = f"{module}.{attribute}"
    return read


def allocation_names():
    """Registered allocations (:data:`tfprune.allocation.ALLOCATIONS`)."""
    return attribute_of("tfprune.allocation", "ALLOCATIONS")().names()


def score_names():
    """Registered at-initialisation scorers (:data:`tfprune.scoring.SCORERS`)."""
    return attribute_of("tfprune.scoring", "SCORERS")().names()


def schedule_names():
    """Registered schedules (:data:`tfprune.schedules.SCHEDULES`)."""
    return attribute_of("tfprune.schedules", "SCHEDULES")().names()
