"""The public API: what ``import tfprune`` promises, and the names the documentation uses.

Every name in ``tfprune.__all__`` must resolve through the lazy import and carry a real
docstring; every public function and class of the public modules must be documented; and
every ``tfprune.xxx(`` / ``tfprune.xxx.yyy(`` call in the code of README.md and docs/*.md
must work after a plain ``import tfprune`` in a fresh interpreter, as a user would run it.
"""

import glob
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import tfprune
from tfprune import _version

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PUBLIC_MODULES = [
    "tfprune.allocation",
    "tfprune.scoring",
    "tfprune.schedules",
    "tfprune.layers",
    "tfprune.masks",
    "tfprune.export",
    "tfprune.tuning",
    "tfprune.data",
    "tfprune.keras3",
]

#: Fewer words than this and a docstring is a placeholder, not documentation.
MIN_WORDS = 5

#: Documented names known not to resolve after a plain ``import tfprune`` (bugs to fix in
#: tfprune/__init__.py or in the docs); strict, so fixing one makes this test ask for its removal.
KNOWN_BROKEN = {}  # name -> why it does not resolve yet (strict xfail until fixed)


def _words(obj):
    return len((inspect.getdoc(obj) or "").split())


# --------------------------------------------------------------------------- docstrings


def test_version_is_read_from_one_place():
    assert tfprune.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", tfprune.__version__)
    # setup.py parses tfprune/_version.py instead of repeating the number
    out = subprocess.run([sys.executable, "setup.py", "--version"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == tfprune.__version__


@pytest.mark.parametrize("name", [n for n in tfprune.__all__ if n != "__version__"])
def test_every_name_in_all_has_a_real_docstring(name):
    obj = getattr(tfprune, name)
    assert _words(obj) >= MIN_WORDS, f"tfprune.{name}: docstring {inspect.getdoc(obj)!r}"


def _public_members(module):
    """(qualified name, object) of the functions and classes ``module`` offers its users."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if not (obj.__module__ or "").startswith("tfprune"):
            continue  # re-exported from TensorFlow, numpy, ...
        yield f"{module.__name__}.{name}", obj


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_modules_document_every_function_and_class(module_name):
    module = importlib.import_module(module_name)
    assert _words(module) >= MIN_WORDS, f"{module_name}: no module docstring"
    members = list(_public_members(module))
    assert members, f"{module_name}: no public function or class found"
    missing = [name for name, obj in members if _words(obj) < MIN_WORDS]
    assert missing == []


# --------------------------------------------------------------------------- lazy names, each on a fresh import

# Runs in a fresh interpreter after a plain ``import tfprune``. Import order matters (a circular
# import can hide behind a name that happened to load a module first), so each dotted name is
# resolved on its own: in a forked child of a process where no tfprune module but
# ``tfprune._version`` is loaded yet. The third-party stacks are imported once before forking,
# which changes nothing for tfprune's own modules and saves importing TensorFlow per name.
# Prints {name: None or why it failed}. Without os.fork, run it once per name.
_RESOLVE = r"""
import importlib, json, os, sys

import tfprune

def resolve(dotted):
    obj = tfprune
    try:
        for part in dotted.split(".")[1:]:
            obj = getattr(obj, part)
    except Exception as e:
        return f"{type(e).__name__}: {' '.join(str(e).split())}"
    return None

def loaded():
    return sorted(m for m in sys.modules if m.startswith("tfprune."))

names = json.loads(sys.argv[1])
if not hasattr(os, "fork"):
    print(json.dumps({name: resolve(name) for name in names}))
    sys.exit()
assert loaded() == ["tfprune._version"], loaded()
for module in ("tensorflow", "tf_keras", "tensorflow_model_optimization", "keras_tuner",
               "ai_edge_litert.interpreter", "sklearn.datasets", "click", "tqdm", "matplotlib.pyplot"):
    try:
        importlib.import_module(module)
    except ImportError:
        pass
assert loaded() == ["tfprune._version"], loaded()
results = {}
for name in names:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.write(write, json.dumps(resolve(name)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        answer = f.read()
    os.waitpid(pid, 0)
    results[name] = json.loads(answer) if answer else "the child process died"
print(json.dumps(results))
"""


def _resolve_fresh(names):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("TF_USE_LEGACY_KERAS", None)
    out = subprocess.run([sys.executable, "-c", _RESOLVE, json.dumps(sorted(names))], capture_output=True,
                         text=True, env=env, cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _code_in_markdown(text):
    """The fenced code blocks and the inline code spans of a Markdown text."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    return fenced + re.findall(r"`([^`]+)`", prose)


def documented_calls():
    """``tfprune.xxx`` / ``tfprune.xxx.yyy...`` called in README.md and docs/*.md code."""
    names = set()
    for path in [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))):
        with open(path, encoding="utf-8") as f:
            for code in _code_in_markdown(f.read()):
                names.update(re.findall(r"(?<![\w.])(tfprune(?:\.[A-Za-z_]\w*)+)\s*\(", code))
    return names


NAMES = sorted({f"tfprune.{n}" for n in tfprune.__all__ if n != "__version__"} | documented_calls())


def test_docs_call_the_api():
    # The README's own example, so a change to the scan that finds nothing fails here.
    assert {"tfprune.prune", "tfprune.callbacks", "tfprune.strip", "tfprune.schedules.Gradual"} <= set(NAMES)


@pytest.fixture(scope="module")
def resolved():
    """{dotted name: None or why it failed after a plain ``import tfprune``}."""
    if hasattr(os, "fork"):
        return _resolve_fresh(NAMES)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return {k: v for part in pool.map(_resolve_fresh, [[n] for n in NAMES]) for k, v in part.items()}


def _known(name):
    return next((why for prefix, why in KNOWN_BROKEN.items() if name == prefix or name.startswith(prefix + ".")), None)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.xfail(reason=_known(n), strict=True)) if _known(n) else n for n in NAMES],
)
def test_documented_and_public_names_resolve_after_plain_import(resolved, name):
    assert resolved[name] is None, f"import tfprune; {name}: {resolved[name]}"
