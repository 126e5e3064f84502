"""A :class:`~specagent.tools.Toolset` whose tools live on MCP servers.

Each MCP tool becomes a plain :class:`~specagent.tools.Tool`: the server's JSON Schema, an
effect class from its annotations or the user's override (:mod:`.effects`), and a function
that sends the call to the server. The executor runs it like any other tool: timeouts,
cancellation (the SDK tells the server), failures as ``<tool_result error=...>``.

Time: calls go through the bridge (:mod:`.bridge`) with the session's clock held. On the real
clock that changes nothing. On the virtual clock, simulated time stands still while the
request is on the wire, then the call is charged ``virtual_cost_s`` of simulated time: by
default the real time it took (like the ``measured`` model profile), or a fixed figure for
reproducible runs. A call that times out is charged its timeout.

Use it as an async context manager, or await it and call :meth:`McpToolset.aclose`::

    async with Toolset.from_mcp("python my_server.py", clock=clock) as tools:
        result = await Session(backend, tools, clock, Policy.ASYNC).run(speech)
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..clock import Clock
from ..tools import Effect, Tool, Toolset
from .bridge import McpBridge
from .connection import CallOutcome, McpConnection, McpToolInfo
from .effects import EffectDecision, EffectSource, ToolHints, ToolOverride, effect_from_hints
from .errors import McpCallTimeout, McpCompensationError, McpConfigError, McpToolError
from .servers import McpServer

__all__ = ["McpOpening", "McpToolset", "ToolOrigin", "SkippedTool"]

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_CONNECT_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ToolOrigin:
    """Where a tool of the toolset comes from and why it has its effect class."""

    name: str
    server: str | None
    """The MCP server (command line or URL); ``None`` for a Python tool."""
    effect: Effect
    source: EffectSource
    reason: str
    hints: ToolHints | None = None
    compensate_with: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "server": self.server,
            "effect": self.effect.value,
            "effect_source": self.source.value,
            "reason": self.reason,
            "annotations": self.hints.as_json() if self.hints is not None else None,
            "compensate_with": self.compensate_with,
        }


@dataclass(frozen=True)
class SkippedTool:
    """A tool a server offered that cannot be used (its schema is not valid JSON Schema)."""

    name: str
    server: str
    reason: str


def compensation_arguments(
    schema: Mapping[str, Any], arguments: Mapping[str, Any], result: Any
) -> dict[str, Any]:
    """Arguments for a compensating call: each parameter it declares, taken from the original
    call's result (when that is an object) or else from the original call's arguments."""
    properties = schema.get("properties") or {}
    sources = [result if isinstance(result, Mapping) else {}, arguments]
    chosen: dict[str, Any] = {}
    for key in properties:
        for source in sources:
            if key in source:
                chosen[key] = source[key]
                break
    errors = list(jsonschema.Draft202012Validator(dict(schema)).iter_errors(chosen))
    if errors:
        raise McpCompensationError(
            "cannot build the compensating call from the original call's arguments and result: "
            + "; ".join(e.message for e in errors)
        )
    return chosen


class _ClockRef:
    """The clock the tools of one toolset charge (rebound when a new run gets a new clock)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock


class McpToolset(Toolset):
    """Tools from MCP servers (and optionally Python tools), with their connections."""

    def __init__(
        self,
        tools: Iterable[Tool],
        *,
        origins: Mapping[str, ToolOrigin],
        skipped: Sequence[SkippedTool],
        bridge: McpBridge,
        connections: Sequence[McpConnection],
        clock: _ClockRef,
        owner: bool = True,
    ) -> None:
        super().__init__(tools)
        self.origins: Mapping[str, ToolOrigin] = dict(origins)
        self.skipped: list[SkippedTool] = list(skipped)
        self.servers: list[str] = [c.label for c in connections]
        self._bridge = bridge
        self._connections = list(connections)
        self._clock = clock
        self._owner = owner

    @classmethod
    def connect(
        cls,
        *servers: str | McpServer,
        clock: Clock,
        overrides: Mapping[str, Effect | ToolOverride] | None = None,
        tools: Iterable[Tool] = (),
        timeout_s: float = DEFAULT_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        virtual_cost_s: float | None = None,
    ) -> McpOpening:
        """Connect to ``servers`` (command lines or http(s) URLs); await the result or use it
        with ``async with``. See :meth:`specagent.tools.Toolset.from_mcp`."""
        return McpOpening(
            cls,
            [s if isinstance(s, McpServer) else McpServer.parse(s) for s in servers],
            clock=clock,
            overrides={
                name: o if isinstance(o, ToolOverride) else ToolOverride(effect=o)
                for name, o in (overrides or {}).items()
            },
            tools=list(tools),
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            virtual_cost_s=virtual_cost_s,
        )

    @property
    def mcp_tool_names(self) -> set[str]:
        """The tools that live on a server (not the Python tools given alongside)."""
        return {name for name, origin in self.origins.items() if origin.server is not None}

    def rebind(self, clock: Clock) -> None:
        """Charge and hold ``clock`` from now on (a new run on a new clock, as in a benchmark
        where every episode gets its own). The connections are not tied to any loop."""
        self._clock.clock = clock

    def including(self, tools: Iterable[Tool]) -> McpToolset:
        """This toolset's MCP tools plus ``tools`` (Python tools), sharing its connections;
        closing the result leaves the connections open (their owner closes them)."""
        extra = list(tools)
        origins = dict(self.origins)
        for tool in extra:
            origins[tool.name] = ToolOrigin(
                tool.name, None, tool.effect, EffectSource.DECLARED, "declared in code"
            )
        mcp_tools = [self[name] for name in self.mcp_tool_names]
        combined = [*extra, *mcp_tools]
        return type(self)(
            combined,
            origins={t.name: origins[t.name] for t in combined},
            skipped=self.skipped,
            bridge=self._bridge,
            connections=self._connections,
            clock=self._clock,
            owner=False,
        )

    async def aclose(self) -> None:
        """Close every connection (stopping stdio servers) and the bridge thread."""
        if not self._owner or self._bridge.closed:
            return
        await _close_all(self._bridge, self._clock.clock, self._connections)

    async def __aenter__(self) -> McpToolset:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    def connection_for(self, tool_name: str) -> str | None:
        origin = self.origins.get(tool_name)
        return origin.server if origin is not None else None


async def _close_all(bridge: McpBridge, clock: Clock, connections: Sequence[McpConnection]) -> None:
    async def close_each() -> None:
        await asyncio.gather(*(c.close() for c in connections))

    try:
        if connections and not bridge.closed:
            await bridge.run(clock, close_each())
    finally:
        await bridge.close(clock)


class McpOpening:
    """What :meth:`McpToolset.connect` returns: ``await`` it, or ``async with`` it."""

    def __init__(
        self,
        cls: type[McpToolset],
        servers: list[McpServer],
        *,
        clock: Clock,
        overrides: dict[str, ToolOverride],
        tools: list[Tool],
        timeout_s: float,
        connect_timeout_s: float,
        virtual_cost_s: float | None,
    ) -> None:
        if timeout_s <= 0 or connect_timeout_s <= 0:
            raise McpConfigError("MCP timeouts must be positive")
        if virtual_cost_s is not None and virtual_cost_s < 0:
            raise McpConfigError("virtual_cost_s must be zero or more")
        labels = [s.label for s in servers]
        if len(set(labels)) != len(labels):
            raise McpConfigError(f"an MCP server is named twice: {labels}")
        self._cls, self._servers, self._clock = cls, servers, clock
        self._overrides, self._tools = overrides, tools
        self._timeout_s, self._connect_timeout_s = timeout_s, connect_timeout_s
        self._virtual_cost_s = virtual_cost_s
        self._clock_ref = _ClockRef(clock)
        self._opened: McpToolset | None = None

    def __await__(self) -> Generator[Any, None, McpToolset]:
        return self._open().__await__()

    async def __aenter__(self) -> McpToolset:
        self._opened = await self._open()
        return self._opened

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._opened is not None:
            await self._opened.aclose()

    async def _open(self) -> McpToolset:
        bridge = McpBridge()
        connections = [
            McpConnection(s, connect_timeout_s=self._connect_timeout_s) for s in self._servers
        ]
        try:

            async def open_all() -> list[list[McpToolInfo] | BaseException]:
                return await asyncio.gather(*(c.open() for c in connections), return_exceptions=True)

            listed = await bridge.run(self._clock, open_all())
            failures = [r for r in listed if isinstance(r, BaseException)]
            if failures:
                raise failures[0]
            return self._build(bridge, connections, listed)  # type: ignore[arg-type]
        except BaseException:
            await _close_all(bridge, self._clock, connections)
            raise

    # -- turning listings into tools --------------------------------------------------------

    def _build(
        self,
        bridge: McpBridge,
        connections: list[McpConnection],
        listed: list[list[McpToolInfo]],
    ) -> McpToolset:
        owners: dict[str, tuple[McpConnection, McpToolInfo]] = {}
        origins: dict[str, ToolOrigin] = {}
        for tool in self._tools:
            origins[tool.name] = ToolOrigin(
                tool.name, None, tool.effect, EffectSource.DECLARED, "declared in code"
            )
        for connection, infos in zip(connections, listed):
            for info in infos:
                if info.name in origins or info.name in owners:
                    other = owners[info.name][0].label if info.name in owners else "Python tools"
                    raise McpConfigError(
                        f"tool {info.name!r} is offered by both {other!r} and "
                        f"{connection.label!r}; tool names must be unique",
                        server=connection.label,
                    )
                owners[info.name] = (connection, info)
        unknown = sorted(set(self._overrides) - set(owners))
        if unknown:
            raise McpConfigError(
                f"--tool-effect names no MCP tool: {', '.join(unknown)}; "
                f"MCP tools: {', '.join(sorted(owners)) or 'none'}"
            )
        toolset_tools = list(self._tools)
        skipped: list[SkippedTool] = []
        for name, (connection, info) in owners.items():
            try:
                jsonschema.Draft202012Validator.check_schema(info.input_schema)
            except jsonschema.SchemaError as exc:
                skipped.append(SkippedTool(name, connection.label, f"invalid input schema: {exc.message}"))
                continue
            decision = self._decide(info)
            compensate = None
            override = self._overrides.get(name)
            if decision.effect is Effect.REVERSIBLE:
                assert override is not None and override.compensate_with is not None
                compensate = self._compensator(bridge, owners, override.compensate_with, name)
            timeout_s = override.timeout_s if override and override.timeout_s else self._timeout_s
            toolset_tools.append(
                Tool.from_json_schema(
                    name,
                    info.description,
                    info.input_schema,
                    self._caller(bridge, connection, name, timeout_s),
                    effect=decision.effect,
                    timeout_s=timeout_s,
                    compensate=compensate,
                )
            )
            origins[name] = ToolOrigin(
                name,
                connection.label,
                decision.effect,
                decision.source,
                decision.reason,
                info.hints,
                override.compensate_with if override else None,
            )
        return self._cls(
            toolset_tools,
            origins={t.name: origins[t.name] for t in toolset_tools},
            skipped=skipped,
            bridge=bridge,
            connections=connections,
            clock=self._clock_ref,
        )

    def _decide(self, info: McpToolInfo) -> EffectDecision:
        override = self._overrides.get(info.name)
        if override is not None:
            return EffectDecision(override.effect, EffectSource.OVERRIDE, "set by the user")
        return effect_from_hints(info.hints)

    def _compensator(
        self,
        bridge: McpBridge,
        owners: Mapping[str, tuple[McpConnection, McpToolInfo]],
        name: str,
        for_tool: str,
    ) -> Any:
        if name not in owners:
            raise McpConfigError(
                f"the compensating tool {name!r} named for {for_tool!r} is not an MCP tool; "
                f"MCP tools: {', '.join(sorted(owners))}"
            )
        connection, info = owners[name]
        override = self._overrides.get(name)
        timeout_s = override.timeout_s if override and override.timeout_s else self._timeout_s
        call = self._caller(bridge, connection, name, timeout_s)

        async def compensate(arguments: dict[str, Any], result: Any) -> Any:
            return await call(**compensation_arguments(info.input_schema, arguments, result))

        return compensate

    def _caller(
        self, bridge: McpBridge, connection: McpConnection, name: str, timeout_s: float
    ) -> Any:
        ref, fixed_cost = self._clock_ref, self._virtual_cost_s

        async def charge(seconds: float) -> None:
            if ref.clock.is_virtual:
                await ref.clock.sleep(fixed_cost if fixed_cost is not None else seconds)

        async def call_mcp_tool(**arguments: Any) -> Any:
            clock = ref.clock
            try:
                outcome: CallOutcome = await bridge.run(
                    clock, connection.call(name, arguments, timeout_s)
                )
            except McpCallTimeout:
                if clock.is_virtual:  # it held real time; simulated time sees the full timeout
                    await clock.sleep(timeout_s)
                raise
            await charge(outcome.elapsed_s)
            if outcome.is_error:
                detail = outcome.value if isinstance(outcome.value, str) else str(outcome.value)
                raise McpToolError(connection.label, name, detail)
            return outcome.value

        call_mcp_tool.__name__ = name
        return call_mcp_tool
