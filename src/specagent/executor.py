"""Tool execution: every call is a task, every outcome is an event.

The :class:`ToolExecutor` is the one place tool code runs. It validates arguments, honours
dependencies between calls, waits on a *gate* (how policies hold a state-changing call until
its commit point), applies simulated tool latency through the clock, enforces timeouts, and
reports what happened (held, started, finished, failed, cancelled) through ``emit``. A tool that
raises or hangs never takes the session down: it becomes a failure event the model can read.

It is an async context manager: leaving the block cancels whatever still runs, so no task
outlives the session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from .clock import Clock
from .events import (
    Event,
    ToolCallCancelled,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallStarted,
)
from .tools import Effect, ToolError, Toolset

__all__ = ["CallStatus", "CallRecord", "ToolExecutor", "LatencyFn", "ABORTED", "SESSION_ENDED"]

SESSION_ENDED = "session ended"
ABORTED = "session aborted"
"""Reason given to calls cancelled because the session itself failed or was cancelled: not a
decision about the call, so a resumed session treats such a call as still in flight."""

LatencyFn = Callable[[str, Mapping[str, Any]], float]
"""Simulated time a call spends on the wire before the tool's own code runs."""


class CallStatus(enum.Enum):
    WAITING = "waiting"  # issued; waiting on dependencies or its gate
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (CallStatus.DONE, CallStatus.FAILED, CallStatus.CANCELLED)


@dataclass
class CallRecord:
    """The executor's view of one call (mutable: it follows the call's life)."""

    call_id: int
    name: str
    arguments: dict[str, Any]
    depends: tuple[int, ...]
    effect: Effect | None
    issued_s: float
    status: CallStatus = CallStatus.WAITING
    held: bool = False
    started_s: float | None = None
    finished_s: float | None = None
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    done: asyncio.Future[None] = field(repr=False, default=None)  # type: ignore[assignment]


def _jsonable(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


class ToolExecutor:
    """Runs tool calls concurrently under one task group."""

    def __init__(
        self,
        toolset: Toolset,
        clock: Clock,
        emit: Callable[[Event], None],
        *,
        latency: LatencyFn | None = None,
    ) -> None:
        self._toolset = toolset
        self._clock = clock
        self._emit = emit
        self._latency = latency
        self._records: dict[int, CallRecord] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None

    async def __aenter__(self) -> ToolExecutor:
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.cancel_all(SESSION_ENDED if exc_info[0] is None else ABORTED)
        group, self._group = self._group, None
        assert group is not None
        await group.__aexit__(*exc_info)

    # -- queries ----------------------------------------------------------------------------

    @property
    def records(self) -> Mapping[int, CallRecord]:
        return self._records

    def unfinished(self) -> list[CallRecord]:
        return [r for r in self._records.values() if not r.status.terminal]

    def live_tasks(self) -> int:
        """Tasks not yet finished (for the no-task-left-behind checks)."""
        return sum(1 for t in self._tasks.values() if not t.done())

    # -- commands ---------------------------------------------------------------------------

    def submit(
        self,
        call_id: int,
        name: str,
        arguments: Mapping[str, Any],
        depends: tuple[int, ...] = (),
        *,
        gate: asyncio.Event | None = None,
        hold_reason: str = "waiting for commit point",
    ) -> CallRecord:
        """Start a call (or fail it at once if the tool or its arguments are wrong).

        ``gate``: the call does not start before this event is set.
        """
        if self._group is None:
            raise RuntimeError("ToolExecutor.submit() outside 'async with executor'")
        if call_id in self._records and not self._records[call_id].status.terminal:
            raise ValueError(f"call {call_id} is still in flight; cancel it before reusing its id")
        loop = asyncio.get_running_loop()
        rec = CallRecord(call_id, name, dict(arguments), tuple(depends), None, self._clock.now())
        rec.done = loop.create_future()
        self._records[call_id] = rec
        try:
            tool = self._toolset[name]
            rec.effect = tool.effect
            rec.arguments = tool.validate(arguments)
        except ToolError as exc:
            self._finish(rec, CallStatus.FAILED, error=str(exc), error_type=exc.error_type)
            return rec
        unknown = [d for d in depends if d not in self._records or d == call_id]
        if unknown:
            self._finish(
                rec,
                CallStatus.FAILED,
                error=f"depends on unknown call id(s) {unknown}",
                error_type="dependency_failed",
            )
            return rec
        self._tasks[call_id] = self._group.create_task(
            self._run(rec, gate, hold_reason), name=f"tool-call-{call_id}-{name}"
        )
        return rec

    def restore(self, rec: CallRecord) -> None:
        """Adopt a call that ended in an earlier run (resuming from a stored ledger).

        Nothing runs and nothing is emitted: the ledger already holds its outcome.
        """
        if not rec.status.terminal:
            raise ValueError(f"only ended calls can be restored (call {rec.call_id} is {rec.status})")
        rec.done = asyncio.get_running_loop().create_future()
        rec.done.set_result(None)
        self._records[rec.call_id] = rec

    def cancel(self, call_id: int, reason: str, *, notify: bool = True) -> bool:
        """Cancel a call that has not ended. Returns False if it had already ended.

        ``notify=False`` marks the cancellation as one the model need not be told about.
        """
        rec = self._records.get(call_id)
        if rec is None or rec.status.terminal:
            return False
        task = self._tasks.get(call_id)
        if task is not None:
            task.cancel()
        self._finish(rec, CallStatus.CANCELLED, error=reason, notify=notify)
        return True

    def cancel_all(self, reason: str) -> None:
        for rec in self.unfinished():
            self.cancel(rec.call_id, reason)

    # -- internals --------------------------------------------------------------------------

    def _finish(
        self,
        rec: CallRecord,
        status: CallStatus,
        *,
        result: Any = None,
        error: str | None = None,
        error_type: str | None = None,
        notify: bool = True,
    ) -> None:
        rec.status = status
        rec.finished_s = self._clock.now()
        rec.result, rec.error, rec.error_type = result, error, error_type
        if not rec.done.done():
            rec.done.set_result(None)
        t = rec.finished_s
        if status is CallStatus.DONE:
            self._emit(ToolCallFinished(t=t, call_id=rec.call_id, result=result))
        elif status is CallStatus.FAILED:
            self._emit(
                ToolCallFailed(
                    t=t, call_id=rec.call_id, error=error or "", error_type=error_type or ""
                )
            )
        else:
            self._emit(
                ToolCallCancelled(t=t, call_id=rec.call_id, reason=error or "", notify_model=notify)
            )

    async def _run(self, rec: CallRecord, gate: asyncio.Event | None, hold_reason: str) -> None:
        tool = self._toolset[rec.name]
        for dep_id in rec.depends:
            dep = self._records[dep_id]
            await dep.done
            if dep.status is not CallStatus.DONE:
                self._finish(
                    rec,
                    CallStatus.FAILED,
                    error=f"call {dep_id} it depends on ended {dep.status.value}",
                    error_type="dependency_failed",
                )
                return
        if gate is not None and not gate.is_set():
            rec.held = True
            self._emit(ToolCallHeld(t=self._clock.now(), call_id=rec.call_id, reason=hold_reason))
            await gate.wait()
        rec.status = CallStatus.RUNNING
        rec.started_s = self._clock.now()
        self._emit(ToolCallStarted(t=rec.started_s, call_id=rec.call_id))
        try:
            async with asyncio.timeout(tool.timeout_s):
                if self._latency is not None:
                    await self._clock.sleep(self._latency(rec.name, rec.arguments))
                result = _jsonable(await tool.call(rec.arguments))
        except TimeoutError:
            self._finish(
                rec,
                CallStatus.FAILED,
                error=f"{rec.name} took longer than its {tool.timeout_s:g} s timeout",
                error_type="timeout",
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a tool's own bug or refusal: reported, never propagated
            self._finish(
                rec,
                CallStatus.FAILED,
                error=f"{type(exc).__name__}: {exc}",
                error_type="tool_error",
            )
        else:
            self._finish(rec, CallStatus.DONE, result=result)
