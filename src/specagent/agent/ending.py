"""How a turn ends: every call it started gets its final disposition, however it stops.

A turn can stop in four ways. Each is settled here, so the rules sit side by side and the
session loop only says *when*:

* it **ends by itself** (an answer, a limit, a stall): :func:`settle` commits what an answer
  wanted and withdraws the rest;
* **nothing more can happen** (no speech to come, no call that could still end, nothing new
  for the model): :func:`on_stall` tells the model what it is waiting for, and gives up
  after ``SessionConfig.max_stalls``;
* it is **cut off while live** (its task cancelled because a client left, a voice turn was
  dropped, a server stops; or the model failed): :func:`end_cut_turn` withdraws every call the
  turn left undecided and closes it with ``SessionEnded(reason)``, and finishes doing so even
  if its task is cancelled again meanwhile;
* it was cut off by a **crash** and only its stored ledger is left:
  :func:`~.restore.close_cut_turn` rebuilds its calls and ends them by the same rule.

The rule itself is :func:`withdraw_undecided`: every call nobody decided is withdrawn, which
the executor carries out as the call's state requires (a held call or one that never ran is
cancelled, a sandbox dropped, a reversible call that ran early compensated once it ends); a
committed call is never touched.

Whether a cancellation *cuts* a turn or *abandons* it (leaves it open, as a crash would, for
``Session.resume`` or ``close_cut_turn``) is the session's :class:`CutHandle`: a plain
cancellation abandons, unless the session was given a ``cut_reason``; ``Session.cut`` cuts.

The ledger marks turns only by their ends, so where a turn begins (:func:`turn_start`, its
start time, the next call id) is read from the previous turn's end, here too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from ..events import ProtocolError, SessionEnded, Timer, ToolCallIssued, ToolCallRevised
from ..executor import SESSION_ENDED, CallRecord, PendingDecision, ToolExecutor
from ..ledger import Ledger
from .states import AgentState
from .turn import Turn

__all__ = [
    "SESSION_START",
    "TURN_FAILED",
    "CutHandle",
    "end_cut_turn",
    "next_call_id",
    "nothing_can_happen",
    "on_stall",
    "settle",
    "start_time",
    "turn_start",
    "undecided_calls",
    "withdraw_undecided",
]

TURN_FAILED = "turn_failed"
"""The ``SessionEnded`` reason of a turn that failed (e.g. the model server went away) in a
session given a ``cut_reason``."""


SESSION_START = "session-start"
"""The name of the :class:`~specagent.events.Timer` that opens a turn (speech times count
from it)."""


def turn_start(ledger: Ledger) -> int:
    """Index just after the last ended turn: earlier turns of a conversation are history."""
    for index in range(len(ledger) - 1, -1, -1):
        if isinstance(ledger.events[index], SessionEnded):
            return index + 1
    return 0


def start_time(ledger: Ledger, start: int) -> float:
    """When the turn that begins at ``start`` opened (a stored turn being resumed)."""
    turn = ledger.events[start:]
    for event in turn:
        if isinstance(event, Timer) and event.name == SESSION_START:
            return event.t
    return turn[0].t


def next_call_id(ledger: Ledger) -> int:
    """Call ids keep counting across the turns of a conversation."""
    ids = [e.call_id for e in ledger if isinstance(e, (ToolCallIssued, ToolCallRevised))]
    return max(ids, default=0) + 1


# -- the rule -------------------------------------------------------------------------------


def undecided_calls(executor: ToolExecutor) -> Iterator[CallRecord]:
    """The current version of every call neither committed nor withdrawn yet (nor about to
    be committed once it ends), in call-id order."""
    for rec in sorted(executor.records.values(), key=lambda r: r.call_id):
        if rec.disposition is None and rec.pending is not PendingDecision.COMMIT:
            yield rec


def withdraw_undecided(executor: ToolExecutor, reason: str) -> None:
    """Withdraw every undecided call (see the module docstring for what that does)."""
    for rec in list(undecided_calls(executor)):
        executor.withdraw(rec.call_id, reason)


# -- ending by itself ---------------------------------------------------------------------


async def settle(turn: Turn) -> None:
    """Give every call its final disposition once the turn has ended by itself.

    After an answer (a commit point for everything still wanted) every remaining call that
    has ended is committed, except a state-changing call that never reached its commit
    point; every other undecided call is withdrawn.
    """
    executor = turn.executor
    answered = turn.ended == "answered"
    for rec in list(undecided_calls(executor)):
        if answered and rec.status.terminal and rec.call_id not in turn.awaiting_commit:
            executor.commit(rec.call_id)
        else:
            executor.withdraw(rec.call_id, SESSION_ENDED)
    turn.awaiting_commit.clear()
    await executor.quiesce()


def nothing_can_happen(turn: Turn) -> bool:
    """No speech is to come, no call can still end by itself, and the model has read
    everything: waiting would wait for ever."""
    waiting = [r for r in turn.executor.unfinished() if r.gate is None or r.gate.is_set()]
    return turn.speech_done and not waiting and not turn.dirty


def on_stall(turn: Turn) -> None:
    """Tell the model what the turn waits for (a held call waits for its commit point), or
    end the turn once it has been told ``max_stalls`` times."""
    turn.counters.stalls += 1
    if turn.counters.stalls > turn.config.max_stalls:
        turn.finish("stalled")
        return
    message = "nothing is pending: call a tool or give your <answer>"
    if turn.awaiting_commit:
        held = ", ".join(str(i) for i in sorted(turn.awaiting_commit))
        message = (
            f"call {held} waits for its commit point: write <pause/> or your <answer> to "
            'let it run, or <remove id="N"/> to withdraw it'
        )
    turn.record(ProtocolError(t=turn.clock.now(), message=message))
    turn.dirty = True


# -- cut off --------------------------------------------------------------------------------


class CutHandle:
    """Whether a cancelled run cuts its turn or abandons it, and the task to cancel to cut it.

    ``on_cancel``: the reason a cancellation cuts the turn with (a failure then cuts it too,
    with :data:`TURN_FAILED`); None: a cancellation or failure abandons the turn, unless
    :meth:`cut` was called.
    """

    def __init__(self, on_cancel: str | None) -> None:
        self.on_cancel = on_cancel
        self._asked: str | None = None
        self._task: asyncio.Task[Any] | None = None  # the task running a run, while it runs
        self._ran = False

    def cut(self, reason: str) -> bool:
        """Cut the run under way (or, if none has begun, the first as soon as it begins);
        False if the run is over."""
        if self._task is None and self._ran:
            return False
        self._asked = reason
        if self._task is not None:
            self._task.cancel()
        return True

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around a run: note its task; a run cut before it began ends at once, cancelled."""
        self._ran = True
        if self._asked is not None:
            self._asked = None
            raise asyncio.CancelledError
        self._task = asyncio.current_task()
        try:
            yield
        finally:
            self._task, self._asked = None, None

    def reason(self, stop: BaseException) -> str | None:
        """The reason to cut the turn with while ``stop`` propagates; None: abandon it."""
        reason = self._asked or self.on_cancel
        if reason is None or isinstance(stop, asyncio.CancelledError):
            return reason
        return TURN_FAILED


async def end_cut_turn(turn: Turn, reason: str) -> None:
    """Close a turn whose task was cancelled (or failed) before the turn ended.

    Every call the turn left undecided is withdrawn with ``reason``; the session then waits
    until nothing of the turn runs (a reversible call still running lands and is undone, a
    committed one still running completes), and ``SessionEnded`` closes the turn: with
    ``reason``, or with the turn's own end if it had ended and only its settling was cut.
    Called while the cancellation propagates; a further cancellation of the task interrupts
    only the wait, which starts again, so no call is left undecided and no task running.
    """
    if not turn.done:
        turn.finish(reason)
    withdraw_undecided(turn.executor, reason)
    turn.awaiting_commit.clear()
    await _despite_cancellation(turn.executor.quiesce)
    turn.move(AgentState.DONE)
    turn.record(SessionEnded(t=turn.clock.now(), reason=turn.ended))


async def _despite_cancellation(wait: Callable[[], Awaitable[None]]) -> None:
    """Await ``wait()`` to its end even if the task is cancelled meanwhile.

    ``wait`` must be safe to start again (it only waits for work that goes on by itself):
    each cancellation interrupts the waiting, not the work. The caller is already
    propagating a cancellation (or an error), so the task still ends as it was asked to:
    cancelled (or with that error).
    """
    while True:
        try:
            await wait()
        except asyncio.CancelledError:
            continue
        return
