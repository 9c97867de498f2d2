"""keras_har's modules import each other without a cycle.

Every ``import`` and ``from ... import`` of a keras_har module counts, also
those deferred inside a function: a deferred import hides a cycle at import
time but still ties the two modules together (training <-> evaluation was
one). ``from package import name`` counts as an import of ``package.name``
when that is a module, else of ``package``.
"""

import ast
import pathlib

import pytest

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent.parent / "keras_har"


def _modules(package_root):
    modules = {}
    for path in sorted(package_root.rglob("*.py")):
        parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def import_graph(package_root=PACKAGE_ROOT):
    """``{module: set of keras_har modules it imports}``."""
    modules = _modules(package_root)
    top = package_root.name
    graph = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = alias.name
                    while target and target not in modules:
                        target = target.rpartition(".")[0]
                    if target:
                        edges.add(target)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source != top and not source.startswith(top + "."):
                    continue
                for alias in node.names:
                    if f"{source}.{alias.name}" in modules:
                        edges.add(f"{source}.{alias.name}")
                    elif source in modules:
                        edges.add(source)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[module] = "done"
        stack.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_keras_har_has_no_import_cycle():
    graph = import_graph()
    assert {"keras_har.training", "keras_har.evaluation", "keras_har.models.registry"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_training_and_evaluation_take_model_resolution_from_models():
    graph = import_graph()
    assert "keras_har.models.registry" in graph["keras_har.training"]
    assert "keras_har.models.registry" in graph["keras_har.evaluation"]
    assert "keras_har.evaluation" not in graph["keras_har.training"]


@pytest.mark.parametrize("deferred", [False, True])
def test_a_cycle_is_found_also_through_a_deferred_import(tmp_path, deferred):
    package = tmp_path / "keras_har"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "training.py").write_text(
        "def train():\n    from keras_har.evaluation import resolve_builder\n" if deferred
        else "from keras_har import evaluation\n"
    )
    (package / "evaluation.py").write_text("from keras_har import training\n")
    cycle = find_cycle(import_graph(package))
    assert cycle in (["keras_har.evaluation", "keras_har.training", "keras_har.evaluation"],
                     ["keras_har.training", "keras_har.evaluation", "keras_har.training"])


def test_relative_imports_resolve_to_the_sibling_module(tmp_path):
    package = tmp_path / "keras_har"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "__init__.py").write_text("from .registry import MODELS\n")
    (package / "models" / "registry.py").write_text("from ..metrics import macro_f1\n")
    (package / "metrics.py").write_text("import numpy\n")
    graph = import_graph(package)
    assert graph["keras_har.models"] == {"keras_har.models.registry"}
    assert graph["keras_har.models.registry"] == {"keras_har.metrics"}
    assert find_cycle(graph) is None
