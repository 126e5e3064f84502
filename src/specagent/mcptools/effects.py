"""Effect classes for MCP tools: from the server's annotations, or from the user's override.

An MCP server describes its tools with *hints* (``readOnlyHint``, ``destructiveHint``,
``idempotentHint``). A server is not trusted to be right about itself, so a hint can only make
a tool look safe when it is unambiguous, and everything else falls back to the safe default:

* ``readOnlyHint: true`` (and not also ``destructiveHint: true``) -> ``READ_ONLY``
* ``idempotentHint: true`` with ``destructiveHint: false`` -> ``IDEMPOTENT``
* anything else, no annotations, or hints that contradict each other -> ``IRREVERSIBLE``

``destructiveHint`` defaults to true in the MCP specification, so an idempotent hint alone
(without ``destructiveHint: false``) stays irreversible: "delete this file" is idempotent and
destructive. The user can override any tool (``--tool-effect NAME=CLASS``), and only the user
can make a tool ``REVERSIBLE``, by naming the MCP tool that undoes it
(``--tool-effect reserve=reversible:cancel_reservation``). Every decision records where it came
from (:class:`EffectSource`) so ``specagent tools`` can show it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..tools import Effect
from .errors import McpConfigError

__all__ = [
    "EffectDecision",
    "EffectSource",
    "ToolHints",
    "ToolOverride",
    "effect_from_hints",
    "parse_effect",
    "parse_tool_effect",
]


class EffectSource(enum.Enum):
    """Where a tool's effect class came from."""

    ANNOTATION = "annotation"  # the server's hints, taken as they are
    DEFAULT = "default"  # no usable hint: the safe default
    OVERRIDE = "override"  # the user said so (--tool-effect or Python)
    DECLARED = "declared"  # a Python tool declared in code


@dataclass(frozen=True)
class ToolHints:
    """The behaviour hints of one MCP tool (``None``: the server did not say)."""

    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None

    def as_json(self) -> dict[str, bool | None]:
        return {
            "readOnlyHint": self.read_only,
            "destructiveHint": self.destructive,
            "idempotentHint": self.idempotent,
            "openWorldHint": self.open_world,
        }


@dataclass(frozen=True)
class EffectDecision:
    effect: Effect
    source: EffectSource
    reason: str


def effect_from_hints(hints: ToolHints | None) -> EffectDecision:
    """The effect class an MCP tool gets from its hints alone (see the module docstring)."""
    if hints is None:
        return EffectDecision(Effect.IRREVERSIBLE, EffectSource.DEFAULT, "no annotations")
    if hints == ToolHints():
        return EffectDecision(Effect.IRREVERSIBLE, EffectSource.DEFAULT, "no behaviour hints")
    if hints.read_only is True:
        if hints.destructive is True:
            return EffectDecision(
                Effect.IRREVERSIBLE,
                EffectSource.DEFAULT,
                "contradictory hints (readOnlyHint and destructiveHint both true)",
            )
        return EffectDecision(Effect.READ_ONLY, EffectSource.ANNOTATION, "readOnlyHint")
    if hints.idempotent is True:
        if hints.destructive is False:
            return EffectDecision(
                Effect.IDEMPOTENT, EffectSource.ANNOTATION, "idempotentHint, destructiveHint false"
            )
        if hints.destructive is None:
            return EffectDecision(
                Effect.IRREVERSIBLE,
                EffectSource.DEFAULT,
                "idempotentHint without destructiveHint: false (MCP's default is destructive)",
            )
        return EffectDecision(
            Effect.IRREVERSIBLE, EffectSource.ANNOTATION, "destructiveHint (idempotent)"
        )
    if hints.destructive is True:
        return EffectDecision(Effect.IRREVERSIBLE, EffectSource.ANNOTATION, "destructiveHint")
    return EffectDecision(Effect.IRREVERSIBLE, EffectSource.DEFAULT, "no read-only or idempotent hint")


@dataclass(frozen=True)
class ToolOverride:
    """The user's word on one tool: its effect class, and for a reversible tool the MCP tool
    that undoes it. ``timeout_s`` replaces the default call timeout for this tool."""

    effect: Effect
    compensate_with: str | None = None
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.effect is Effect.REVERSIBLE and not self.compensate_with:
            raise McpConfigError(
                "a reversible tool needs the MCP tool that undoes it: "
                "NAME=reversible:COMPENSATING_TOOL"
            )
        if self.effect is not Effect.REVERSIBLE and self.compensate_with:
            raise McpConfigError(
                f"only a reversible tool takes a compensating tool (got {self.effect.value})"
            )
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise McpConfigError("an override's timeout_s must be positive")


_CLASSES = ", ".join(e.value for e in Effect)


def parse_effect(text: str) -> Effect:
    """An effect class by name (``read_only``, ``read-only``, ``IRREVERSIBLE``, ...)."""
    key = text.strip().lower().replace("-", "_")
    try:
        return Effect(key)
    except ValueError:
        raise McpConfigError(f"unknown effect class {text!r}; choose one of: {_CLASSES}") from None


def parse_tool_effect(text: str) -> tuple[str, ToolOverride]:
    """Read one ``--tool-effect`` value: ``NAME=CLASS`` or ``NAME=reversible:COMPENSATOR``."""
    name, sep, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not sep or not name or not spec:
        raise McpConfigError(
            f"--tool-effect {text!r}: expected NAME=CLASS (CLASS: {_CLASSES}; "
            "reversible:COMPENSATING_TOOL for a reversible tool)"
        )
    effect_name, _, compensator = spec.partition(":")
    effect = parse_effect(effect_name)
    try:
        return name, ToolOverride(effect=effect, compensate_with=compensator.strip() or None)
    except McpConfigError as exc:
        raise McpConfigError(f"--tool-effect {text!r}: {exc}") from None
