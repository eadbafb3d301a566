"""mkdocs hook: docstrings name objects with Sphinx roles (:func:`name`), which Markdown renders as
the role's text followed by the code; keep the code alone (and drop the ``~`` short-name prefix)."""

import re

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj):(<code>)~?")


def on_page_content(html, **kwargs):
    """Remove the role prefixes from a rendered page."""
    return _ROLE.sub(r"\1", html)
