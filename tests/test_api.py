"""Every public symbol of tfprune is documented."""

import inspect

import tfprune


def test_every_public_symbol_has_a_docstring():
    missing = [name for name in tfprune.__all__ if not inspect.getdoc(getattr(tfprune, name))]
    assert missing == []


def test_public_functions_document_their_modules_paper_or_purpose():
    for name in tfprune.__all__:
        obj = getattr(tfprune, name)
        module = inspect.getmodule(obj)
        if module is not None and module.__name__.startswith("tfprune"):
            assert inspect.getdoc(module), module.__name__
