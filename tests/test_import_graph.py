"""No import cycles in src/specagent: the module graph of module-level imports is acyclic.

Only imports executed when a module is imported count (module body, including ``try`` and
``if`` blocks, but not ``if TYPE_CHECKING:`` blocks and not imports inside functions, which run
later and are how optional or heavy parts are loaded on demand). Importing a name from a
package counts as an edge to the package (its ``__init__``) and, when the name is itself a
submodule, to that submodule.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "specagent"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                out += _module_level_imports(node.body)
            out += _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            out += _module_level_imports(node.body)
            for handler in node.handlers:
                out += _module_level_imports(handler.body)
            out += _module_level_imports(node.orelse) + _module_level_imports(node.finalbody)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            out += _module_level_imports(node.body)
    return out


def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def import_graph() -> dict[str, set[str]]:
    """Each specagent module -> the specagent modules its module-level imports load.

    A module's own parent packages are already being imported when it runs, so reaching them
    on the way to a target is not an edge; taking names from one (``from .. import X``) is.
    """
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        mine = _ancestors(name)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _module_level_imports(tree.body):
            explicit: list[str] = []
            if isinstance(node, ast.Import):
                explicit = [alias.name for alias in node.names]
            else:
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    explicit.append(sub if sub in modules else base)
            for target in explicit:
                for loaded in (_ancestors(target) - mine) | {target}:
                    if loaded in modules and loaded != name:
                        graph[name].add(loaded)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first repeated at the end), or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == grey:
                return stack[stack.index(nxt) :] + [nxt]
            if colour[nxt] == white:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in sorted(graph):
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return None


def test_the_checker_sees_the_package() -> None:
    graph = import_graph()
    assert len(graph) > 150
    assert "specagent.executor.records" in graph["specagent.executor.runner"]
    assert "specagent.protocol" in graph["specagent.agent.session"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    # a submodule importing a sibling does not go back through its package's __init__
    assert "specagent.protocol" not in graph["specagent.protocol.render"]
    assert "specagent.protocol.render" in graph["specagent.protocol"]


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])
