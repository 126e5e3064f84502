"""Each call's fate: commit, withdraw, replay of a stale sandbox, compensation, resumed calls.

Running a call (``runner.py``) and deciding what becomes of it are separate questions. This
module answers the second, and it is where speculation's safety lives: a state-changing call
that ran early is either made real once it is wanted or undone once it is not, never both and
never half.

* **commit**: a held call's gate opens; a call still running is marked
  :attr:`~.records.PendingDecision.COMMIT` and committed when it ends. A sandboxed call's copy
  becomes the real state; if the real state moved on since the copy was taken, the call is
  **replayed** on the real state and the replay's outcome is the call's real one.
* **withdraw**: not started: cancelled. Sandboxed: its copy is dropped. Ran on the real state
  and reversible: its compensating action undoes it (after it ends, if it is still running:
  :attr:`~.records.PendingDecision.UNDO`, so an effect is never undone half-way).
* **the deferred-commit guard**: a sandboxed commit is applied only when no other call's effect
  on the same state may still be undone and no replay on that state is running; until then it
  waits, so an undo can never wipe out (or be wiped out by) a committed copy.
* **resumed calls**: a call that ended in an earlier run is adopted with the disposition it
  had; an earlier version that ran on the real state and was never undone is undone now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ..clock import Clock
from ..events import (
    Event,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
)
from ..tools import Toolset
from .records import (
    FAILED_NOTHING_TO_UNDO,
    CallBook,
    CallRecord,
    CallStatus,
    Disposition,
    PendingDecision,
    plain_result,
)

__all__ = ["Dispositions"]

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
Cancel = Callable[..., bool]  # (call_id, reason, *, notify) -> whether it had not ended


class Dispositions:
    """Decides and carries out the fate of the calls in one executor's :class:`CallBook`.

    ``spawn`` starts background work (compensations, replays) in the executor's task group;
    ``cancel`` stops a call that has not ended (the executor's :meth:`ToolExecutor.cancel`).
    """

    def __init__(
        self,
        toolset: Toolset,
        clock: Clock,
        emit: Callable[[Event], None],
        book: CallBook,
        *,
        spawn: Spawn,
        cancel: Cancel,
    ) -> None:
        self._toolset = toolset
        self._clock = clock
        self._emit = emit
        self._book = book
        self._spawn = spawn
        self._cancel = cancel
        self._deferred: list[CallRecord] = []  # sandboxed commits waiting for earlier effects
        self._replaying: list[CallRecord] = []  # sandboxed commits being replayed on real state

    # -- decisions --------------------------------------------------------------------------

    def commit(self, call_id: int) -> bool:
        """The call is wanted: release it if held, make a sandboxed result real.

        Returns False if the call was already committed or withdrawn.
        """
        rec = self._book.current.get(call_id)
        if rec is None or rec.disposition is not None or rec.pending is PendingDecision.COMMIT:
            return False
        if rec.gate is not None:
            rec.gate.set()
        if rec.status.terminal:
            self._settle_commit(rec)
        else:
            rec.pending = PendingDecision.COMMIT
        return True

    def withdraw(self, call_id: int, reason: str, *, notify: bool = True) -> Disposition | None:
        """The call is not wanted: cancel, discard or compensate it, whichever applies.

        Returns the disposition it will end with, or None if it was already committed (or
        unknown). A reversible call still running is compensated once it finishes.
        """
        rec = self._book.current.get(call_id)
        if rec is None or rec.disposition is not None or rec.pending is PendingDecision.COMMIT:
            return None
        changed_world = rec.effect is not None and rec.effect.changes_state and not rec.sandboxed
        if rec.status is CallStatus.RUNNING and changed_world:
            rec.pending = PendingDecision.UNDO  # let the effect land, then undo it
            return Disposition.COMPENSATED
        if not rec.status.terminal:
            self._cancel(call_id, reason, notify=notify)
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

    def call_ended(self, rec: CallRecord, status: CallStatus) -> None:
        """Carry out the decision that waited for ``rec`` to end (finished or failed; a
        cancelled call has its disposition already)."""
        if rec.pending is PendingDecision.UNDO:
            if status is CallStatus.DONE:
                self._start_compensation(rec)
            else:  # it failed: nothing to undo, and the ledger says so
                rec.disposition = Disposition.CANCELLED
                self._emit(
                    ToolCallCancelled(
                        t=rec.finished_s,  # type: ignore[arg-type]  # set: the call ended
                        call_id=rec.call_id,
                        version=rec.version,
                        reason=FAILED_NOTHING_TO_UNDO,
                        notify_model=self._book.is_current(rec),
                    )
                )
        elif rec.pending is PendingDecision.COMMIT:
            self._settle_commit(rec)

    # -- the deferred-commit guard ----------------------------------------------------------

    @property
    def has_deferred(self) -> bool:
        """Whether a sandboxed commit still waits for earlier effects to be decided."""
        return bool(self._deferred)

    def settle_all(self) -> None:
        """Nothing left could decide the effects deferred commits wait for: apply them now."""
        for rec in self._book.all():
            self.settle_effect(rec)

    def settle_effect(self, rec: CallRecord) -> None:
        """Mark a call's effect on real state final, and apply commits that waited for it."""
        if rec.effect_settled:
            return
        rec.effect_settled = True
        self._apply_ready_commits()

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
        self.settle_effect(rec)
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
        for rec in self._book.all():
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

    def _apply_ready_commits(self) -> None:
        """Apply the deferred sandboxed commits whose state no undecided effect touches."""
        for waiting in list(self._deferred):
            cell = self._toolset[waiting.name].state
            if waiting in self._deferred and not self._undecided_effects(cell):
                self._deferred.remove(waiting)
                self._apply_sandbox(waiting)

    # -- replay and compensation ------------------------------------------------------------

    async def _replay(self, rec: CallRecord) -> None:
        """Run a committed sandboxed call again on the real state (its copy was stale). A
        failure here is the call's real outcome: the model is told, and it is not a result."""
        tool = self._toolset[rec.name]
        try:
            try:
                result = plain_result(await tool.call(rec.arguments, call_key=rec.call_key))
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
            self.settle_effect(rec)
            return
        if tool.state is not None:
            tool.state.touch()
        self._emit(
            ToolCallCompensated(
                t=self._clock.now(),
                call_id=rec.call_id,
                version=rec.version,
                notify_model=self._book.is_current(rec),
            )
        )
        self.settle_effect(rec)

    # -- calls from an earlier run (resume) -------------------------------------------------

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
        self._book.current[rec.call_id] = rec

    def undo_restored(self, rec: CallRecord) -> None:
        """Undo an earlier version of a call that ran on the real state in an earlier run and
        was never undone (resuming from a stored ledger). If its outcome is unknown (it was
        running), it is first sent again with the same idempotency key, which the tool keeps
        exactly-once, so the result needed to undo it is known."""
        rec.done = asyncio.get_running_loop().create_future()
        rec.done.set_result(None)
        self._book.superseded.append(rec)
        if rec.status is CallStatus.DONE:
            self._start_compensation(rec)
        else:
            rec.disposition = Disposition.COMPENSATED
            self._spawn(self._rerun_and_undo(rec), f"rerun-undo-{rec.call_id}")

    async def _rerun_and_undo(self, rec: CallRecord) -> None:
        tool = self._toolset[rec.name]
        try:
            rec.result = plain_result(await tool.call(rec.arguments, call_key=rec.call_key))
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
