"""Tool execution: every call is a task, every outcome is an event.

The :class:`ToolExecutor` is the one place tool code runs. It validates arguments, honours
dependencies between calls, holds a call until its commit point when asked, runs a call in a
copy-on-write sandbox when asked, applies simulated tool latency through the clock, enforces
timeouts, and reports what happened (held, started, finished, failed, cancelled, committed,
compensated) through ``emit``. A tool that raises or hangs never takes the session down: it
becomes a failure event the model can read.

Speculation needs every call to end in exactly one :class:`Disposition`:

* ``commit(id)``: the call is wanted. A held call starts; a sandboxed call's copy becomes the
  real state (or the call is replayed on the real state if that changed meanwhile).
* ``withdraw(id)``: the call is not wanted. Not yet started: cancelled. Sandboxed: its copy is
  dropped. A reversible call that ran: its compensating action undoes it (after it finishes,
  if it is still running).

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
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallStarted,
)
from .references import ReferenceError_, find_references, resolve_references
from .sandbox import SandboxCopy
from .tools import Effect, ToolError, Toolset

__all__ = [
    "CallStatus",
    "CallRecord",
    "Disposition",
    "ToolExecutor",
    "LatencyFn",
    "ABORTED",
    "FAILED_NOTHING_TO_UNDO",
    "SESSION_ENDED",
]

SESSION_ENDED = "session ended"
FAILED_NOTHING_TO_UNDO = "withdrawn while running; it failed, so there was nothing to undo"
ABORTED = "session aborted"
"""Reason given to calls cancelled because the session itself failed or was cancelled: not a
decision about the call, so a resumed session treats such a call as still in flight."""

LatencyFn = Callable[[str, Mapping[str, Any]], float]
"""Simulated time a call spends on the wire before the tool's own code runs."""


class Disposition(enum.Enum):
    """How a call's life ended, as far as the world is concerned."""

    COMMITTED = "committed"  # its outcome (result or error) is final
    CANCELLED = "cancelled"  # it never took effect (not run, stopped, or sandbox dropped)
    COMPENSATED = "compensated"  # it took effect and was undone


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
    sandboxed: bool = False
    disposition: Disposition | None = None
    done: asyncio.Future[None] = field(repr=False, default=None)  # type: ignore[assignment]
    gate: asyncio.Event | None = field(repr=False, default=None)
    sandbox_copy: SandboxCopy[Any] | None = field(repr=False, default=None)
    commit_when_done: bool = False
    undo_when_done: bool = False
    effect_settled: bool = False  # an effect it had on real state is final (kept or undone)
    call_key: str = ""  # unique to this version of the call (for idempotency keys)
    version: int = 0  # which version of the call id (1 for the first, +1 per revision)


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
        self._background: list[asyncio.Task[None]] = []  # compensations, replays, revised calls
        self._superseded: list[CallRecord] = []  # earlier versions of revised calls
        self._deferred: list[CallRecord] = []  # sandboxed commits waiting for earlier effects
        self._replaying: list[CallRecord] = []  # sandboxed commits being replayed on real state
        self._submits = 0
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

    def all_records(self) -> list[CallRecord]:
        """Every call ever submitted, including earlier versions of revised calls."""
        return self._superseded + list(self._records.values())

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
        previous = self._records.get(call_id)
        if (
            previous is not None
            and previous.disposition is None
            and not previous.undo_when_done  # withdrawn while running: undone once it ends
            and not previous.status.terminal
        ):
            raise ValueError(
                f"call {call_id} is still in flight; withdraw it before reusing its id"
            )
        if previous is not None:  # a revision: keep the old call's record and task in view
            self._superseded.append(previous)
            old_task = self._tasks.pop(call_id, None)
            if old_task is not None:
                self._background.append(old_task)
        if sandboxed and (name not in self._toolset or not self._toolset[name].sandboxable):
            raise ValueError(f"tool {name!r} is not sandboxable")
        loop = asyncio.get_running_loop()
        referenced = find_references(arguments)
        depends = tuple(sorted(set(depends) | referenced))
        rec = CallRecord(call_id, name, dict(arguments), depends, None, self._clock.now())
        self._submits += 1
        rec.call_key = call_key or f"{call_id}.{self._submits}"
        rec.version = version
        rec.done = loop.create_future()
        self._records[call_id] = rec
        try:
            tool = self._toolset[name]
            rec.effect = tool.effect
            if not referenced:  # with references, arguments are checked once they resolve
                rec.arguments = tool.validate(arguments)
            rec.sandboxed = sandboxed
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
        gate = None
        if hold:
            rec.gate = gate = asyncio.Event()
        self._tasks[call_id] = self._group.create_task(
            self._run(rec, gate, hold_reason), name=f"tool-call-{call_id}-{name}"
        )
        return rec

    def commit(self, call_id: int) -> bool:
        """The call is wanted: release it if held, make a sandboxed result real.

        Returns False if the call was already committed or withdrawn.
        """
        rec = self._records.get(call_id)
        if rec is None or rec.disposition is not None or rec.commit_when_done:
            return False
        if rec.gate is not None:
            rec.gate.set()
        if rec.status.terminal:
            self._settle_commit(rec)
        else:
            rec.commit_when_done = True
        return True

    def withdraw(self, call_id: int, reason: str, *, notify: bool = True) -> Disposition | None:
        """The call is not wanted: cancel, discard or compensate it, whichever applies.

        Returns the disposition it will end with, or None if it was already committed (or
        unknown). A reversible call still running is compensated once it finishes.
        """
        rec = self._records.get(call_id)
        if rec is None or rec.disposition is not None or rec.commit_when_done:
            return None
        changed_world = rec.effect is not None and rec.effect.changes_state and not rec.sandboxed
        if rec.status is CallStatus.RUNNING and changed_world:
            rec.undo_when_done = True  # let the effect land, then undo it: never half-undone
            return Disposition.COMPENSATED
        if not rec.status.terminal:
            self.cancel(call_id, reason, notify=notify)
            rec.disposition = Disposition.CANCELLED
            return Disposition.CANCELLED
        if rec.status is CallStatus.DONE and changed_world:
            self._start_compensation(rec)
            return Disposition.COMPENSATED
        rec.sandbox_copy = None  # a sandboxed run leaves no trace
        rec.disposition = Disposition.CANCELLED
        self._emit(
            ToolCallCancelled(
                t=self._clock.now(),
                call_id=call_id,
                version=rec.version,
                reason=reason,
                notify_model=notify,
            )
        )
        return Disposition.CANCELLED

    async def quiesce(self) -> None:
        """Wait until no call, compensation or replay is running and no commit is deferred."""
        while True:
            pending = [t for t in self._tasks.values() if not t.done()]
            pending += [t for t in self._background if not t.done()]
            if not pending:
                if not self._deferred:
                    return
                # Nothing left that could decide the effects they wait for: apply them now.
                for rec in self.all_records():
                    self._settle_effect(rec)
                continue
            await asyncio.wait(pending)

    def restore(self, rec: CallRecord) -> None:
        """Adopt a call that ended in an earlier run (resuming from a stored ledger), with the
        disposition it had then (None: still to be decided).

        Nothing runs and nothing is emitted: the ledger already holds its outcome. A call
        whose disposition is decided, or that never touched real state, has a settled effect.
        """
        if not rec.status.terminal:
            raise ValueError(
                f"only ended calls can be restored (call {rec.call_id} is {rec.status})"
            )
        rec.done = asyncio.get_running_loop().create_future()
        rec.done.set_result(None)
        touched_real_state = (
            rec.status is CallStatus.DONE
            and rec.effect is not None
            and rec.effect.changes_state
            and not rec.sandboxed
        )
        rec.effect_settled = rec.disposition is not None or not touched_real_state
        self._records[rec.call_id] = rec

    def undo_restored(self, rec: CallRecord) -> None:
        """Undo an earlier version of a call that ran on the real state in an earlier run and
        was never undone (resuming from a stored ledger). If its outcome is unknown (it was
        running), it is first sent again with the same idempotency key, which the tool keeps
        exactly-once, so the result needed to undo it is known."""
        rec.done = asyncio.get_running_loop().create_future()
        rec.done.set_result(None)
        self._superseded.append(rec)
        if rec.status is CallStatus.DONE:
            self._start_compensation(rec)
        else:
            rec.disposition = Disposition.COMPENSATED
            self._spawn(self._rerun_and_undo(rec), f"rerun-undo-{rec.call_id}")

    async def _rerun_and_undo(self, rec: CallRecord) -> None:
        tool = self._toolset[rec.name]
        try:
            rec.result = _jsonable(await tool.call(rec.arguments, call_key=rec.call_key))
        except Exception:  # noqa: BLE001 - it did not take effect: nothing to undo
            rec.status, rec.disposition = CallStatus.FAILED, Disposition.CANCELLED
            self._emit(
                ToolCallCancelled(
                    t=self._clock.now(),
                    call_id=rec.call_id,
                    version=rec.version,
                    reason=FAILED_NOTHING_TO_UNDO,
                    notify_model=False,
                )
            )
            return
        rec.status = CallStatus.DONE
        await self._compensate(rec)

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
        rec.disposition = Disposition.CANCELLED
        self._finish(rec, CallStatus.CANCELLED, error=reason, notify=notify)
        return True

    def cancel_all(self, reason: str) -> None:
        for rec in self.unfinished():
            self.cancel(rec.call_id, reason)

    # -- internals --------------------------------------------------------------------------

    def _is_current(self, rec: CallRecord) -> bool:
        """False for an earlier version of a call the model has since revised."""
        return self._records.get(rec.call_id) is rec

    def _spawn(self, coro: Any, name: str) -> None:
        assert self._group is not None
        self._background.append(self._group.create_task(coro, name=name))

    def _settle_commit(self, rec: CallRecord) -> None:
        """Finish committing a call that has ended."""
        rec.disposition = Disposition.COMMITTED
        if rec.status is CallStatus.DONE and rec.sandboxed and rec.sandbox_copy is not None:
            tool = self._toolset[rec.name]
            assert tool.state is not None
            if self._undecided_effects(tool.state):
                # Its copy may hold an early reversible effect that could still be undone:
                # apply it only once every such effect is decided (kept or compensated).
                self._deferred.append(rec)
                return
            self._apply_sandbox(rec)
            return
        self._settle_effect(rec)
        self._emit(ToolCallCommitted(t=self._clock.now(), call_id=rec.call_id, version=rec.version))

    def _apply_sandbox(self, rec: CallRecord) -> None:
        tool = self._toolset[rec.name]
        assert tool.state is not None and rec.sandbox_copy is not None
        copy, rec.sandbox_copy = rec.sandbox_copy, None
        if not tool.state.try_adopt(copy):
            # The real state moved on since the copy was taken: replay on the real state. Until
            # the replay ends, no other commit may change that state (see _undecided_effects).
            self._replaying.append(rec)
            self._spawn(self._replay(rec), f"replay-{rec.call_id}")
            return
        self._emit(ToolCallCommitted(t=self._clock.now(), call_id=rec.call_id, version=rec.version))

    def _undecided_effects(self, cell: Any) -> bool:
        """Whether a call ran unsandboxed on ``cell`` and its effect may still be undone, or a
        sandboxed commit is being replayed on it."""
        if any(self._toolset[r.name].state is cell for r in self._replaying):
            return True
        for rec in self.all_records():
            tool = self._toolset.get(rec.name)
            if (
                tool is not None
                and tool.state is cell
                and tool.effect.changes_state
                and not rec.sandboxed
                and rec.started_s is not None
                and not rec.effect_settled
            ):
                return True
        return False

    def _settle_effect(self, rec: CallRecord) -> None:
        """Mark a call's effect on real state final, and apply commits that waited for it."""
        if rec.effect_settled:
            return
        rec.effect_settled = True
        self._apply_ready_commits()

    def _apply_ready_commits(self) -> None:
        """Apply the deferred sandboxed commits whose state no undecided effect touches."""
        for waiting in list(self._deferred):
            cell = self._toolset[waiting.name].state
            if waiting in self._deferred and not self._undecided_effects(cell):
                self._deferred.remove(waiting)
                self._apply_sandbox(waiting)

    async def _replay(self, rec: CallRecord) -> None:
        """Run a committed sandboxed call again on the real state (its copy was stale). A
        failure here is the call's real outcome: the model is told, and it is not a result."""
        tool = self._toolset[rec.name]
        try:
            try:
                result = _jsonable(await tool.call(rec.arguments, call_key=rec.call_key))
            except Exception as exc:  # noqa: BLE001 - the tool's refusal is the call's outcome
                rec.status, rec.result = CallStatus.FAILED, None
                rec.error = f"replayed on the real state, it failed: {type(exc).__name__}: {exc}"
                rec.error_type = "replay_failed"
                self._emit(
                    ToolCallFailed(
                        t=self._clock.now(),
                        call_id=rec.call_id,
                        version=rec.version,
                        error=rec.error,
                        error_type=rec.error_type,
                    )
                )
            else:
                if result != rec.result:  # the model saw a different result: the real one
                    rec.result = result
                    self._emit(
                        ToolCallFinished(
                            t=self._clock.now(),
                            call_id=rec.call_id,
                            version=rec.version,
                            result=result,
                        )
                    )
            finally:
                if tool.state is not None:
                    tool.state.touch()
            self._emit(
                ToolCallCommitted(t=self._clock.now(), call_id=rec.call_id, version=rec.version)
            )
        finally:
            self._replaying.remove(rec)
            self._apply_ready_commits()

    def _start_compensation(self, rec: CallRecord) -> None:
        rec.disposition = Disposition.COMPENSATED
        self._spawn(self._compensate(rec), f"compensate-{rec.call_id}")

    async def _compensate(self, rec: CallRecord) -> None:
        tool = self._toolset[rec.name]
        try:
            if tool.compensate is None:  # never chosen for such a tool: say so, do not crash
                raise RuntimeError(f"{rec.name} has no compensating action")
            await tool.compensate(rec.arguments, rec.result)
        except Exception as exc:  # reported loudly: the world may still hold the effect
            self._emit(
                ToolCallFailed(
                    t=self._clock.now(),
                    call_id=rec.call_id,
                    version=rec.version,
                    error=f"compensation failed: {type(exc).__name__}: {exc}",
                    error_type="compensation_failed",
                )
            )
            self._settle_effect(rec)
            return
        if tool.state is not None:
            tool.state.touch()
        self._emit(
            ToolCallCompensated(
                t=self._clock.now(),
                call_id=rec.call_id,
                version=rec.version,
                notify_model=self._is_current(rec),
            )
        )
        self._settle_effect(rec)

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
        if status is not CallStatus.DONE:
            self._settle_effect(rec)  # it had no effect to keep or undo
        if status is not CallStatus.CANCELLED:
            self._emit_outcome(rec, status, t, result, error, error_type, notify)
            if rec.undo_when_done:
                if status is CallStatus.DONE:
                    self._start_compensation(rec)
                else:  # it failed: nothing to undo, and the ledger says so
                    rec.disposition = Disposition.CANCELLED
                    self._emit(
                        ToolCallCancelled(
                            t=t,
                            call_id=rec.call_id,
                            version=rec.version,
                            reason=FAILED_NOTHING_TO_UNDO,
                            notify_model=self._is_current(rec),
                        )
                    )
            elif rec.commit_when_done:
                self._settle_commit(rec)
            return
        self._emit_outcome(rec, status, t, result, error, error_type, notify)

    def _emit_outcome(
        self,
        rec: CallRecord,
        status: CallStatus,
        t: float,
        result: Any,
        error: str | None,
        error_type: str | None,
        notify: bool,
    ) -> None:
        current = self._is_current(rec)
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
                    error_type=error_type or "",
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
        if find_references(rec.arguments):
            results = {d: self._records[d].result for d in rec.depends}
            try:
                rec.arguments = tool.validate(resolve_references(rec.arguments, results))
            except (ReferenceError_, ToolError) as exc:
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
        early = rec.disposition is None and not rec.commit_when_done
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
                        result = _jsonable(await tool.call(rec.arguments, call_key=rec.call_key))
                else:
                    result = _jsonable(await tool.call(rec.arguments, call_key=rec.call_key))
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
