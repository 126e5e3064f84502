"""The typed value sets in events.py are exact: every tool error type and every turn end reason
the code writes is in its Literal, and every member of a Literal is written somewhere."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from specagent import tools
from specagent.events import END_REASONS, TOOL_ERROR_TYPES

SRC = Path(__file__).resolve().parents[1] / "src" / "specagent"


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(SRC.rglob("*.py"))]


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _target_name(target: ast.AST) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _error_types_written() -> dict[str, list[str]]:
    """error_type="x" keywords and error_type = "x" assignments, with where they are."""
    found: dict[str, list[str]] = {}
    for path, tree in _trees():
        for node in ast.walk(tree):
            values: list[str | None] = []
            if isinstance(node, ast.keyword) and node.arg == "error_type":
                values.append(_string(node.value))
            elif isinstance(node, ast.Assign):
                if any(_target_name(t) == "error_type" for t in node.targets):
                    values.append(_string(node.value))
            elif isinstance(node, ast.AnnAssign) and _target_name(node.target) == "error_type":
                values.append(_string(node.value))
            for value in values:
                if value is not None:
                    found.setdefault(value, []).append(f"{path.name}:{node.lineno}")
    # The renderer writes one error type straight into the tag (a held call the user must confirm).
    render = (SRC / "protocol" / "render.py").read_text(encoding="utf-8")
    for value in re.findall(r'error="([a-z_]+)"', render):
        found.setdefault(value, []).append("render.py")
    return found


def test_every_tool_error_type_written_is_in_the_literal_and_back() -> None:
    written = _error_types_written()
    assert len(written) >= 8  # the scan really sees the executor, tools and resume
    assert sorted(set(written) - TOOL_ERROR_TYPES) == []
    assert sorted(TOOL_ERROR_TYPES - set(written)) == []


def test_tool_error_classes_carry_a_listed_type() -> None:
    classes = [tools.ToolError, *tools.ToolError.__subclasses__()]
    assert len(classes) >= 3
    assert all(cls.error_type in TOOL_ERROR_TYPES for cls in classes)


def _end_reasons_written() -> set[str]:
    """turn.finish("x") calls, and the default of a Turn's ``ended`` field."""
    found: set[str] = set()
    for _, tree in _trees():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "finish"
                and node.args
            ):
                value = _string(node.args[0])
                if value is not None:
                    found.add(value)
            elif isinstance(node, ast.AnnAssign) and _target_name(node.target) == "ended":
                value = _string(node.value)
                if value is not None:
                    found.add(value)
    return found


def test_every_end_reason_written_is_in_the_literal_and_back() -> None:
    written = _end_reasons_written()
    assert "answered" in written and "running" in written
    assert sorted(written - END_REASONS) == []
    assert sorted(END_REASONS - written) == []
