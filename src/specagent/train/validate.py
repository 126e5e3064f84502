"""Trace validation: a training example must be exactly what the runtime accepts and shows.

A trace is kept only if all of these hold (otherwise :class:`TraceInvalid` names the reason,
which the synthesizer counts):

* the session answered, with no protocol error anywhere (``not_answered``, ``protocol_error``);
* every assistant message follows a context the model really saw: the messages before it
  equal one of the contexts the backend was given (``context_mismatch``);
* **parser replay**: every complete generation parses with
  :func:`~specagent.protocol.parse_output` strictly (no tolerated liberty) and re-renders to
  the same text; every interrupted one is reasoning closed by ``</think_interrupted>`` with no
  action (``parse_replay``);
* **executor replay**: the actions, replayed in order on fresh tools in a new
  :class:`~specagent.executor.ToolExecutor`, give the very results the trace shows
  (``executor_replay``);
* the committed calls are the task's gold calls, no more and no fewer (``wrong_calls``), turn
  by turn for a conversation of several turns.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..agent.records import SessionResult
from ..clock import VirtualClock
from ..errors import SpecagentError
from ..events import SessionEnded, ToolCallIssued, ToolCallRevised, final_speech_t
from ..executor import CallStatus, ToolExecutor
from ..protocol import (
    THINK_INTERRUPTED,
    AnswerAction,
    ChatMessage,
    ParseError,
    PauseAction,
    RemoveAction,
    ToolCallAction,
    parse_output,
    render_action,
    shown_value,
)
from ..protocol.inputs import ToolResultInput, mentions_cancel, read_inputs
from ..speculation import Mechanism, Speculation, mechanism_for
from ..tools import Tool, ToolError, Toolset
from .tasks import TrainTask

__all__ = ["TraceInvalid", "normalise", "replay_executor", "replay_parser", "validate_trace"]


class TraceInvalid(SpecagentError, ValueError):
    """A synthesized trace that must not be used; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_SETTLE_S = 1.0
"""Virtual time given to replayed calls (no latency) and compensations to finish; calls held
until their result is shown keep waiting, so nothing blocks on them."""


def normalise(value: Any) -> Any:
    """Arguments as compared for gold matching: JSON round trip, strings case-folded."""
    if isinstance(value, str):
        return value.strip().casefold()
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def replay_parser(messages: Sequence[ChatMessage]) -> dict[str, int]:
    """Parse every assistant message strictly; count the kinds of actions."""
    counts: Counter[str] = Counter()
    next_id = 1
    for i, message in enumerate(messages):
        if message.role != "assistant":
            continue
        text = message.content
        if text.endswith(THINK_INTERRUPTED):
            body = text[: -len(THINK_INTERRUPTED)].removesuffix("</think>")
            if not body.startswith("<think>") or "<" in body[len("<think>") :]:
                raise TraceInvalid("parse_replay", f"message {i}: interrupted text holds an action")
            counts["interrupted"] += 1
            continue
        try:
            parsed = parse_output(text, next_id)
        except ParseError as exc:
            raise TraceInvalid("parse_replay", f"message {i}: {exc.message}") from exc
        if parsed.tolerated:
            raise TraceInvalid("parse_replay", f"message {i}: tolerated {parsed.tolerated}")
        if render_action(parsed.action, parsed.think) != text:
            raise TraceInvalid("parse_replay", f"message {i}: not in canonical form")
        action = parsed.action
        if isinstance(action, ToolCallAction):
            counts["revisions" if action.call_id < next_id else "calls"] += 1
            next_id = max(next_id, action.call_id + 1)
        elif isinstance(action, RemoveAction):
            counts["removals"] += 1
        elif isinstance(action, PauseAction):
            counts["pauses"] += 1
        elif isinstance(action, AnswerAction):
            counts["answers"] += 1
    return dict(counts)


def _held_until_shown(tool: Tool | None) -> bool:
    """Whether the replay runs a call only once the trace shows its result.

    The replay has no sandbox and no commit point, so it asks the hold rule
    (:func:`~specagent.speculation.mechanism_for`) for the most permissive policy: a call that
    may act on the real state early there (a read, or a reversible call undone if withdrawn)
    runs at once; one that would be sandboxed or held takes effect only at its commit point,
    which the replay places where the trace shows its result.
    """
    return mechanism_for(tool, Speculation.FULL) in (Mechanism.SANDBOX, Mechanism.HOLD)


async def _replay(messages: Sequence[ChatMessage], toolset: Toolset, clock: VirtualClock) -> None:
    emitted: list[Any] = []
    latest: dict[int, Any] = {}
    held: dict[int, Any] = {}  # irreversible calls not yet shown to have run
    superseded: dict[int, Any] = {}  # the result of a call's version before its revision
    next_id = 1
    async with ToolExecutor(toolset, clock, emitted.append) as executor:
        for i, message in enumerate(messages):
            if message.role == "assistant":
                if message.content.endswith(THINK_INTERRUPTED):
                    continue
                action = parse_output(message.content, next_id).action
                if isinstance(action, ToolCallAction):
                    next_id = max(next_id, action.call_id + 1)
                    held.pop(action.call_id, None)
                    if action.call_id in executor.records:
                        superseded[action.call_id] = latest.get(action.call_id)
                        executor.withdraw(action.call_id, "revised", notify=False)
                        await clock.sleep(_SETTLE_S)
                    hold = _held_until_shown(toolset.get(action.name))
                    rec = executor.submit(
                        action.call_id, action.name, action.arguments, action.depends, hold=hold
                    )
                    if hold:
                        held[action.call_id] = rec
                        continue
                    await clock.sleep(_SETTLE_S)
                    if rec.status is not CallStatus.DONE:
                        raise TraceInvalid(
                            "executor_replay", f"message {i}: call {action.call_id} {rec.error}"
                        )
                    latest[action.call_id] = shown_value(rec.result)
                elif isinstance(action, RemoveAction):
                    held.pop(action.call_id, None)
                    executor.withdraw(action.call_id, "removed")
                    await clock.sleep(_SETTLE_S)
                    latest.pop(action.call_id, None)
                continue
            if message.role != "user":
                continue
            for result in read_inputs(message.content):
                if not isinstance(result, ToolResultInput):
                    continue
                call_id = result.call_id
                if call_id in held:
                    rec = held.pop(call_id)
                    executor.commit(call_id)
                    await clock.sleep(_SETTLE_S)
                    if rec.status is not CallStatus.DONE:
                        raise TraceInvalid("executor_replay", f"call {call_id} {rec.error}")
                    latest[call_id] = shown_value(rec.result)
                if result.error_type is not None:
                    raise TraceInvalid("executor_replay", f"call {call_id} failed in the trace")
                shown = json.loads(result.body)
                if call_id in superseded and shown == superseded[call_id] != latest.get(call_id):
                    raise TraceInvalid(
                        "stale_result",
                        f"call {call_id}: the result of its revised version arrived after the "
                        "revision, indistinguishable from the new one",
                    )
                if call_id not in latest or latest[call_id] != shown:
                    raise TraceInvalid(
                        "executor_replay",
                        f"call {call_id}: trace shows {shown!r}, replay gives {latest.get(call_id)!r}",
                    )


def replay_executor(messages: Sequence[ChatMessage], toolset: Toolset) -> None:
    """Replay the trace's actions on fresh tools; the results must equal those shown."""
    clock = VirtualClock()

    async def main() -> None:
        await _replay(messages, toolset, clock)

    try:
        clock.run(main())
    except ToolError as exc:
        raise TraceInvalid("executor_replay", str(exc)) from exc
    except BaseExceptionGroup as group:
        first = group.exceptions[0]
        if isinstance(first, TraceInvalid):
            raise first from None
        raise


def _check_gold(task: TrainTask, results: Sequence[SessionResult]) -> None:
    """Each turn committed exactly its gold calls (results of earlier turns stay readable)."""
    toolset = task.make_toolset()
    known: dict[str, Any] = {}
    for index, (turn, result) in enumerate(zip(task.turns, results, strict=True)):
        committed = [
            c for c in result.tool_calls if c.disposition == "committed" and c.status == "done"
        ]
        unused = list(committed)
        where = f"turn {index + 1}: " if len(task.turns) > 1 else ""
        for call in turn.calls:
            if not call.gold:
                continue
            wanted = normalise(toolset[call.name].validate(call.final_args(known)))
            match = next(
                (c for c in unused if c.name == call.name and normalise(c.arguments) == wanted),
                None,
            )
            if match is None:
                raise TraceInvalid("wrong_calls", f"{where}no committed {call.name} with {wanted}")
            unused.remove(match)
            known[call.key] = match.result
        if unused:
            raise TraceInvalid(
                "wrong_calls", f"{where}unexpected committed calls {[c.name for c in unused]}"
            )


def validate_trace(
    task: TrainTask,
    messages: Sequence[ChatMessage],
    result: SessionResult | Sequence[SessionResult],
    contexts: Sequence[Sequence[ChatMessage]],
) -> dict[str, Any]:
    """Check a trace (see module docstring); return its behaviour counts.

    ``result``: the session result of each turn (or of the only one).
    """
    results = [result] if isinstance(result, SessionResult) else list(result)
    if len(results) != len(task.turns):
        raise TraceInvalid(
            "not_answered", f"{len(results)} of the task's {len(task.turns)} turns were played"
        )
    for turn_result in results:
        if turn_result.ended != "answered" or turn_result.answer is None:
            raise TraceInvalid("not_answered", f"session ended {turn_result.ended!r}")
        if turn_result.protocol_errors:
            raise TraceInvalid("protocol_error", "the trace holds a protocol error")
    if any("<protocol_error>" in m.content for m in messages if m.role == "user"):
        raise TraceInvalid("protocol_error", "the trace holds a protocol error")
    seen = {tuple(c) for c in contexts}
    for i, message in enumerate(messages):
        if message.role == "assistant" and tuple(messages[:i]) not in seen:
            raise TraceInvalid("context_mismatch", f"message {i} follows a context never shown")
    counts = replay_parser(messages)
    replay_executor(messages, task.make_toolset())
    _check_gold(task, results)
    events = results[-1].ledger.events
    finals: list[float] = []
    turn_events: list[Any] = []
    early = 0
    for event in events:  # calls issued or revised before the final words of their own turn
        turn_events.append(event)
        if isinstance(event, SessionEnded):
            final_t = final_speech_t(turn_events)
            finals.append(final_t if final_t is not None else float("inf"))
            early += sum(
                1
                for e in turn_events
                if isinstance(e, (ToolCallIssued, ToolCallRevised)) and e.t < finals[-1]
            )
            turn_events = []
    counts["early_calls"] = early
    counts["cancelled"] = sum(mentions_cancel(m.content) for m in messages)
    counts["latency_ms"] = round(1000 * sum(r.latency_s or 0.0 for r in results))
    return counts
