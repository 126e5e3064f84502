"""The built-in example requests as a dataset: the quickest suite, and the README's main job.

Four single-turn requests over the example assistant toolset (one tool per speculation
mechanism); the checker is :func:`~specagent.envs.assistant.check_example` on the committed
world. These are the project's own examples, not a published benchmark, so they are all
``test``; no training data comes from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...envs.assistant import EXAMPLE_REQUESTS, AssistantWorld, assistant_toolset, check_example
from ...tools import Toolset
from ..episode import Check, Episode, EpisodeEnv, TurnRecord

__all__ = ["load"]


class _AssistantEnv(EpisodeEnv):
    def __init__(self, example: str) -> None:
        self._example = example
        self._world = AssistantWorld()
        self._toolset = assistant_toolset(self._world)

    @property
    def toolset(self) -> Toolset:
        return self._toolset

    def check(self, turns: Sequence[TurnRecord]) -> Check:
        answered = all(t.answer is not None for t in turns)
        right = check_example(self._example, self._world)
        detail = "committed effects match the request" if right else "wrong committed effects"
        if not answered:
            detail += "; no answer"
        return Check(passed=right and answered, detail=detail)

    def committed_state(self) -> Any:
        return self._world.committed_state()


def load(variant: str, split: str = "test") -> list[Episode]:
    if variant != "examples":
        raise ValueError(f"unknown assistant variant {variant!r}")
    if split != "test":
        return []
    return [
        Episode(
            id=name,
            dataset="assistant",
            turns=(request,),
            make_env=lambda name=name: _AssistantEnv(name),
        )
        for name, request in EXAMPLE_REQUESTS.items()
    ]
