"""The layering of docs/architecture.md holds in the code: no module imports a module of a higher
layer, module-level imports form no cycle, and ``import tfprune`` loads no TensorFlow."""

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfprune")

# module (or package prefix) -> layer, as in docs/architecture.md
LAYERS = {
    "tfprune._version": 0, "tfprune._validate": 0, "tfprune.registry": 0,
    "tfprune.allocation": 1, "tfprune.backend": 1,
    "tfprune.layers": 2, "tfprune.mask_storage": 2, "tfprune.training_guard": 2, "tfprune.io": 2,
    "tfprune.schedules": 3, "tfprune.masks": 3, "tfprune.keras3": 3, "tfprune.wrapper": 3, "tfprune.summary": 3, "tfprune.data": 3,
    "tfprune.strategies": 2, "tfprune.launch": 2,
    "tfprune.pruning": 4, "tfprune.pruning_callbacks": 4, "tfprune.round_log": 5,
    "tfprune.scoring": 5, "tfprune.score_masks": 5,
    "tfprune.collapse": 6, "tfprune.saving": 6,
    "tfprune.at_init": 7,
    "tfprune.export": 8, "tfprune.tuning": 8, "tfprune.structured": 8, "tfprune.diagnostics": 8,
    "tfprune.bench": 8,
    "tfprune.cli": 9,
}


def layer_of(module):
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    return None if best is None else LAYERS[best]


def modules():
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                yield rel.removesuffix(".__init__"), path


def imports(path, package, top_level_only):
    tree = ast.parse(open(path, encoding="utf-8").read())
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("tfprune"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tfprune"):
            for alias in node.names:  # `from tfprune import layers` imports the module tfprune.layers
                candidate = f"{node.module}.{alias.name}"
                yield candidate if os.path.exists(os.path.join(os.path.dirname(ROOT), *candidate.split(".")) + ".py") \
                    or os.path.isdir(os.path.join(os.path.dirname(ROOT), *candidate.split("."))) else node.module


def test_every_module_has_a_layer_and_imports_nothing_above_it():
    wrong = []
    for module, path in modules():
        if module == "tfprune":
            continue
        own = layer_of(module)
        assert own is not None, f"{module}: not in docs/architecture.md's table (add it to both)"
        for target in imports(path, module, top_level_only=False):
            if target == "tfprune" or layer_of(target) is None:
                continue
            if layer_of(target) > own:
                wrong.append(f"{module} (layer {own}) imports {target} (layer {layer_of(target)})")
    assert wrong == []


def test_module_level_imports_have_no_cycle():
    graph = {m: {t for t in imports(p, m, top_level_only=True) if t != m} for m, p in modules()}
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join(trail + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_import_tfprune_loads_no_tensorflow():
    code = "import sys, tfprune; tfprune.ALLOCATIONS; tfprune.SCORERS; print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras_tuner', 'matplotlib', 'sklearn')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(ROOT))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
