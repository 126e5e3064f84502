"""Running tool calls: every call is a task, every outcome is an event.

The :class:`ToolExecutor` is the one place tool code runs. It validates arguments, honours
dependencies between calls, holds a call at its gate until its commit point when asked, runs a
call in a copy-on-write sandbox when asked, applies simulated tool latency through the clock,
enforces timeouts, and reports what happened (held, started, finished, failed, cancelled)
through ``emit``. A tool that raises or hangs never takes the session down: it becomes a
failure event the model can read. What becomes of a call once it is wanted or not (commit,
withdraw, replay, compensation) is decided in ``dispositions.py``; the executor's ``commit``,
``withdraw``, ``restore`` and ``undo_restored`` hand over to it.

It is an async context manager: leaving the block cancels whatever still runs, so no task
outlives the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ..clock import Clock
from ..events import (
    Event,
    ToolCallCancelled,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallStarted,
    ToolErrorType,
)
from ..references import ResultReferenceError, find_references, resolve_references
from ..tools import ToolError, Toolset
from .dispositions import Dispositions
from .records import (
    ABORTED,
    SESSION_ENDED,
    CallBook,
    CallRecord,
    CallStatus,
    Disposition,
    PendingDecision,
    plain_result,
)

__all__ = ["LatencyFn", "ToolExecutor"]

LatencyFn = Callable[[str, Mapping[str, Any]], float]
"""Simulated time a call spends on the wire before the tool's own code runs."""


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
        self._book = CallBook()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._background: list[asyncio.Task[None]] = []  # compensations, replays, revised calls
        self._submits = 0
        self._group: asyncio.TaskGroup | None = None
        self._fate = Dispositions(
            toolset, clock, emit, self._book, spawn=self._spawn, cancel=self.cancel
        )

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
        return self._book.current

    def all_records(self) -> list[CallRecord]:
        """Every call ever submitted, including earlier versions of revised calls."""
        return self._book.all()

    def unfinished(self) -> list[CallRecord]:
        return [r for r in self._book.current.values() if not r.status.terminal]

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
        hold: bool = False,
        sandboxed: bool = False,
        hold_reason: str = "waiting for commit point",
        call_key: str | None = None,
        version: int = 0,
    ) -> CallRecord:
        """Start a call (or fail it at once if the tool or its arguments are wrong).

        ``hold``: the call does not start before :meth:`commit`. ``sandboxed``: the call runs
        on a copy of its tool's :class:`~specagent.sandbox.StateCell`, made real only by
        :meth:`commit`. ``call_key``: unique to this version of the call, passed to a tool
        with an ``idempotency_key`` (default: derived from the id and the submit count).
        ``version``: which version of the call this is, stamped on its events.
        """
        if self._group is None:
            raise RuntimeError("ToolExecutor.submit() outside 'async with executor'")
        previous = self._book.current.get(call_id)
        if (
            previous is not None
            and previous.disposition is None
            and previous.pending is not PendingDecision.UNDO  # undone once it ends
            and not previous.status.terminal
        ):
            raise ValueError(
                f"call {call_id} is still in flight; withdraw it before reusing its id"
            )
        if previous is not None:  # a revision: keep the old call's record and task in view
            self._book.superseded.append(previous)
            old_task = self._tasks.pop(call_id, None)
            if old_task is not None:
                self._background.append(old_task)
        if sandboxed and (name not in self._toolset or not self._toolset[name].sandboxable):
            raise ValueError(f"tool {name!r} is not sandboxable")
        loop = asyncio.get_running_loop()
        referenced = find_references(arguments)
        depends = tuple(sorted(set(depends) | referenced))
        self._submits += 1
        rec = CallRecord(
            call_id,
            name,
            dict(arguments),
            depends,
            None,
            self._clock.now(),
            call_key=call_key or f"{call_id}.{self._submits}",
            version=version,
        )
        rec.done = loop.create_future()
        self._book.current[call_id] = rec
        try:
            tool = self._toolset[name]
            rec.effect = tool.effect
            if not referenced:  # with references, arguments are checked once they resolve
                rec.arguments = tool.validate(arguments)
            rec.sandboxed = sandboxed
        except ToolError as exc:
            self._finish(rec, CallStatus.FAILED, error=str(exc), error_type=exc.error_type)
            return rec
        unknown = [d for d in depends if d not in self._book.current or d == call_id]
        if unknown:
            self._finish(
                rec,
                CallStatus.FAILED,
                error=f"depends on unknown call id(s) {unknown}",
                error_type="dependency_failed",
            )
            return rec
        gate = None
        if hold:
            rec.gate = gate = asyncio.Event()
        self._tasks[call_id] = self._group.create_task(
            self._run(rec, gate, hold_reason), name=f"tool-call-{call_id}-{name}"
        )
        return rec

    def commit(self, call_id: int) -> bool:
        """The call is wanted: release it if held, make a sandboxed result real.

        Returns False if the call was already committed or withdrawn. See
        :meth:`Dispositions.commit`.
        """
        return self._fate.commit(call_id)

    def withdraw(self, call_id: int, reason: str, *, notify: bool = True) -> Disposition | None:
        """The call is not wanted: cancel, discard or compensate it, whichever applies.

        Returns the disposition it will end with, or None if it was already committed (or
        unknown). See :meth:`Dispositions.withdraw`.
        """
        return self._fate.withdraw(call_id, reason, notify=notify)

    async def quiesce(self) -> None:
        """Wait until no call, compensation or replay is running and no commit is deferred."""
        while True:
            pending = [t for t in self._tasks.values() if not t.done()]
            pending += [t for t in self._background if not t.done()]
            if not pending:
                if not self._fate.has_deferred:
                    return
                self._fate.settle_all()
                continue
            await asyncio.wait(pending)

    def restore(self, rec: CallRecord) -> None:
        """Adopt a call that ended in an earlier run. See :meth:`Dispositions.restore`."""
        self._fate.restore(rec)

    def undo_restored(self, rec: CallRecord) -> None:
        """Undo an earlier version of a call from an earlier run that was never undone. See
        :meth:`Dispositions.undo_restored`."""
        self._fate.undo_restored(rec)

    def cancel(self, call_id: int, reason: str, *, notify: bool = True) -> bool:
        """Cancel a call that has not ended. Returns False if it had already ended.

        ``notify=False`` marks the cancellation as one the model need not be told about.
        """
        rec = self._book.current.get(call_id)
        if rec is None or rec.status.terminal:
            return False
        task = self._tasks.get(call_id)
        if task is not None:
            task.cancel()
        rec.disposition = Disposition.CANCELLED
        self._finish(rec, CallStatus.CANCELLED, error=reason, notify=notify)
        return True

    def cancel_all(self, reason: str) -> None:
        for rec in self.unfinished():
            self.cancel(rec.call_id, reason)

    # -- internals --------------------------------------------------------------------------

    def _spawn(self, coro: Any, name: str) -> None:
        assert self._group is not None
        self._background.append(self._group.create_task(coro, name=name))

    def _finish(
        self,
        rec: CallRecord,
        status: CallStatus,
        *,
        result: Any = None,
        error: str | None = None,
        error_type: ToolErrorType | None = None,
        notify: bool = True,
    ) -> None:
        rec.status = status
        rec.finished_s = self._clock.now()
        rec.result, rec.error, rec.error_type = result, error, error_type
        if not rec.done.done():
            rec.done.set_result(None)
        if status is not CallStatus.DONE:
            self._fate.settle_effect(rec)  # it had no effect to keep or undo
        self._emit_outcome(rec, status, rec.finished_s, result, error, error_type, notify)
        if status is not CallStatus.CANCELLED:
            self._fate.call_ended(rec, status)

    def _emit_outcome(
        self,
        rec: CallRecord,
        status: CallStatus,
        t: float,
        result: Any,
        error: str | None,
        error_type: ToolErrorType | None,
        notify: bool,
    ) -> None:
        current = self._book.is_current(rec)
        if status is CallStatus.DONE:
            self._emit(
                ToolCallFinished(
                    t=t,
                    call_id=rec.call_id,
                    version=rec.version,
                    result=result,
                    notify_model=current,
                )
            )
        elif status is CallStatus.FAILED:
            self._emit(
                ToolCallFailed(
                    t=t,
                    call_id=rec.call_id,
                    version=rec.version,
                    error=error or "",
                    error_type=error_type or "",  # type: ignore[arg-type]  # set for a failure
                    notify_model=current,
                )
            )
        else:
            self._emit(
                ToolCallCancelled(
                    t=t,
                    call_id=rec.call_id,
                    version=rec.version,
                    reason=error or "",
                    notify_model=notify,
                )
            )

    async def _run(self, rec: CallRecord, gate: asyncio.Event | None, hold_reason: str) -> None:
        tool = self._toolset[rec.name]
        for dep_id in rec.depends:
            dep = self._book.current[dep_id]
            await dep.done
            if dep.status is not CallStatus.DONE:
                self._finish(
                    rec,
                    CallStatus.FAILED,
                    error=f"call {dep_id} it depends on ended {dep.status.value}",
                    error_type="dependency_failed",
                )
                return
        if find_references(rec.arguments):
            results = {d: self._book.current[d].result for d in rec.depends}
            try:
                rec.arguments = tool.validate(resolve_references(rec.arguments, results))
            except (ResultReferenceError, ToolError) as exc:
                self._finish(rec, CallStatus.FAILED, error=str(exc), error_type="invalid_arguments")
                return
        if gate is not None and not gate.is_set():
            rec.held = True
            self._emit(
                ToolCallHeld(
                    t=self._clock.now(),
                    call_id=rec.call_id,
                    version=rec.version,
                    reason=hold_reason,
                )
            )
            await gate.wait()
        rec.status = CallStatus.RUNNING
        rec.started_s = self._clock.now()
        early = rec.disposition is None and rec.pending is not PendingDecision.COMMIT
        self._emit(
            ToolCallStarted(
                t=rec.started_s,
                call_id=rec.call_id,
                version=rec.version,
                sandboxed=rec.sandboxed,
                early=early,
            )
        )
        try:
            async with asyncio.timeout(tool.timeout_s):
                if self._latency is not None:
                    await self._clock.sleep(self._latency(rec.name, rec.arguments))
                if rec.sandboxed:
                    assert tool.state is not None
                    rec.sandbox_copy = tool.state.fork()
                    with tool.state.use(rec.sandbox_copy):
                        result = plain_result(await tool.call(rec.arguments, call_key=rec.call_key))
                else:
                    result = plain_result(await tool.call(rec.arguments, call_key=rec.call_key))
                    if tool.effect.changes_state and tool.state is not None:
                        tool.state.touch()
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
