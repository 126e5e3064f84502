"""Reads ``verified``'s speculator started, run once, for the actor to adopt.

The speculator's reads outlive it (it is stopped at the final words), so the actor can take a
pending request over instead of sending the same read again; the speculator's writes refuse
to run at all.
"""

from __future__ import annotations

from ..errors import SpecagentError

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from ..clock import Clock
from ..executor import LatencyFn
from ..tools import Tool, Toolset
from .call_rules import call_key

__all__ = ["ReadPool", "SpeculatorWriteRefused"]


class SpeculatorWriteRefused(SpecagentError, RuntimeError):
    """The speculator tried to run a state-changing tool (it never may)."""


class ReadPool:
    """Reads the speculator started, run once, for the actor to adopt.

    The speculator's read-only tools are wrapped so each call starts a task owned by the
    :class:`VerifiedSession` (it outlives the speculator, which is stopped at the final words),
    applying the speculator's latency draw itself. When the actor makes the same read (same
    tool and arguments, no state-changing call of its own before it), its latency function
    hands it that task: the actor's executor waits only for what is left of it, and its tool
    function returns the task's result. The tool runs once. Reads nobody adopted are cancelled
    when the turn ends. Every state-changing tool of the speculator refuses to run.
    """

    def __init__(
        self,
        clock: Clock,
        toolset: Toolset,
        speculator_latency: LatencyFn,
        actor_latency: LatencyFn,
    ) -> None:
        self._clock, self._toolset = clock, toolset
        self._spec_latency, self._actor_latency = speculator_latency, actor_latency
        self._group: asyncio.TaskGroup | None = None
        self._pending: dict[str, list[asyncio.Task[Any]]] = {}  # started, not yet adopted
        self._handed: dict[str, list[asyncio.Task[Any]]] = {}  # adopted, awaiting the tool fn
        self._actor_wrote = False
        self.started = 0
        self.joined = 0

    def bind(self, group: asyncio.TaskGroup) -> None:
        self._group = group

    # -- the speculator's side ------------------------------------------------------------

    def speculator_tools(self) -> Toolset:
        return Toolset(self._speculator_tool(t) for t in self._toolset.values())

    def _speculator_tool(self, tool: Tool) -> Tool:
        if tool.effect.changes_state:

            async def refuse(**arguments: Any) -> Any:
                raise SpeculatorWriteRefused(f"the speculator may not run {tool.name!r}")

            return dataclasses.replace(tool, fn=refuse, idempotency_key=None)

        async def pooled(**arguments: Any) -> Any:
            return _unwrap(await asyncio.shield(self._launch(tool, arguments)))

        return dataclasses.replace(tool, fn=pooled, idempotency_key=None)

    def speculator_latency(self, name: str, arguments: Mapping[str, Any]) -> float:
        tool = self._toolset.get(name)
        if tool is not None and not tool.effect.changes_state:
            return 0.0  # the pooled task waits out the draw itself
        return self._spec_latency(name, arguments)

    def _launch(self, tool: Tool, arguments: dict[str, Any]) -> asyncio.Task[Any]:
        assert self._group is not None, "ReadPool used outside VerifiedSession.run"
        seconds = self._spec_latency(tool.name, arguments)

        async def run() -> tuple[bool, Any]:
            # The outcome is returned, never raised: a failing read must not end the task
            # group that owns it; whoever awaits it raises the tool's error as its own.
            await self._clock.sleep(seconds)
            try:
                return True, await tool.call(arguments, call_key=f"speculator-{self.started}")
            except Exception as exc:  # noqa: BLE001 - handed to the awaiting call
                return False, exc

        task = self._group.create_task(run(), name=f"speculator-read-{tool.name}")
        self._pending.setdefault(call_key(tool.name, arguments), []).append(task)
        self.started += 1
        return task

    # -- the actor's side -----------------------------------------------------------------

    def actor_tools(self) -> Toolset:
        return Toolset(self._actor_tool(t) for t in self._toolset.values())

    def _actor_tool(self, tool: Tool) -> Tool:
        if tool.effect.changes_state:
            return tool

        async def adopting(**arguments: Any) -> Any:
            written = {k: v for k, v in arguments.items() if k != tool.idempotency_key}
            handed = self._handed.get(call_key(tool.name, written))
            if handed:
                task = handed.pop(0)
                try:
                    return _unwrap(await asyncio.shield(task))
                except asyncio.CancelledError:
                    task.cancel()  # the actor gave up on it (timeout, withdrawal): so do we
                    raise
            return await tool.fn(**arguments)

        return dataclasses.replace(tool, fn=adopting)

    def actor_latency(self, name: str, arguments: Mapping[str, Any]) -> float:
        own = self._actor_latency(name, arguments)  # drawn always: later draws match sync's
        tool = self._toolset.get(name)
        if tool is None or tool.effect.changes_state:
            self._actor_wrote = self._actor_wrote or tool is not None
            return own
        key = call_key(name, arguments)
        pending = self._pending.get(key)
        if self._actor_wrote or not pending:
            return own  # after a write, an earlier read may be stale: run it afresh
        self._handed.setdefault(key, []).append(pending.pop(0))
        self.joined += 1
        return 0.0  # the adopted task holds the time its request has left

    def cancel_unadopted(self) -> None:
        for tasks in self._pending.values():
            for task in tasks:
                task.cancel()


def _unwrap(outcome: tuple[bool, Any]) -> Any:
    ok, value = outcome
    if not ok:
        raise value
    return value
