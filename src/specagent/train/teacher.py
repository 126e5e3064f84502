"""The expert that writes training traces: it acts only on what its context shows.

The teacher plays the model inside a real :class:`~specagent.agent.session.Session` (through
:class:`~specagent.models.scripted.ScriptedBackend`'s responder hook). Each time it is asked to
generate, it reads the rendered context exactly as a model would: the words heard so far
(partial and final updates), tool results and cancellations, and its own earlier actions. It
then applies one rule with the task's script (:class:`~specagent.train.tasks.ScriptCall`):

1. a call the user has taken back is removed;
2. a call whose arguments the latest words changed is re-issued under the same id;
3. the next call whose arguments are known (and whose inputs have returned) is issued;
4. otherwise it pauses while the user is still speaking or a call is unfinished;
5. and answers once the user has finished and every result is in.

In a conversation of several turns (:attr:`~specagent.train.tasks.TrainTask.followups`) the
context holds the earlier turns too; a user update after a final one starts the next turn, and
the rule applies to that turn's script, with every earlier result still readable.

It writes a short reasoning before each action; when an event arrives mid-reasoning the
runtime cuts it with ``</think_interrupted>``, as it would for a real model. The teacher
never looks at anything but the context and the task script, so its choices are functions
of what the model will see (learnable), and it is deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecagentError
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
)
from ..protocol.inputs import CancelInput, QueryUpdateInput, ToolResultInput, read_inputs
from ..tools import ToolError
from .tasks import ScriptCall, TaskTurn, TrainTask

__all__ = ["ContextView", "Teacher", "TeacherError", "read_context"]


class TeacherError(SpecagentError, RuntimeError):
    """The context holds something the teacher cannot follow (the trace is rejected)."""


@dataclass
class _Issued:
    call_id: int
    name: str
    arguments: dict[str, Any]
    turn: int = 0
    live: bool = True
    has_result: bool = False
    result: Any = None
    error: str | None = None


@dataclass
class ContextView:
    """What a context tells: the turn, its words heard so far, the calls made and what came back."""

    heard_text: str = ""
    """The words of the current turn."""
    final: bool = False
    """Whether the current turn's final words have arrived."""
    turn: int = 0
    calls: dict[int, _Issued] = field(default_factory=dict)
    protocol_errors: int = 0
    outputs: int = 0

    @property
    def heard(self) -> int:
        return len(self.heard_text.split())


def read_context(messages: Sequence[ChatMessage]) -> ContextView:
    """Read a rendered context in order (inputs and the model's own actions)."""
    view = ContextView()
    words: list[str] = []
    next_id = 1
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "assistant":
            view.outputs += 1
            if message.content.endswith(THINK_INTERRUPTED):
                continue  # cut short: no action was carried out
            try:
                parsed = parse_output(message.content, next_id)
            except ParseError:
                continue
            action = parsed.action
            if isinstance(action, ToolCallAction):
                view.calls[action.call_id] = _Issued(
                    action.call_id, action.name, dict(action.arguments), turn=view.turn
                )
                next_id = max(next_id, action.call_id + 1)
            elif isinstance(action, RemoveAction) and action.call_id in view.calls:
                view.calls[action.call_id].live = False
            continue
        for item in read_inputs(message.content):
            if isinstance(item, QueryUpdateInput):
                if view.final:  # the previous turn is over: this is the next one
                    view.turn += 1
                    view.final = False
                    words = []
                words.append(item.text)
                view.final = view.final or item.final
            elif isinstance(item, ToolResultInput):
                call = view.calls.get(item.call_id)
                if call is None:
                    raise TeacherError(f"result for unknown call {item.call_id}")
                call.has_result = True
                if item.error_type is not None:
                    call.error = f"{item.error_type}: {item.body}"
                else:
                    call.result = json.loads(item.body)
            elif isinstance(item, CancelInput):
                call = view.calls.get(item.call_id)
                if call is not None:
                    call.live = False
            else:
                view.protocol_errors += 1
    view.heard_text = " ".join(words)
    return view


class Teacher:
    """The responder for one trace: ``teacher(messages) -> output text``."""

    def __init__(self, task: TrainTask, seed: int) -> None:
        self.task = task
        self.seed = seed
        self._tools = task.make_toolset()

    def _norm(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Arguments as the runtime compares them (validated, defaults filled in)."""
        try:
            return self._tools[name].validate(arguments)
        except ToolError:
            return dict(arguments)

    # -- matching calls in the context to the script ----------------------------------------

    def _assign(self, view: ContextView, turn: int) -> dict[int, ScriptCall]:
        """Which script call of ``turn`` each id issued in it is (by name and any version)."""
        script = self._turn(turn)
        taken: dict[int, ScriptCall] = {}
        used: set[str] = set()
        results = self._results(view, taken)
        for call_id in sorted(c for c, issued in view.calls.items() if issued.turn == turn):
            issued = view.calls[call_id]
            for call in script.calls:
                if call.key in used or call.name != issued.name:
                    continue
                if not all(n in results for n in call.needs):
                    continue
                have = self._norm(call.name, issued.arguments)
                if any(have == self._norm(call.name, a) for a in call.all_args(results)):
                    taken[call_id] = call
                    used.add(call.key)
                    results = self._results(view, taken)
                    break
            else:
                raise TeacherError(f"call {call_id} ({issued.name}) matches no script call")
        return taken

    def _turn(self, index: int) -> TaskTurn:
        turns = self.task.turns
        if index >= len(turns):
            raise TeacherError(f"the context has turn {index + 1}; the task has {len(turns)}")
        return turns[index]

    @staticmethod
    def _results(view: ContextView, taken: dict[int, ScriptCall]) -> dict[str, Any]:
        return {
            call.key: view.calls[cid].result
            for cid, call in taken.items()
            if view.calls[cid].live and view.calls[cid].has_result and view.calls[cid].error is None
        }

    # -- the decision -----------------------------------------------------------------------

    def decide(self, messages: Sequence[ChatMessage]) -> tuple[str, Any]:
        """``(reasoning, action)`` for the context."""
        view = read_context(messages)
        if view.protocol_errors:
            raise TeacherError("the context holds a protocol error")
        failed = [c for c in view.calls.values() if c.live and c.error is not None]
        if failed:
            raise TeacherError(f"call {failed[0].call_id} failed: {failed[0].error}")
        script = self._turn(view.turn)
        taken = self._assign(view, view.turn)
        earlier: dict[int, ScriptCall] = {}
        for turn in range(view.turn):
            earlier.update(self._assign(view, turn))
        results = self._results(view, taken)
        heard = view.heard if not view.final else 10**9
        live = {cid: call for cid, call in taken.items() if view.calls[cid].live}
        rng = random.Random(f"{self.seed}|{view.outputs}")
        still = "" if view.final else " now"

        for cid, call in sorted(live.items()):  # 1. taken back
            if call.removed_at is not None and heard >= call.removed_at:
                think = rng.choice(
                    [
                        f"The user took back {call.why}; remove call {cid}.",
                        f"Call {cid} is not wanted now.",
                    ]
                )
                return think, RemoveAction(cid)
        for cid, call in sorted(live.items()):  # 2. changed by later words
            if not all(n in results for n in call.needs):
                continue
            wanted = call.args_at(heard, results)
            if self._norm(call.name, wanted) != self._norm(call.name, view.calls[cid].arguments):
                think = rng.choice(
                    [f"The new words change call {cid}; same id.", f"Revise call {cid}."]
                )
                return think, ToolCallAction(cid, call.name, wanted)
        issued_keys = {call.key for call in taken.values()}
        next_id = max(view.calls, default=0) + 1
        for call in script.calls:  # 3. the next call that is known
            if call.key in issued_keys or heard < call.known_at:
                continue
            if call.removed_at is not None and heard >= call.removed_at:
                continue
            if not all(n in results for n in call.needs):
                continue
            args = call.args_at(heard, results)
            think = rng.choice(
                [f"Known: {call.why}. Call {call.name}{still}.", f"Look up {call.why}{still}."]
            )
            if call.needs or self._tools[call.name].effect.changes_state:
                think = f"Known: {call.why}. Call {call.name}{still}."
            return think, ToolCallAction(next_id, call.name, args)
        pending = sorted(cid for cid in live if not view.calls[cid].has_result)
        if not view.final:  # 4. wait
            think = rng.choice(["Wait for more words.", "Nothing to call yet."])
            if pending:
                think = f"Call {pending[0]} is running; wait."
            return think, PauseAction()
        if pending:
            ids = ", ".join(str(p) for p in pending)
            think = f"Wait for call {ids}."
            return think, PauseAction()
        missing = [c.key for c in script.calls if c.gold and c.key not in results]
        if missing:
            raise TeacherError(f"the request is over but calls {missing} never ran")
        think = rng.choice(["All results are in.", "Done; answer."])
        everything = {**self._results(view, earlier), **results}
        return think, AnswerAction(script.answer(everything))

    def __call__(self, messages: Sequence[ChatMessage]) -> str:
        think, action = self.decide(messages)
        return render_action(action, think)
