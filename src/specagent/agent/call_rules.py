"""The rules a tool call must pass before it runs, as pure functions that return a verdict.

A session asks :func:`judge_call` about every call the model writes and carries out the
verdict; nothing here changes anything. The rules, in the order they are checked:

1. a call that is already committed (its outcome is final) cannot be revised: use a new id;
2. the same call that just failed, sent again unchanged, is refused (small models loop on
   this), and counts towards giving up;
3. a revision the tool's semantic guard finds equivalent asks for nothing new: the running
   or finished result is kept;
4. a call that repeats one already made (same tool, same arguments, still wanted) asks for
   nothing new. A read repeated after a state-changing call runs again (the state may have
   changed); the same write is never done twice in a turn;
5. grounding (:mod:`specagent.grounding`): before the user's final words any call, and at any
   time a state-changing call, may only use values the user said, a tool returned, the tool
   offers as fixed choices, or the session was told up front. Before the final words the
   model waits for more words; after them it is told to ask the user.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..executor import CallRecord, CallStatus, Disposition, PendingDecision
from ..grounding import schema_choices, ungrounded_values
from ..protocol import ToolCallAction
from ..tools import InvalidArgumentsError, Tool
from .records import SessionConfig

__all__ = ["Judgement", "Verdict", "call_key", "judge_call", "ungrounded"]


def call_key(name: str, arguments: Mapping[str, Any]) -> str:
    """Identifies a call by tool and arguments (to spot a repeat of the same request)."""
    return name + json.dumps(arguments, sort_keys=True, default=str)


class Verdict(enum.Enum):
    RUN = "run"
    """Carry it out: a new call, or a revision that asks for something new."""
    NOTHING_NEW = "nothing_new"
    """A repeat or an equivalent revision: nothing runs; it counts as a pause."""
    REFUSED = "refused"
    """Not run; the model is told why (``Judgement.message``)."""


Refusal = Literal["", "committed", "failed_repeat", "ungrounded_early", "ungrounded_write"]


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    message: str = ""
    refusal: Refusal = ""
    revision_kept: bool = False
    """Nothing new because a revision was found equivalent (its result is kept)."""


_RUN = Judgement(Verdict.RUN)
_NOTHING_NEW = Judgement(Verdict.NOTHING_NEW)
_REVISION_KEPT = Judgement(Verdict.NOTHING_NEW, revision_kept=True)


def _equivalent(tool: Tool, old: dict[str, Any], new: dict[str, Any]) -> bool:
    try:
        return tool.same_request(old, tool.validate(new))
    except InvalidArgumentsError:
        return False


def _writes_since(records: Mapping[int, CallRecord], call_id: int) -> bool:
    """Whether a state-changing call still wanted was issued after ``call_id``: then
    repeating an earlier call is a fresh read of changed state, not a duplicate."""
    return any(
        r.call_id > call_id
        and r.effect is not None
        and r.effect.changes_state
        and r.disposition in (None, Disposition.COMMITTED)
        for r in records.values()
    )


def ungrounded(
    action: ToolCallAction,
    tool: Tool | None,
    *,
    final_heard: bool,
    evidence: str,
    config: SessionConfig,
) -> list[str]:
    """Values of a call that nobody has said or read (rule 5); empty if it may run."""
    writes = tool is not None and tool.effect.changes_state
    early = config.ground_early_calls and not final_heard
    if not early and not (config.ground_state_changes and writes):
        return []
    choices = schema_choices(tool.parameters, tool.description) if tool is not None else set()
    return ungrounded_values(action.arguments, evidence, choices=choices)


def judge_call(
    action: ToolCallAction,
    *,
    records: Mapping[int, CallRecord],
    tool: Tool | None,
    final_heard: bool,
    evidence: str,
    config: SessionConfig,
) -> Judgement:
    """The verdict on a call the model wrote, given the session's calls so far (see the
    module docstring for the rules)."""
    call_id = action.call_id
    existing = records.get(call_id)
    if existing is not None and (
        existing.disposition is Disposition.COMMITTED or existing.pending is PendingDecision.COMMIT
    ):  # committed, possibly still running: its outcome is final
        return Judgement(
            Verdict.REFUSED, f"call {call_id} is already committed; use a new id", "committed"
        )
    if (
        existing is not None
        and existing.status is CallStatus.FAILED
        and existing.name == action.name
        and existing.arguments == action.arguments
    ):
        return Judgement(
            Verdict.REFUSED,
            f"call {call_id} already failed ({existing.error}); do not repeat it: "
            "change the call, use another tool, or answer",
            "failed_repeat",
        )
    live = existing is not None and existing.disposition is None
    if live and existing is not None and existing.name == action.name and tool is not None:
        if _equivalent(tool, existing.arguments, action.arguments):
            return _REVISION_KEPT
    key = call_key(action.name, action.arguments)
    writes = tool is not None and tool.effect.changes_state
    if any(
        call_key(r.name, r.arguments) == key
        and r.disposition in (None, Disposition.COMMITTED)
        and (writes or not _writes_since(records, r.call_id))
        for r in records.values()
        if r.call_id != call_id
    ):
        return _NOTHING_NEW
    guesses = ungrounded(action, tool, final_heard=final_heard, evidence=evidence, config=config)
    if not guesses:
        return _RUN
    quoted = " and ".join(repr(g) for g in guesses)
    if final_heard:  # a write on a value nobody said: ask, do not guess
        return Judgement(
            Verdict.REFUSED,
            f"call {call_id} was not run: neither the user nor any tool result gave {quoted}. "
            "Ask the user for it in your <answer>, or use a value they said.",
            "ungrounded_write",
        )
    return Judgement(
        Verdict.REFUSED,
        f"call {call_id} was not run: the user has not said {quoted}. "
        "Use only what the user said; wait for more words if you need them.",
        "ungrounded_early",
    )
