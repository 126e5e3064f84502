"""Fork and spawn: the agent hands a long task to a sub-agent and keeps talking.

The main agent gets one more tool, ``start_task``. Calling it starts a sub-agent, a session
of its own on the same clock, and returns at once with the task's id, so the main agent can
answer the user while the sub-agent works. The sub-agent's context is built from the ledger:

* ``fork``: a copy of the main conversation's ledger, so it knows everything said so far;
* ``spawn``: a ledger holding only a brief, so it knows nothing but its task.

Either way the inherited part is closed as history (a ``SessionEnded`` marks where the
sub-agent's own turn begins) and the task is its request. When it answers, its report
arrives as a :class:`SubAgentReported` event; a sub-agent still running when the
conversation ends is cancelled (:class:`SubAgentCancelled`) with everything it started.

``start_task`` is IRREVERSIBLE: starting work is not undone, so under every policy it waits
for its commit point and is never started on a guess.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..agent import Policy, Session, SessionConfig
from ..clock import Clock
from ..events import Event, SessionEnded, UserSpeech
from ..executor import LatencyFn
from ..ledger import Ledger
from ..models.base import ModelBackend, ModelError
from ..tools import Effect, Tool, Toolset, tool
from .events import SubAgentCancelled, SubAgentReported, SubAgentStarted

__all__ = ["SPAWN_BRIEF", "TASK_TOOL", "SubAgents"]

TASK_TOOL = "start_task"
SPAWN_BRIEF = (
    "You are a background helper of a voice assistant. You do not see the conversation; "
    "do the task you are given with your tools and answer in one or two short sentences."
)


@dataclass
class _Task:
    task_id: int
    mode: str
    text: str
    ledger: Ledger
    runner: asyncio.Task[None] | None = None
    result: Any = None


@dataclass
class SubAgents:
    """Starts, tracks and ends the sub-agents of one voice conversation."""

    clock: Clock
    backend: ModelBackend
    toolset: Toolset
    policy: Policy
    parent: Ledger
    emit: Callable[[Event], None]
    config: SessionConfig | None = None
    latency: LatencyFn | None = None
    tasks: dict[int, _Task] = field(default_factory=dict)
    _group: asyncio.TaskGroup | None = None

    def bind(self, group: asyncio.TaskGroup) -> None:
        """Sub-agents run as tasks of ``group`` (the conversation's)."""
        self._group = group

    @property
    def running(self) -> int:
        return sum(1 for t in self.tasks.values() if t.runner is not None and not t.runner.done())

    def tool(self) -> Tool:
        @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0, name=TASK_TOOL)
        async def start_task(task: str, mode: Literal["fork", "spawn"] = "fork") -> dict[str, Any]:
            """Hand a long task to a background helper that reports back later, so you can answer the user now. mode 'fork': the helper knows this conversation; 'spawn': it knows only the task."""
            return {"task_id": self.start(task, mode), "status": "started", "mode": mode}

        return start_task

    def start(self, task: str, mode: str) -> int:
        if self._group is None:
            raise RuntimeError("SubAgents.bind(group) must be called before a task starts")
        if mode not in ("fork", "spawn"):
            raise ValueError(f"mode must be 'fork' or 'spawn', not {mode!r}")
        now = self.clock.now()
        task_id = len(self.tasks) + 1
        if mode == "fork":
            ledger = self.parent.fork()
        else:
            ledger = self.parent.spawn(SPAWN_BRIEF, t=now)
        if not len(ledger) or not isinstance(ledger.events[-1], SessionEnded):
            ledger.append(SessionEnded(t=now, reason=f"{mode}ed: the sub-agent's turn begins"))
        entry = _Task(task_id, mode, task, ledger)
        self.tasks[task_id] = entry
        self.emit(SubAgentStarted(t=now, task_id=task_id, mode=mode, task=task))
        entry.runner = self._group.create_task(self._run(entry), name=f"sub-agent-{task_id}")
        return task_id

    async def _run(self, entry: _Task) -> None:
        session = Session(
            self.backend,
            self.toolset,
            self.clock,
            self.policy,
            ledger=entry.ledger,
            latency=self.latency,
            config=self.config,
        )
        try:
            result = await session.run([UserSpeech(t=0.0, text=entry.text, final=True)])
        except asyncio.CancelledError:
            self.emit(SubAgentCancelled(t=self.clock.now(), task_id=entry.task_id))
            raise
        except ModelError as exc:
            self.emit(
                SubAgentReported(
                    t=self.clock.now(),
                    task_id=entry.task_id,
                    text=f"failed: {exc}",
                    ended="model_error",
                )
            )
            return
        entry.result = result
        text = result.answer or f"no answer ({result.ended})"
        self.emit(
            SubAgentReported(
                t=self.clock.now(), task_id=entry.task_id, text=text, ended=result.ended
            )
        )

    def cancel_all(self) -> None:
        for entry in self.tasks.values():
            if entry.runner is not None and not entry.runner.done():
                entry.runner.cancel()
