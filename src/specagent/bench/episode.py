"""Episodes: the unit a benchmark is made of, whatever dataset it came from.

An :class:`Episode` is a scripted conversation (the user's turns), a factory for a fresh
:class:`EpisodeEnv` (the benchmark's real tools over their own state, with an effect class per
tool) and, through that environment, the benchmark's own checker. Dataset adapters
(:mod:`specagent.bench.datasets`) turn benchmark files into episodes; the runner plays them
through a policy and hands the transcript back to the environment to be checked.

Every run builds a new environment, so policies never share state.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..agent.records import ToolCallReport
from ..events import EndReason
from ..tools import Toolset

__all__ = [
    "Check",
    "Episode",
    "EpisodeEnv",
    "ScriptedUser",
    "TurnRecord",
    "UserSimulator",
    "committed_calls",
]


@dataclass(frozen=True)
class Check:
    """The benchmark checker's verdict on one run of an episode."""

    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class TurnRecord:
    """What happened in one user turn of a run: the words, the agent's calls and answer."""

    user: str
    answer: str | None
    ended: EndReason
    """How the turn's session ended (:data:`~specagent.events.EndReason`)."""
    calls: tuple[ToolCallReport, ...]
    latency_s: float | None
    """User's last word to answer complete; ``None`` when the turn had no answer."""


def committed_calls(turns: Sequence[TurnRecord]) -> list[ToolCallReport]:
    """The calls whose outcome stands (ran and committed), in issue order across turns.

    Cancelled, compensated and never-run calls are left out: this is what a checker that
    matches calls should compare with the ground truth.
    """
    out: list[ToolCallReport] = []
    for turn in turns:
        for call in turn.calls:
            if call.disposition == "committed" and call.status in ("done", "failed"):
                out.append(call)
    return out


class EpisodeEnv(abc.ABC):
    """One episode's live world: its tools (bound to fresh state) and its checker."""

    @property
    @abc.abstractmethod
    def toolset(self) -> Toolset:
        """The tools the agent may call, each with its effect class."""

    @abc.abstractmethod
    def check(self, turns: Sequence[TurnRecord]) -> Check:
        """Judge the run by the benchmark's own rules (state or call matching)."""

    def committed_state(self) -> Any:
        """A JSON-able picture of the world's state, to compare runs (default: none)."""
        return None

    def context(self) -> str:
        """Extra text for the system prompt (a domain policy, a user profile); default none."""
        return ""

    def unrequested_calls(self, turns: Sequence[TurnRecord]) -> int | None:
        """Committed state-changing calls the episode did not ask for (call after the run).

        ``None`` (the default) when the benchmark cannot tell which calls were asked for.
        """
        return None


class UserSimulator(Protocol):
    """Produces the user's turns; may react to the agent's answers."""

    def next_turn(self, previous_answer: str | None) -> str | None:
        """The next thing the user says, or ``None`` when the conversation is over.

        ``previous_answer`` is the agent's answer to the last turn (``None`` before the first
        turn or when the agent gave no answer).
        """
        ...


@dataclass
class ScriptedUser:
    """Says the episode's turns in order, whatever the agent answers."""

    turns: Sequence[str]
    _next: int = 0

    def next_turn(self, previous_answer: str | None) -> str | None:
        if self._next >= len(self.turns):
            return None
        turn = self.turns[self._next]
        self._next += 1
        return turn


@dataclass(frozen=True)
class Episode:
    """A conversation to play: user turns, a fresh environment per run, and its metadata."""

    id: str
    """Unique within the dataset, stable across versions (used as a results key)."""
    dataset: str
    turns: tuple[str, ...]
    make_env: Callable[[], EpisodeEnv] = field(repr=False, compare=False)
    split: str = "test"
    """``train`` or ``test``: training data (``specagent synth``) must never use ``test``."""
    tool_latency_s: Mapping[str, float] = field(default_factory=dict)
    """Per-tool latency overrides (seconds); other tools get the runner's default."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    make_user: Callable[[], UserSimulator] | None = field(default=None, repr=False, compare=False)
    """A user simulator; default: :class:`ScriptedUser` over ``turns``."""

    def user(self) -> UserSimulator:
        return self.make_user() if self.make_user is not None else ScriptedUser(self.turns)
