"""One-line CLI errors for bad input, instead of a stack trace, and one-line warnings."""

import contextlib
import functools
import re
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


#: Python phrases in tfprune's messages -> what the user typed on the command line.
PHRASES = {
    "strict=False": "--no-strict",
    "integer_io=True": "--integer-io",
    "overwrite=True": "--overwrite",
    "call tfprune.strip(model) first": "give the stripped model (model.keras of a tfprune output folder)",
    "score tfprune.strip(model)": "score the stripped model (model.keras of a tfprune output folder)",
    "(another fit continues the schedule) or fit the schedule to the run with for_run(sparsity, total_steps)":
        "(raise --epochs)",
    "or use another directory": "or use another --output",
    "(a numpy array of model inputs, e.g. 100-500 training samples)":
        "(digits, mnist1d, a prepared TFDS name, or a .npy file of model inputs)",
}
#: Python argument names -> command-line options (``name=value`` becomes ``--option value``).
OPTIONS = {
    "sparsity": "--sparsity",
    "allocation": "--allocation",
    "schedule": "--schedule",
    "score": "--score",
    "seed": "--seed",
    "batch_size": "--batch-size",
    "min_per_layer": "--min-per-layer",
    "min_per_unit": "--min-per-unit",
    "per_class": "--samples-per-class",
    "samples_per_class": "--samples-per-class",
    "min_sparsity": "--min-sparsity",
    "max_size_kb": "--max-size-kb",
    "max_trials": "--max-trials",
    "oracle": "--oracle",
    "representative_data": "--representative-dataset",
    "verify_data": "--representative-dataset",
    "data_dir": "--data-dir",
    "width": "--width",
    "tolerance": "--tolerance",
    "candidates": "--candidates",
    "finetune_epochs": "--finetune-epochs",
}


def cli_words(message, options=None):
    """``message`` with Python argument names replaced by the command line's options; code quoted
    in backticks (a Python call to run elsewhere) is left as it is."""
    parts = message.split("`")
    for i in range(0, len(parts), 2):  # outside backticks
        for phrase, replacement in PHRASES.items():
            parts[i] = parts[i].replace(phrase, replacement)
        for name, option in {**OPTIONS, **(options or {})}.items():
            ending = r"(=|\b)" if "_" in name else "(=)"  # a plain word only as ``name=value``
            parts[i] = re.sub(rf"(?<![\w.\-']){re.escape(name)}{ending}",
                              lambda m, option=option: option + (" " if m.group(1) == "=" else ""), parts[i])
    return re.sub(r"^model: ", "--model: ", "`".join(parts))


@contextlib.contextmanager
def one_line_warnings(options=None):
    """Show tfprune's warnings as ``warning: <message>`` on stderr, each time they happen; other
    warnings as Python shows them."""
    categories = _one_line_categories()
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, categories):
                click.echo(f"warning: {cli_words(str(message), options)}", err=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        for category in categories:
            warnings.simplefilter("always", category)
        yield


def clean_errors(function=None, *, options=None):
    """Show ValueError/TypeError/OSError raised by a command as ``Error: <message>`` (exit 1),
    and tfprune's warnings as one line each, in the command line's words (:func:`cli_words`;
    ``options`` adds the command's own {argument: option}). ``@clean_errors`` or
    ``@clean_errors(options={...})``."""
    if function is None:
        return functools.partial(clean_errors, options=options)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            with one_line_warnings(options):
                return function(*args, **kwargs)
        except click.ClickException as error:
            error.message = cli_words(error.message, options)
            raise
        except (ValueError, TypeError, OSError) as error:
            raise click.ClickException(cli_words(_one_line(error), options)) from None

    return wrapper


def _one_line(error):
    """The error's message on one line (an OSError without one: its text and file)."""
    text = str(error) or type(error).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())
