"""The documentation site builds without a warning, and documents every public name.

``mkdocs build --strict`` renders every page and every ``::: path`` of docs/api/ from the
docstrings (mkdocstrings); a broken link, a missing anchor or an unresolvable path fails it.
The API pages must name every public object of their area (``__all__``, else the module's own
public definitions), and every public class, function and public method must have a docstring.
"""

import importlib
import inspect
import os
import re
import subprocess
import sys
import types

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API = os.path.join(REPO, "docs", "api")
# API page -> the module whose public names it documents
AREAS = {
    "tfprune.md": "tfprune",
    "allocation.md": "tfprune.allocation",
    "scoring.md": "tfprune.scoring",
    "schedules.md": "tfprune.schedules",
    "callbacks.md": "tfprune.pruning_callbacks",
    "export.md": "tfprune.export",
    "tuning.md": "tfprune.tuning",
    "structured.md": "tfprune.structured",
    "diagnostics.md": "tfprune.diagnostics",
    "data.md": "tfprune.data",
}
DIRECTIVE = re.compile(r"^::: (\S+)\s*$", flags=re.M)


def public_names(module):
    """``__all__``, else the names the module itself defines without a leading underscore."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, value in vars(module).items()
                 if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__]
    return [name for name in names if name != "__version__"]


def resolve(path):
    """The object a ``::: a.b.c`` path names: the longest importable module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            value = getattr(value, part)
        return value
    raise ImportError(path)


def same(a, b):
    """Identity, seeing through bound methods (``register = REGISTRY.register``)."""
    return getattr(a, "__func__", a) is getattr(b, "__func__", b)


def directives(page):
    with open(os.path.join(API, page), encoding="utf-8") as f:
        return [resolve(path) for path in DIRECTIVE.findall(f.read())]


def documented_objects():
    """(qualified name, object) of every public name of every area, and every rendered object."""
    found = {}  # id -> (name, object), each object once
    for page, area in AREAS.items():
        module = importlib.import_module(area)
        found.setdefault(id(module), (area, module))
        for name in public_names(module):
            value = getattr(module, name)
            found.setdefault(id(value), (f"{area}.{name}", value))
        for value in directives(page):
            found.setdefault(id(value), (getattr(value, "__qualname__", None) or repr(value), value))
    return list(found.values())


def own_doc(value):
    doc = vars(value).get("__doc__") if inspect.isclass(value) else getattr(value, "__doc__", None)
    return (doc or "").strip()


def missing_docstrings(name, value):
    """The names under ``name`` with no docstring: the object, and a class's public methods."""
    value = getattr(value, "__func__", value)
    if not (inspect.ismodule(value) or inspect.isclass(value) or inspect.isroutine(value)):
        return []  # constants and registries are described on their page
    missing = [] if own_doc(value) else [name]
    if inspect.isclass(value):
        for attr, member in vars(value).items():
            if attr.startswith("_"):
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, (types.FunctionType, property)) and not inspect.getdoc(getattr(value, attr)):
                missing.append(f"{name}.{attr}")
    return missing


def test_every_public_name_has_a_docstring():
    missing = [m for name, value in documented_objects() for m in missing_docstrings(name, value)]
    assert not missing, f"public names without a docstring: {missing}"


@pytest.mark.parametrize("page", sorted(AREAS))
def test_api_page_renders_every_public_name_of_its_area(page):
    module = importlib.import_module(AREAS[page])
    here = directives(page)
    everywhere = [value for other in AREAS for value in directives(other)]
    absent = []
    for name in public_names(module):
        value = getattr(module, name)
        # a sub-package may be rendered on its own page; everything else on its area's page
        pool = everywhere if inspect.ismodule(value) else here
        if not any(same(value, shown) for shown in pool):
            absent.append(name)
    assert not absent, f"docs/api/{page} renders no '::: path' for {absent} of {AREAS[page]}"


def test_every_api_page_is_in_the_navigation_and_the_quickstart_matches_the_readme():
    with open(os.path.join(REPO, "mkdocs.yml"), encoding="utf-8") as f:
        text = f.read()
    assert sorted(re.findall(r"\bapi/(\w+\.md)\b", text)) == sorted(AREAS) == sorted(os.listdir(API))

    def commands(path):
        with open(path, encoding="utf-8") as f:
            return re.search(r"```bash\n(.*?)```", f.read(), flags=re.S).group(1)

    assert commands(os.path.join(REPO, "docs", "index.md")) == commands(os.path.join(REPO, "README.md"))


def test_mkdocs_build_strict(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert out.returncode == 0, f"mkdocs build --strict failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    site = tmp_path / "site"
    pages = {path.relative_to(site).as_posix(): path.read_text(encoding="utf-8") for path in site.rglob("*.html")}
    assert {f"api/{page[:-3]}.html" for page in AREAS} <= set(pages)
    # every rendered object has its anchor on its page
    assert 'id="tfprune.export.tflite.to_tflite"' in pages["api/export.html"]
    for name, html in pages.items():
        # nothing is loaded from elsewhere: no web fonts, scripts, styles or images
        assert not re.search(r"""<(?:script|img|link)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""", html), name
        # docs/hooks/roles.py strips the Sphinx roles (":func:`x`" -> `x`)
        assert not re.search(r":(?:func|class|meth|mod|data|attr|exc):<code>", html), name
