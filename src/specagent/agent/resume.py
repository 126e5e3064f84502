"""Resuming a stored turn: every call's disposition restored exactly, nothing done twice.

A session stores each event the moment it happens (:class:`~specagent.ledger.SQLiteLedgerStore`),
so after a crash the ledger tells, for every call of the unfinished turn, how far it got. This
module reads that story and decides, call by call, what the resumed session must do. It is pure
(events in, a :class:`RestorePlan` out) so every case can be tested without a session.

The rules, for the current version of each call:

* **committed**, **compensated** or **cancelled** in the ledger: restored as such. Nothing runs
  again, nothing is undone, no second ``ToolCallCommitted`` is written.
* **finished or failed, not yet committed**: restored with its outcome and no disposition, to be
  decided by the resumed turn (committed at its commit point or answer; withdrawn if the turn
  ends without one), except:

  - a **sandboxed** state-changing call: its copy died with the process, so the real state
    never changed. It is *reported*, never committed: the model reads
    ``error="interrupted"`` ("it had no effect; call it again if still wanted") and the call
    ends cancelled;
  - an unsandboxed state-changing call that started **committed** (not early) but crashed
    before its ``ToolCallCommitted`` was written: it is committed now, once.

* **started, no outcome** (running at the crash): a read is run again. A sandboxed write had no
  effect (reported as above). Any other write has an unknown outcome: a tool with an
  ``idempotency_key`` is sent again with the same key (the service keeps it exactly-once);
  otherwise the model reads ``error="interrupted"`` ("outcome unknown: check before calling it
  again") and the call ends committed (whatever happened stands; it cannot be undone blindly).
* **never started**: submitted again under the policy's usual rules (held if it was held).

An earlier version of a revised call that ran early on the real state and had not been undone
is compensated when its result is known; if it was still running, the model is told its effect
is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..events import (
    AnswerCompleted,
    AnswerSuppressed,
    ConfirmationAsked,
    Event,
    ModelOutput,
    ProtocolError,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallIssued,
    ToolCallRemoved,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)
from ..executor import ABORTED, CallRecord, CallStatus, Disposition
from ..tools import Toolset

__all__ = [
    "NO_EFFECT",
    "OUTCOME_UNKNOWN",
    "RestorePlan",
    "Resubmit",
    "plan_restore",
    "version_key",
]

NO_EFFECT = (
    "the session stopped before this call was committed; it had no effect: "
    "call it again if it is still wanted"
)
OUTCOME_UNKNOWN = (
    "outcome unknown: the session stopped while this call ran; "
    "check its effect before calling it again"
)
EARLIER_VERSION_UNKNOWN = (
    "an earlier version of this call was running when the session stopped; "
    "its effect is unknown and was not undone"
)


def version_key(session_id: str, call_id: int, version: int) -> str:
    """The idempotency key of one version of a call: the same in every run of the session, so
    a resumed session that sends it again is deduplicated by a tool that honours keys."""
    return f"{session_id}:{call_id}:{version}"


@dataclass
class _Version:
    """One version of a call (a revision starts a new one) and what the ledger says of it."""

    call: ToolCallIssued | ToolCallRevised
    number: int
    started: ToolCallStarted | None = None
    outcome: ToolCallFinished | ToolCallFailed | None = None
    committed: bool = False
    compensated: bool = False
    cancelled: bool = False
    removed: bool = False


@dataclass(frozen=True)
class Resubmit:
    """A call to submit again: ``commit`` it at once (it had been committed), or let the policy
    decide as for a new call."""

    call: ToolCallIssued | ToolCallRevised
    version: int
    commit: bool
    running: bool = False
    """It was running at the crash (a write whose tool takes an idempotency key)."""


@dataclass
class RestorePlan:
    heard: int = 0
    """Speech events of this turn already recorded."""
    final_heard: bool = False
    answered: AnswerCompleted | None = None
    """The turn's answer, if it was complete before the crash."""
    restored: list[CallRecord] = field(default_factory=list)
    """Ended calls to adopt (with their disposition, or None if still to be decided)."""
    resubmit: list[Resubmit] = field(default_factory=list)
    record: list[Event] = field(default_factory=list)
    """Events to record now (missing commits, outcomes the crash left unknown)."""
    compensate: list[CallRecord] = field(default_factory=list)
    """Earlier versions whose effect must still be undone."""
    versions: dict[int, int] = field(default_factory=dict)
    """How many versions of each call id were issued (for idempotency keys)."""
    removed: list[int] = field(default_factory=list)
    """Calls the model removed whose withdrawal the crash interrupted (to withdraw again)."""
    unacted: ModelOutput | None = None
    """The turn's last output, if nothing it caused was recorded (to carry out now)."""


def _versions(turn: list[Event]) -> tuple[dict[int, list[_Version]], RestorePlan]:
    plan = RestorePlan()
    history: dict[int, list[_Version]] = {}
    for event in turn:
        if isinstance(event, UserSpeech):
            plan.heard += 1
            plan.final_heard = event.final
        elif isinstance(event, AnswerCompleted):
            plan.answered = event
        elif isinstance(event, ToolCallRemoved) and event.call_id in history:
            history[event.call_id][-1].removed = True
        elif isinstance(event, (ToolCallIssued, ToolCallRevised)):
            versions = history.setdefault(event.call_id, [])
            versions.append(_Version(event, len(versions) + 1))
        elif hasattr(event, "call_id") and getattr(event, "call_id") in history:
            _note(history[event.call_id], event)
    return history, plan


def _note(versions: list[_Version], event: Event) -> None:
    """Attach an outcome event to the version it belongs to: the one its ``version`` names,
    or, in a store without versions, the current one (and, for what the model was not told
    about after a revision, the earlier version still waiting for it)."""
    current = versions[-1]
    version = getattr(event, "version", 0)
    if 0 < version <= len(versions):
        owner = versions[version - 1]
    elif getattr(event, "notify_model", True) or isinstance(event, ToolCallStarted):
        owner = current
    else:
        owner = next((v for v in reversed(versions[:-1]) if v.started), current)
    if isinstance(event, ToolCallStarted):
        owner.started = event
    elif isinstance(event, (ToolCallFinished, ToolCallFailed)):
        owner.outcome = event
    elif isinstance(event, ToolCallCommitted):
        owner.committed = True
    elif isinstance(event, ToolCallCompensated):
        owner.compensated = True
    elif isinstance(event, ToolCallCancelled) and event.reason != ABORTED:
        # A crash seen as cancellation (ABORTED) decides nothing about the call.
        owner.cancelled = True


def _record(version: _Version, toolset: Toolset, session_id: str) -> CallRecord:
    call = version.call
    tool = toolset.get(call.name)
    rec = CallRecord(
        call.call_id,
        call.name,
        dict(call.arguments),
        call.depends,
        tool.effect if tool is not None else None,
        call.t,
        call_key=version_key(session_id, call.call_id, version.number),
        version=version.number,
    )
    rec.sandboxed = bool(version.started and version.started.sandboxed)
    rec.started_s = version.started.t if version.started else None
    outcome = version.outcome
    if isinstance(outcome, ToolCallFinished):
        rec.status, rec.result = CallStatus.DONE, outcome.result
    elif isinstance(outcome, ToolCallFailed):
        rec.status, rec.error, rec.error_type = CallStatus.FAILED, outcome.error, outcome.error_type
    else:
        rec.status = CallStatus.CANCELLED
    rec.finished_s = outcome.t if outcome else call.t
    return rec


def plan_restore(turn: list[Event], toolset: Toolset, now: float, session_id: str) -> RestorePlan:
    """What a resumed session must restore, run again and record (see the module docstring)."""
    history, plan = _versions(turn)
    plan.unacted = _unacted(turn)
    for call_id, versions in sorted(history.items()):
        plan.versions[call_id] = len(versions)
        for old in versions[:-1]:
            _plan_superseded(old, toolset, plan, now, session_id)
        _plan_current(versions[-1], toolset, plan, now, session_id)
        current = versions[-1]
        if current.removed and not (current.committed or current.compensated or current.cancelled):
            plan.removed.append(call_id)
    return plan


_DECISIONS = (
    ToolCallIssued,
    ToolCallRevised,
    ToolCallRemoved,
    ProtocolError,
    AnswerCompleted,
    AnswerSuppressed,
    ConfirmationAsked,
)


def _unacted(turn: list[Event]) -> ModelOutput | None:
    """The turn's last complete output if no decision it led to was recorded (the crash came
    between the output and its effects). A pause or a repeated call records none either, and
    carrying one out again changes nothing, so it is simply done again."""
    for event in reversed(turn):
        if isinstance(event, _DECISIONS):
            return None
        if isinstance(event, ModelOutput) and not event.interrupted:
            return event
    return None


def _fail(plan: RestorePlan, version: _Version, now: float, error: str) -> ToolCallFailed:
    failure = ToolCallFailed(
        t=now,
        call_id=version.call.call_id,
        version=version.number,
        error=error,
        error_type="interrupted",
    )
    plan.record.append(failure)
    return failure


def _note_cancelled(plan: RestorePlan, version: _Version, now: float) -> None:
    plan.record.append(
        ToolCallCancelled(
            t=now,
            call_id=version.call.call_id,
            version=version.number,
            reason="sandbox lost",
            notify_model=False,
        )
    )


def _plan_current(
    version: _Version, toolset: Toolset, plan: RestorePlan, now: float, session_id: str
) -> None:
    call = version.call
    tool = toolset.get(call.name)
    writes = tool is not None and tool.effect.changes_state
    started = version.started
    sandboxed = bool(started and started.sandboxed)
    if version.committed or version.compensated or version.cancelled:
        rec = _record(version, toolset, session_id)
        rec.disposition = (
            Disposition.COMMITTED
            if version.committed
            else Disposition.COMPENSATED
            if version.compensated
            else Disposition.CANCELLED
        )
        if version.cancelled and version.outcome is None:
            rec.status = CallStatus.CANCELLED
        plan.restored.append(rec)
        return
    if version.outcome is not None:
        rec = _record(version, toolset, session_id)
        if writes and sandboxed and rec.status is CallStatus.DONE:
            version.outcome = _fail(plan, version, now, NO_EFFECT)
            rec = _record(version, toolset, session_id)
            rec.disposition = Disposition.CANCELLED
            _note_cancelled(plan, version, now)
        elif writes and not sandboxed and started is not None and not started.early:
            rec.disposition = Disposition.COMMITTED  # committed before it ran; say so once
            plan.record.append(
                ToolCallCommitted(t=now, call_id=call.call_id, version=version.number)
            )
        plan.restored.append(rec)
        return
    if started is None or not writes:
        # Never ran, or a read cut short: run it again (held again if the policy holds it).
        plan.resubmit.append(Resubmit(call, version.number, commit=False))
        return
    if sandboxed:
        version.outcome = _fail(plan, version, now, NO_EFFECT)
        rec = _record(version, toolset, session_id)
        rec.disposition = Disposition.CANCELLED
        _note_cancelled(plan, version, now)
        plan.restored.append(rec)
        return
    if tool is not None and tool.idempotency_key is not None:
        # Sent again with the same key: the service keeps the effect exactly once.
        plan.resubmit.append(Resubmit(call, version.number, commit=not started.early, running=True))
        return
    version.outcome = _fail(plan, version, now, OUTCOME_UNKNOWN)
    rec = _record(version, toolset, session_id)
    rec.disposition = Disposition.COMMITTED  # whatever it did stands; it cannot be undone blindly
    plan.record.append(ToolCallCommitted(t=now, call_id=call.call_id, version=version.number))
    plan.restored.append(rec)


def _plan_superseded(
    version: _Version, toolset: Toolset, plan: RestorePlan, now: float, session_id: str
) -> None:
    """An earlier version that ran early on the real state and was not yet undone: undone now
    (sent again first with its key if it was still running), or, if that cannot be done, its
    unknown outcome stands and the model is told."""
    tool = toolset.get(version.call.name)
    started = version.started
    if version.compensated or version.committed or version.cancelled:
        return
    if (
        tool is None
        or not tool.effect.changes_state
        or started is None
        or started.sandboxed
        or isinstance(version.outcome, ToolCallFailed)
    ):  # revised away with no effect on the real state, but the crash came first
        plan.record.append(
            ToolCallCancelled(
                t=now,
                call_id=version.call.call_id,
                version=version.number,
                reason="revised",
                notify_model=False,
            )
        )
        return
    finished = isinstance(version.outcome, ToolCallFinished)
    if tool.compensate is not None and (finished or tool.idempotency_key is not None):
        rec = _record(version, toolset, session_id)
        if not finished:
            rec.status = CallStatus.RUNNING  # outcome unknown: sent again before it is undone
        plan.compensate.append(rec)
        return
    call_id, number = version.call.call_id, version.number
    plan.record.append(
        ToolCallFailed(
            t=now,
            call_id=call_id,
            version=number,
            error=EARLIER_VERSION_UNKNOWN,
            error_type="interrupted",
        )
    )
    plan.record.append(ToolCallCommitted(t=now, call_id=call_id, version=number))
