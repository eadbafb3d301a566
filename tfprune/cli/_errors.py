"""One-line CLI errors for bad input, instead of a stack trace."""

import functools

import click


def clean_errors(function):
    """Show ValueError/TypeError/OSError raised by a command as ``Error: <message>`` (exit 1)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (ValueError, TypeError, OSError) as error:
            raise click.ClickException(str(error)) from None

    return wrapper
