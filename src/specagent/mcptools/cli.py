"""The command-line side of MCP tools: ``--mcp`` / ``--tool-effect`` and ``specagent tools``.

``run``, ``bench`` (``jsonl:`` episodes) and ``voice`` take ``--mcp SERVER`` (repeatable: a
command line for a stdio server, or an http(s):// URL) and ``--tool-effect NAME=CLASS``;
the agent then gets the MCP servers' tools next to its built-in ones. ``specagent tools``
lists what an agent would get, each tool with its effect class and where that came from.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..clock import Clock, RealClock
from ..tools import Toolset
from .effects import EffectSource, ToolOverride, parse_tool_effect
from .errors import McpConfigError, McpError
from .servers import McpServer
from .toolset import McpToolset, ToolOrigin

__all__ = [
    "MCP_HELP",
    "TOOL_EFFECT_HELP",
    "McpOptions",
    "list_tools",
    "open_toolset",
    "tools",
    "without_simulated_latency",
]

MCP_HELP = (
    "An MCP server whose tools the agent gets: a command line (stdio) or an http(s):// URL "
    "(streamable HTTP). Repeatable."
)
TOOL_EFFECT_HELP = (
    "Override an MCP tool's effect class: NAME=read_only|idempotent|irreversible, or "
    "NAME=reversible:UNDO_TOOL. Repeatable."
)


@dataclass(frozen=True)
class McpOptions:
    """The MCP servers and overrides given on the command line."""

    servers: tuple[str, ...] = ()
    overrides: Mapping[str, ToolOverride] = field(default_factory=dict)

    @classmethod
    def from_cli(
        cls, mcp: Sequence[str] | None, tool_effect: Sequence[str] | None
    ) -> McpOptions:
        """Check the values now (before any model loads); raise :class:`McpConfigError`."""
        servers = tuple(mcp or ())
        for server in servers:
            McpServer.parse(server)
        overrides: dict[str, ToolOverride] = {}
        for text in tool_effect or ():
            name, override = parse_tool_effect(text)
            if name in overrides:
                raise McpConfigError(f"--tool-effect names {name!r} twice")
            overrides[name] = override
        if overrides and not servers:
            raise McpConfigError("--tool-effect applies to MCP tools: give --mcp SERVER too")
        return cls(servers, overrides)

    def __bool__(self) -> bool:
        return bool(self.servers)


@contextlib.asynccontextmanager
async def open_toolset(base: Toolset, options: McpOptions, clock: Clock) -> AsyncIterator[Toolset]:
    """``base`` with the MCP servers' tools added (connections closed on exit), or ``base``
    itself when no server is given."""
    if not options:
        yield base
        return
    async with McpToolset.connect(
        *options.servers, clock=clock, tools=list(base.values()), overrides=options.overrides
    ) as toolset:
        yield toolset


def without_simulated_latency(
    latency: Callable[[str, Mapping[str, Any]], float] | None, toolset: Toolset
) -> Callable[[str, Mapping[str, Any]], float] | None:
    """A simulated tool latency that leaves MCP tools alone: they cost what they really take
    (see :mod:`.toolset`), so adding a simulated wire time would count it twice."""
    if latency is None or not isinstance(toolset, McpToolset):
        return latency
    real = toolset.mcp_tool_names

    def simulated(name: str, arguments: Mapping[str, Any]) -> float:
        return 0.0 if name in real else latency(name, arguments)

    return simulated


def _origins(toolset: Toolset) -> list[ToolOrigin]:
    known = getattr(toolset, "origins", {})
    return [
        known.get(name)
        or ToolOrigin(name, None, tool.effect, EffectSource.DECLARED, "declared in code")
        for name, tool in toolset.items()
    ]


def list_tools(base: Toolset, options: McpOptions) -> tuple[list[dict[str, Any]], list[str]]:
    """What an agent would get: one record per tool, and warnings (skipped tools)."""
    clock = RealClock()

    async def gather() -> tuple[list[dict[str, Any]], list[str]]:
        async with open_toolset(base, options, clock) as toolset:
            rows = []
            for origin in _origins(toolset):
                record = origin.as_json()
                record["description"] = toolset[origin.name].description
                rows.append(record)
            skipped = getattr(toolset, "skipped", [])
            warnings = [f"skipped {s.name} from {s.server}: {s.reason}" for s in skipped]
            return rows, warnings

    return clock.run(gather())


def tools(
    mcp: Annotated[list[str] | None, typer.Option("--mcp", help=MCP_HELP)] = None,
    tool_effect: Annotated[
        list[str] | None, typer.Option("--tool-effect", help=TOOL_EFFECT_HELP)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """List the tools an agent would get, with each one's effect class and its source.

    The built-in assistant's tools and those of every --mcp server."""
    from ..envs.assistant import AssistantWorld, assistant_toolset

    err = Console(stderr=True)
    try:
        options = McpOptions.from_cli(mcp, tool_effect)
        rows, warnings = list_tools(assistant_toolset(AssistantWorld()), options)
    except McpError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        json.dump({"tools": rows, "warnings": warnings}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = Table(title="tools an agent would get")
    for column in ("tool", "effect", "from", "why", "server"):
        table.add_column(column, overflow="fold")
    for row in rows:
        why = row["reason"]
        if row["compensate_with"]:
            why += f"; undone by {row['compensate_with']}"
        table.add_row(
            row["name"], row["effect"], row["effect_source"], why, row["server"] or "(built in)"
        )
    out = Console()
    out.print(table)
    for warning in warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
