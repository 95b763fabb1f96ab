"""The package's shape, read from its source with `ast` (nothing is imported): no import cycles, the bottom
layer imports nothing above it, no module over 450 lines and no function over 60.

How imports count:
- An import inside a function (lazy) runs only when the function is called, after every module involved has
  finished loading, so it cannot meet a half-loaded module: lazy imports are left out of the cycle check, and
  this is the one legitimate way to break a cycle (for example `UserError.render` reads `i18n`).
- Importing `seqcompare.a.b` first runs the package `seqcompare.a` (its `__init__`), so it counts as an
  import of `seqcompare.a` too, unless the importer is itself inside `seqcompare.a` (then the package is
  already loading). `from seqcompare.a import x` is an import of the submodule `seqcompare.a.x` when there
  is one, else of the package `seqcompare.a`. Imports under `if TYPE_CHECKING:` never run and do not count.
- The layer rule counts every import, lazy ones included: the bottom layer must not reach up at all.
"""

from __future__ import annotations

import ast

import pytest

from conftest import ROOT

PACKAGE = ROOT / "seqcompare"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60

# The bottom layer: models, data, checkpoints and the small helpers everything uses. It imports only itself
# and the package root (UserError, CELLS).
BOTTOM = ("seqcompare.models", "seqcompare.data", "seqcompare.checkpoints", "seqcompare.metrics",
          "seqcompare.i18n", "seqcompare.validate", "seqcompare.machine", "seqcompare.devices")
# What the bottom layer must never import, even lazily: tasks, the CLI and its output, the scheduler, the UI,
# the bench, the report, live training and sweeps.
ABOVE = ("seqcompare.tasks", "seqcompare.cli", "seqcompare.output", "seqcompare.parallel", "seqcompare.ui",
         "seqcompare.bench", "seqcompare.report", "seqcompare.live", "seqcompare.sweep")


def module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
PACKAGES = {module_name(p) for p in PACKAGE.rglob("__init__.py")}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and isinstance(test, (ast.Name, ast.Attribute)) and \
        (getattr(test, "id", None) or getattr(test, "attr", None)) == "TYPE_CHECKING"


def import_nodes(tree: ast.AST, lazy: bool = False):
    """(node, lazy) for every import statement; lazy: inside a function body."""
    for child in ast.iter_child_nodes(tree):
        if is_type_checking(child):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, lazy
        inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from import_nodes(child, inner)


def targets(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The seqcompare modules one import statement runs (see the module docstring)."""
    if isinstance(node, ast.Import):
        named = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:                                            # relative: from the importer's package
            package = importer if importer in PACKAGES else importer.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        named = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in SOURCES else base for alias in node.names]
    found = set()
    for name in named:
        while name and name not in SOURCES:                       # `import seqcompare.a.b as c` → the module
            name = name.rpartition(".")[0]
        if not within(name, "seqcompare"):
            continue
        found.add(name)
        parent = name.rpartition(".")[0]
        while parent:                                             # the packages it loads on the way
            if not within(importer, parent):
                found.add(parent)
            parent = parent.rpartition(".")[0]
    found.discard(importer)
    return found


def graph(include_lazy: bool) -> dict[str, set[str]]:
    edges = {}
    for name, path in SOURCES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges[name] = set().union(*[targets(name, node) for node, lazy in import_nodes(tree)
                                    if include_lazy or not lazy])
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_reads_imports_as_python_runs_them():
    """The reader itself: a module's known imports are found, lazy ones only in the full graph."""
    module_level, everything = graph(include_lazy=False), graph(include_lazy=True)
    assert "seqcompare.models.cells" in module_level["seqcompare.models.charlm"]
    assert "seqcompare.textgen" in module_level["seqcompare.ui.textgen_tab"]      # the package runs first
    assert "seqcompare.i18n" in everything["seqcompare"] and "seqcompare.i18n" not in module_level["seqcompare"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(graph(include_lazy=False)) == []


def test_the_bottom_layer_imports_nothing_above_it_even_lazily():
    bottom = [name for name in SOURCES if any(within(name, b) for b in BOTTOM)]
    assert len(bottom) >= len(BOTTOM)
    edges = graph(include_lazy=True)
    upward = {name: sorted(t for t in edges[name] if any(within(t, a) for a in ABOVE)) for name in bottom}
    assert {name: up for name, up in upward.items() if up} == {}
    outside = {name: sorted(t for t in edges[name] if t != "seqcompare" and not any(within(t, b) for b in BOTTOM))
               for name in bottom}
    assert {name: out for name, out in outside.items() if out} == {}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_module_size(name):
    lines = len(SOURCES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{SOURCES[name].relative_to(ROOT)} has {lines} lines"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_function_size(name):
    tree = ast.parse(SOURCES[name].read_text(encoding="utf-8"))
    long = {f"{node.name} (line {node.lineno})": node.end_lineno - node.lineno + 1 for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES}
    assert long == {}, f"{SOURCES[name].relative_to(ROOT)}: functions over {MAX_FUNCTION_LINES} lines"
