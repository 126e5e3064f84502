"""Applying a resume plan: the calls of an unfinished turn restored, run again, undone or
re-acted; or the turn closed for good.

:mod:`~specagent.agent.resume` decides, from the stored ledger alone, what each call of an
unfinished turn needs. :func:`restore` carries that out on a resumed session's turn, which
then goes on. :func:`close_cut_turn` ends such a turn instead when only its stored ledger is
left (a server that restarted after a crash): what was committed completes, everything else
is withdrawn by the same rule a live session applies to its own cut turn
(:func:`~specagent.agent.ending.withdraw_undecided`).
"""

from __future__ import annotations

from ..clock import Clock
from ..events import (
    AnswerStarted,
    Event,
    ModelOutput,
    SessionEnded,
    Timer,
    ToolCallCancelled,
    UserSpeech,
)
from ..executor import CallRecord, CallStatus, ToolExecutor
from ..ledger import Ledger
from ..protocol import ParseError, ToolCallAction, parse_output
from ..speculation import Mechanism, mechanism_for
from ..tools import Toolset
from .actions import act, reach_commit_point, withdraw_cascade
from .confirmation import needs_confirmation
from .ending import turn_start, withdraw_undecided
from .generation import Generation
from .resume import plan_restore, version_key
from .states import AgentState
from .turn import Turn

__all__ = ["RESUMED", "close_cut_turn", "restore"]

RESUMED = "session-resumed"
"""The name of the :class:`~specagent.events.Timer` a resumed turn records first: the ledger
shows where the earlier run stopped."""


def restore(turn: Turn) -> int:
    """Rebuild the turn from its stored events; return how many speech events to skip when
    the speech is fed again."""
    executor = turn.executor
    events = list(turn.events())
    plan = plan_restore(events, turn.toolset, turn.clock.now(), turn.ledger.session_id)
    turn.record(Timer(t=turn.clock.now(), name=RESUMED))
    turn.speech_count = plan.heard
    turn.final_heard = plan.final_heard
    if plan.heard:
        turn.move(AgentState.LISTENING)
    turn.versions.update(plan.versions)
    for event in plan.record:
        turn.record(event)
    for rec in plan.restored:
        executor.restore(rec)
    for rec in plan.compensate:
        executor.undo_restored(rec)
    for call_id in plan.versions:
        turn.next_id = max(turn.next_id, call_id + 1)
    for again in plan.resubmit:
        call = again.call
        tool = turn.toolset.get(call.name)
        mechanism = (
            Mechanism.RUN_NOW
            if again.commit
            else mechanism_for(
                tool,
                turn.policy.speculation,
                confirm=needs_confirmation(tool, turn.config.confirm_irreversible),
            )
        )
        executor.submit(
            call.call_id,
            call.name,
            call.arguments,
            call.depends,
            hold=mechanism is Mechanism.HOLD,
            sandboxed=mechanism is Mechanism.SANDBOX,
            call_key=turn.call_key(call.call_id),
            version=again.version,
        )
        if tool is not None and tool.effect.changes_state:
            if mechanism is Mechanism.RUN_NOW:
                executor.commit(call.call_id)
            else:
                turn.awaiting_commit.add(call.call_id)
        if turn.policy.one_tool_at_a_time and not executor.records[call.call_id].status.terminal:
            turn.awaiting = call.call_id
    for call_id in plan.removed:  # removed, but the crash came before every withdrawal
        withdraw_cascade(turn, call_id)
    if plan.unacted is not None and plan.answered is None:
        _react(turn, plan.unacted, events)
    if plan.answered is not None:  # the answer was complete: only the ending is left
        turn.answer = plan.answered.text
        turn.answer_done = plan.answered.t
        began = [e.t for e in events if isinstance(e, AnswerStarted)]
        turn.answer_started = began[-1] if began else plan.answered.t
        turn.finish("answered")
    turn.dirty = plan.heard > 0
    if turn.policy.streams_partial_speech and not turn.final_heard:
        return plan.heard
    return 10**9 if turn.final_heard else 0


def _react(turn: Turn, output: ModelOutput, events: list[Event]) -> None:
    """Carry out the action of the turn's last output, which the crash stopped before any of
    its effects were recorded. Only speech recorded before the generation began counts as
    heard, so a held call never commits on words the model may not have seen."""
    index = events.index(output)
    seen = [e for e in events[:index] if isinstance(e, UserSpeech) and e.t < output.started_t]
    gen = Generation(
        text=output.text,
        tokens=output.tokens,
        started_t=output.started_t,
        saw_final=bool(seen) and seen[-1].final,
        speech_seen=len(seen),
        recorded=True,
    )
    if _repeats_a_call(turn, output.text):
        # A repeat records nothing, so it may have been carried out already; its only effect
        # is that of a pause, which is safe to have twice.
        reach_commit_point(turn, gen, below=None)
        return
    act(turn, gen)


def _repeats_a_call(turn: Turn, text: str) -> bool:
    """Whether an output is a call, with the model's own id, that asks for nothing new."""
    try:
        parsed = parse_output(text, turn.next_id)
    except ParseError:
        return False
    action = parsed.action
    if not isinstance(action, ToolCallAction) or "id_assigned" in parsed.tolerated:
        return False
    return any(
        r.name == action.name and r.arguments == action.arguments
        for r in turn.executor.records.values()
    )


async def close_cut_turn(ledger: Ledger, toolset: Toolset, clock: Clock, reason: str) -> None:
    """End a stored turn that stopped mid-way without asking the model anything more, so the
    conversation can go on with a new turn. (A live session ends its own cut turn: see
    ``Session.cut`` and ``Session(cut_reason=...)``; this is for a ledger with no session.)

    Every call ends as a resumed turn would restore it (see :mod:`.resume`), and then, since
    nobody will act on it any more: a committed call whose outcome the crash left unknown is
    sent again if its tool takes an idempotency key (it was wanted; the key keeps it once),
    or recorded as an unknown outcome; every undecided call is withdrawn (a held call
    cancelled, a sandbox dropped, a reversible call that ran undone); a call that never ran
    is cancelled. ``SessionEnded(reason)`` closes the turn.
    """
    start = turn_start(ledger)
    plan = plan_restore(list(ledger.events[start:]), toolset, clock.now(), ledger.session_id)
    for event in plan.record:
        ledger.append(event)
    async with ToolExecutor(toolset, clock, ledger.append) as executor:
        for rec in plan.restored:
            executor.restore(rec)
        for rec in plan.compensate:
            executor.undo_restored(rec)
        for again in plan.resubmit:
            call = again.call
            if again.running and again.commit:  # committed, outcome unknown: finish it once
                executor.submit(
                    call.call_id,
                    call.name,
                    call.arguments,
                    call_key=version_key(ledger.session_id, call.call_id, again.version),
                    version=again.version,
                )
                executor.commit(call.call_id)
            elif again.running:  # an early reversible run: sent again with its key, undone
                rec = CallRecord(
                    call.call_id,
                    call.name,
                    dict(call.arguments),
                    call.depends,
                    toolset[call.name].effect,
                    call.t,
                    call_key=version_key(ledger.session_id, call.call_id, again.version),
                    version=again.version,
                )
                rec.status = CallStatus.RUNNING
                executor.undo_restored(rec)
            else:  # never ran (held, waiting) or a read cut short
                ledger.append(
                    ToolCallCancelled(
                        t=clock.now(), call_id=call.call_id, version=again.version, reason=reason
                    )
                )
        withdraw_undecided(executor, reason)
        await executor.quiesce()
    ledger.append(SessionEnded(t=clock.now(), reason=reason))
