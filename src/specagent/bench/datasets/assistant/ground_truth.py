"""Play an episode's ground-truth calls through the real tools, and write its expert answers.

Used by the tests (the checker must accept every episode's ground truth) and by the suite
statistics. Calls go through :meth:`~specagent.tools.Tool.validate` and the tool's own code on
a fresh world, exactly as the executor would run them, only without timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .spec import EpisodeSpec
from .tools import assistant_tools
from .world import World

__all__ = ["GroundTruthRun", "expert_answers", "play_ground_truth"]


@dataclass(frozen=True)
class GroundTruthRun:
    world: World
    results: tuple[tuple[Any, ...], ...]
    """Per turn, the result of each ground-truth call in order."""


def play_ground_truth(spec: EpisodeSpec, *, world: World | None = None) -> GroundTruthRun:
    """Run every ground-truth call of ``spec``; a call the tools refuse raises."""
    world = world if world is not None else World()
    tools = assistant_tools(world)

    async def run() -> tuple[tuple[Any, ...], ...]:
        per_turn = []
        for turn in spec.turns:
            results = []
            for call in turn.calls:
                tool = tools[call.name]
                results.append(await tool.call(tool.validate(call.arguments)))
            per_turn.append(tuple(results))
        return tuple(per_turn)

    return GroundTruthRun(world, asyncio.run(run()))


def expert_answers(spec: EpisodeSpec) -> list[str]:
    """One answer per turn that states each of the turn's facts plainly."""
    answers = []
    for turn in spec.turns:
        parts: Sequence[str] = [f"{f.label}: {f.canonical()}" for f in turn.facts]
        answers.append("Done. " + "; ".join(parts) if parts else "Done.")
    return answers
