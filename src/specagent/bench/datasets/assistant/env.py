"""One run's live world: the twenty tools over a fresh :class:`~.world.World`, and its checker.

The environment also tells the model what any phone assistant knows (today's date), and counts the committed state changes the episode did not ask for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ....tools import Toolset
from ...episode import Check, EpisodeEnv, TurnRecord
from .checker import check_run, unrequested
from .spec import EpisodeSpec
from .tools import assistant_tools
from .world import World

__all__ = ["AssistantEnv", "CONTEXT"]

CONTEXT = (
    "Today is Monday, 2026-06-01. Make one tool call for each thing the user asks for, one at a "
    "time; an action the user asks for needs its own tool call, after any lookup it depends on. "
    "When every part of the request has its tool result, reply with <answer> using those "
    "results. Never call a tool for something the user did not ask for, and never make up a "
    "result."
)


class AssistantEnv(EpisodeEnv):
    def __init__(self, spec: EpisodeSpec) -> None:
        self.spec = spec
        self.world = World()
        self._toolset = assistant_tools(self.world)

    @property
    def toolset(self) -> Toolset:
        return self._toolset

    def context(self) -> str:
        return CONTEXT

    def check(self, turns: Sequence[TurnRecord]) -> Check:
        verdict = check_run(self.spec, self.world.log, [t.answer for t in turns])
        return Check(verdict.passed, verdict.detail)

    def unrequested_calls(self, turns: Sequence[TurnRecord]) -> int | None:
        return unrequested(self.world.log, self.spec.effects)

    def committed_state(self) -> Any:
        return {"log": list(self.world.log), "thermostat_c": self.world.thermostat_c}
