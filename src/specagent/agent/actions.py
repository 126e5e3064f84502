"""Carrying out what the model wrote: a call, a removal, a pause or an answer, and the commit
point they may reach.

The session hands each complete generation to :func:`act`. The rules for a single call are
in :mod:`~specagent.agent.call_rules` (pure verdicts); how a call may run before its commit
point is :func:`specagent.speculation.mechanism_for`; this module applies them to the turn.

The commit point of a held state-changing call (docs/protocol.md): the user's final update
has arrived, no newer user speech is waiting or arrived while the model wrote, and the model
has itself written a higher call id, a pause or a tagged answer. An id the parser invented
and untagged prose are not the model moving on. A call that needs the user's consent is not
run at its commit point: the turn ends with the question (:mod:`.confirmation`).
"""

from __future__ import annotations

import dataclasses
import re

from ..events import (
    AnswerCompleted,
    AnswerDelta,
    AnswerSuppressed,
    ConfirmationAnswered,
    ConfirmationAsked,
    ModelOutput,
    ProtocolError,
    ToolCallIssued,
    ToolCallRemoved,
    ToolCallRevised,
)
from ..executor import Disposition, PendingDecision
from ..protocol import (
    AnswerAction,
    ParseError,
    PauseAction,
    RemoveAction,
    ToolCallAction,
    parse_output,
)
from ..speculation import Mechanism, mechanism_for
from ..tools import Tool
from .call_rules import Verdict, call_key, judge_call, ungrounded
from .confirmation import is_affirmative, needs_confirmation, reply_in
from .generation import Generation, first_answer_token_t
from .states import AgentState
from .turn import Turn

__all__ = [
    "act",
    "answer_confirmations",
    "reach_commit_point",
    "record_output",
    "refuse_claim",
    "unbacked_claim",
]


def record_output(turn: Turn, gen: Generation, text: str, *, interrupted: bool = False) -> None:
    """Record what a generation wrote (once: a resumed turn re-acting an output skips it)."""
    if gen.recorded:
        return
    turn.record(
        ModelOutput(
            t=turn.clock.now(),
            text=text,
            interrupted=interrupted,
            tokens=gen.tokens,
            started_t=gen.started_t,
        )
    )


def act(turn: Turn, gen: Generation) -> None:
    """Carry out the action a complete generation wrote."""
    try:
        parsed = parse_output(gen.text, turn.next_id)
    except ParseError as exc:
        record_output(turn, gen, gen.text)
        turn.protocol_error(exc.message, raw=exc.raw)
        return
    turn.counters.consecutive_errors = 0
    action = parsed.action
    own_id = "id_assigned" not in parsed.tolerated
    tagged = "untagged_answer" not in parsed.tolerated
    if isinstance(action, AnswerAction):
        _answer(turn, gen, action, tagged)
        return
    if isinstance(action, ToolCallAction) and not own_id:
        rewritten = turn.held_call_of(action.name)
        if rewritten is not None:  # an id-less rewrite of a held call revises it
            action = dataclasses.replace(action, call_id=rewritten)
    if isinstance(action, ToolCallAction) and turn.speech_waiting() and _guesses(turn, action):
        # Written before the words now waiting were heard, on a value nobody had said:
        # drop it as if interrupted; the model writes again with those words in view.
        turn.counters.interrupted += 1
        turn.counters.ungrounded += 1
        turn.move(AgentState.LISTENING)
        return
    record_output(turn, gen, gen.text)
    turn.move(AgentState.LISTENING)
    if isinstance(action, ToolCallAction):
        if own_id and reach_commit_point(turn, gen, below=action.call_id):
            return
        if not _tool_call(turn, action, gen) and own_id:  # a repeat is a pause in effect
            reach_commit_point(turn, gen, below=None)
    elif isinstance(action, RemoveAction):
        _remove(turn, action)
    elif isinstance(action, PauseAction):
        reach_commit_point(turn, gen, below=None)
        turn.dirty = False


def _answer(turn: Turn, gen: Generation, action: AnswerAction, tagged: bool) -> None:
    if turn.speech_count != gen.speech_seen:
        # The user spoke again while the answer was being written (its last token raced the
        # barge-in check): it is cut off, as barge-in would have cut it.
        turn.counters.interrupted += 1
        turn.answer_started = None
        turn.move(AgentState.LISTENING)
        return
    if not tagged and turn.final_heard and turn.awaiting_commit:
        record_output(turn, gen, gen.text)
        held = ", ".join(str(i) for i in sorted(turn.awaiting_commit))
        turn.protocol_error(
            f"call {held} waits for its commit point: write <pause/> or your "
            '<answer>...</answer> in tags to let it run, or <remove id="N"/> to withdraw it'
        )
        return
    if tagged and reach_commit_point(turn, gen, below=None):
        return  # the turn ended with a question for the user
    claimed = unbacked_claim(turn, action.text)
    if claimed:
        refuse_claim(turn, gen, claimed)
        return
    if not turn.answer_allowed():  # an untagged answer, seen only once complete
        turn.counters.suppressed += 1
        turn.record(AnswerSuppressed(t=turn.clock.now(), reason=turn.why_no_answer()))
        turn.move(AgentState.LISTENING)
        return
    record_output(turn, gen, gen.text)
    if turn.answer_started is None:
        turn.begin_answer(first_answer_token_t(gen, action.text))
    turn.answer = action.text
    turn.answer_done = turn.clock.now()
    turn.record(AnswerCompleted(t=turn.answer_done, text=action.text))
    turn.finish("answered")


_CLAIM_RE = re.compile(
    # a first-person or completed-passive claim: "I've booked", "has been sent", "is now set";
    # not a description read from a result ("two events are scheduled today")
    r"(?:\b(?:I|we)(?:'ve| have)?|\b(?:has|have) been|\b(?:is|are|was|were) now|\bsuccessfully)"
    r"\s+(?:just |now |already |successfully )?"
    r"(sent|booked|reserved|scheduled|added|created|shared|saved|texted|emailed|messaged|"
    r"cancell?ed|set|noted|placed|updated|deleted|removed)\b",
    re.IGNORECASE,
)


def refuse_claim(turn: Turn, gen: Generation, claimed: str) -> None:
    """Stop an answer that claims an action no call did: the model is told, once a turn."""
    turn.claims_checked = True
    turn.answer_started = None  # whatever was streamed of it is cut, as by barge-in
    record_output(turn, gen, gen.text)
    turn.move(AgentState.LISTENING)
    turn.protocol_error(
        f"your answer says {claimed!r}, but no tool call in this turn did that: make the "
        "call first, or answer without saying it was done"
    )


def unbacked_claim(turn: Turn, text: str) -> str | None:
    """The first phrase of an answer that says an action was done, if no state-changing call
    was made in this turn (checked once per turn, with ``check_claims``)."""
    if not turn.config.check_claims or turn.claims_checked:
        return None
    match = _CLAIM_RE.search(text)
    if match is None:
        return None
    wrote = any(
        r.effect is not None and r.effect.changes_state for r in turn.executor.all_records()
    )
    return None if wrote else match.group(0)


def _guesses(turn: Turn, action: ToolCallAction) -> list[str]:
    return ungrounded(
        action,
        turn.toolset.get(action.name),
        final_heard=turn.final_heard,
        evidence=turn.evidence(),
        config=turn.config,
    )


def _needs_confirmation(turn: Turn, tool: Tool | None) -> bool:
    return needs_confirmation(tool, turn.config.confirm_irreversible)


def reach_commit_point(turn: Turn, gen: Generation, below: int | None) -> bool:
    """Release the held calls whose commit point this action reached (``below``: a call's
    id, release lower ids; None for a pause or an answer, release all). Return True if
    instead the turn ended by asking the user to confirm some of them."""
    if not (gen.saw_final and turn.final_heard and turn.speech_count == gen.speech_seen):
        return False
    asks: list[ConfirmationAsked] = []
    for call_id in sorted(turn.awaiting_commit):
        if below is not None and call_id >= below:
            continue
        turn.awaiting_commit.discard(call_id)
        rec = turn.executor.records[call_id]
        tool = turn.toolset.get(rec.name)
        if tool is not None and _needs_confirmation(turn, tool):
            turn.executor.withdraw(call_id, "waiting for the user's consent", notify=False)
            asks.append(
                ConfirmationAsked(
                    t=turn.clock.now(),
                    call_id=call_id,
                    version=rec.version,
                    name=rec.name,
                    arguments=dict(rec.arguments),
                    question=tool.confirmation_question(rec.arguments),
                )
            )
        else:
            turn.executor.commit(call_id)
    if not asks:
        return False
    _ask(turn, asks)
    return True


def _ask(turn: Turn, asks: list[ConfirmationAsked]) -> None:
    """End the turn by asking the user to confirm held calls (the turn's answer)."""
    for ask in asks:
        turn.record(ask)
    turn.counters.confirmations += len(asks)
    question = " ".join(a.question for a in asks)
    if turn.answer_started is None:
        turn.begin_answer()
    turn.record(AnswerDelta(t=turn.clock.now(), text=question))
    turn.answer = question
    turn.answer_done = turn.clock.now()
    turn.record(AnswerCompleted(t=turn.answer_done, text=question))
    turn.finish("answered")


def answer_confirmations(turn: Turn) -> None:
    """The user finished an utterance after being asked: a plain yes runs the asked calls
    exactly as asked (under their ids); anything else leaves them unrun."""
    executor = turn.executor
    granted = is_affirmative(reply_in(turn.events()))
    asks, turn.pending_asks = turn.pending_asks, []
    for ask in asks:
        turn.record(ConfirmationAnswered(t=turn.clock.now(), call_id=ask.call_id, granted=granted))
        if not granted:
            continue
        version = turn.next_version(ask.call_id)
        turn.record(
            ToolCallIssued(
                t=turn.clock.now(),
                call_id=ask.call_id,
                version=version,
                name=ask.name,
                arguments=ask.arguments,
            )
        )
        executor.submit(
            ask.call_id,
            ask.name,
            ask.arguments,
            call_key=turn.call_key(ask.call_id),
            version=version,
        )
        executor.commit(ask.call_id)
        if turn.policy.one_tool_at_a_time and not executor.records[ask.call_id].status.terminal:
            turn.awaiting = ask.call_id


def _tool_call(turn: Turn, action: ToolCallAction, gen: Generation) -> bool:
    """Carry out a tool call; False if it asks for nothing new (a repeat, or a revision the
    semantic guard finds equivalent)."""
    executor = turn.executor
    tool = turn.toolset.get(action.name)
    judgement = judge_call(
        action,
        records=executor.records,
        tool=tool,
        final_heard=turn.final_heard,
        evidence=turn.evidence(),
        config=turn.config,
    )
    if judgement.verdict is Verdict.NOTHING_NEW:
        turn.counters.revisions_kept += judgement.revision_kept
        turn.dirty = False
        return False
    if judgement.verdict is Verdict.REFUSED:
        again = judgement.refusal == "ungrounded_write" and _refused_before(turn, action)
        _refuse(turn, "failed_repeat" if again else judgement.refusal, judgement.message)
        return True
    existing = executor.records.get(action.call_id)
    live = existing is not None and existing.disposition is None
    event_type = ToolCallRevised if existing is not None else ToolCallIssued
    version = turn.next_version(action.call_id)
    # The decision is recorded before anything follows from it, so a crash in between leaves
    # a ledger that says what to finish (agent/resume.py).
    turn.record(
        event_type(
            t=turn.clock.now(),
            call_id=action.call_id,
            version=version,
            name=action.name,
            arguments=action.arguments,
            depends=action.depends,
        )
    )
    if live:
        executor.withdraw(action.call_id, "revised", notify=False)
        turn.awaiting_commit.discard(action.call_id)
    turn.next_id = max(turn.next_id, action.call_id + 1)
    mechanism = mechanism_for(
        tool,
        turn.policy.speculation,
        request_settled=turn.speech_count == gen.speech_seen,
        confirm=_needs_confirmation(turn, tool),
    )
    executor.submit(
        action.call_id,
        action.name,
        action.arguments,
        action.depends,
        hold=mechanism is Mechanism.HOLD,
        sandboxed=mechanism is Mechanism.SANDBOX,
        hold_reason="state-changing call waits for its commit point",
        call_key=turn.call_key(action.call_id),
        version=version,
    )
    if tool is not None and tool.effect.changes_state:
        if mechanism is Mechanism.RUN_NOW:  # sync, oracle: the request is complete
            executor.commit(action.call_id)
        else:
            turn.awaiting_commit.add(action.call_id)
    held_for_commit = action.call_id in turn.awaiting_commit and turn.final_heard
    if turn.policy.one_tool_at_a_time and not held_for_commit:
        rec = executor.records[action.call_id]
        turn.awaiting = None if rec.status.terminal else action.call_id
        turn.dirty = rec.status.terminal  # an instant failure is already in the inbox
    else:
        turn.dirty = turn.config.continue_after_call or held_for_commit
    return True


def _refused_before(turn: Turn, action: ToolCallAction) -> bool:
    """Whether this very call was refused already in this turn (small models loop on it)."""
    key = call_key(action.name, action.arguments)
    seen = key in turn.refused
    turn.refused.add(key)
    return seen


def _refuse(turn: Turn, refusal: str, message: str) -> None:
    """Tell the model why a call was not run, and count it."""
    if refusal == "failed_repeat":  # small models loop on this: it counts towards giving up
        turn.counters.protocol_errors += 1
        turn.counters.failed_repeats += 1
        turn.record(ProtocolError(t=turn.clock.now(), message=message))
        if turn.counters.failed_repeats >= turn.config.max_protocol_errors:
            turn.finish("too_many_protocol_errors")
        else:
            turn.dirty = True
        return
    turn.record(ProtocolError(t=turn.clock.now(), message=message))
    if refusal == "committed":
        turn.dirty = True
    elif refusal == "ungrounded_write":  # after the final words: act now (ask the user)
        turn.counters.ungrounded_writes += 1
        turn.dirty = True
    else:  # an early guess: wait for more words
        turn.counters.ungrounded += 1
        turn.dirty = False


def _remove(turn: Turn, action: RemoveAction) -> None:
    """Withdraw a call and, in cascade, every call that depends on it."""
    rec = turn.executor.records.get(action.call_id)
    if rec is None:
        problem = f"there is no call {action.call_id}"
    elif rec.disposition is Disposition.COMMITTED or rec.pending is PendingDecision.COMMIT:
        problem = f"call {action.call_id} is already committed and cannot be removed"
    elif rec.disposition is not None or rec.pending is PendingDecision.UNDO:
        ended = "being undone" if rec.disposition is None else rec.disposition.value
        problem = (  # a second removal changes nothing; a model that repeats it must hear so
            f"call {action.call_id} is already {ended}; do not remove it again: make the "
            "next call or answer"
        )
    else:
        turn.record(
            ToolCallRemoved(t=turn.clock.now(), call_id=action.call_id, version=rec.version)
        )
        withdraw_cascade(turn, action.call_id)
        turn.dirty = True
        return
    turn.record(ProtocolError(t=turn.clock.now(), message=problem))
    turn.dirty = True


def withdraw_cascade(turn: Turn, removed: int) -> None:
    """Withdraw call ``removed`` and every undecided call that depends on it."""
    executor = turn.executor
    doomed = [removed]
    for other in sorted(executor.records.values(), key=lambda r: r.call_id):
        if other.disposition is None and any(d in doomed for d in other.depends):
            doomed.append(other.call_id)
    for call_id in doomed:
        reason = (
            "removed by the model" if call_id == removed else f"depends on removed call {removed}"
        )
        executor.withdraw(call_id, reason)
        turn.awaiting_commit.discard(call_id)
