"""One-line CLI errors for bad input, instead of a stack trace, and one-line warnings."""

import contextlib
import functools
import warnings

import click

#: tfprune's own warnings (module, class name); the command line prints each as one line.
ONE_LINE_WARNINGS = (
    ("tfprune.collapse", "CollapseWarning"),
    ("tfprune.allocation", "EmptyLayerWarning"),
    ("tfprune.pruning_callbacks", "SparsityNotReachedWarning"),
)


def _one_line_categories():
    import importlib

    found = []
    for module, name in ONE_LINE_WARNINGS:
        category = getattr(importlib.import_module(module), name, None)
        if category is not None:
            found.append(category)
    return tuple(found)


@contextlib.contextmanager
def one_line_warnings():
    """Show tfprune's warnings as ``warning: <message>`` on stderr, each time they happen; other
    warnings as Python shows them."""
    categories = _one_line_categories()
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, categories):
                click.echo(f"warning: {message}", err=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        for category in categories:
            warnings.simplefilter("always", category)
        yield


def clean_errors(function):
    """Show ValueError/TypeError/OSError raised by a command as ``Error: <message>`` (exit 1),
    and tfprune's warnings as one line each."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            with one_line_warnings():
                return function(*args, **kwargs)
        except (ValueError, TypeError, OSError) as error:
            raise click.ClickException(str(error)) from None

    return wrapper
