"""The environment of one ToolTalk run: its APIs as tools over a fresh world, and its checker."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from ....sandbox import StateCell
from ....tools import Tool, Toolset
from ...episode import Check, EpisodeEnv, TurnRecord, committed_calls
from .apis import api_schemas, tooltalk_package
from .effects import TOOLTALK_EFFECTS
from .metrics import tooltalk_metrics
from .world import ToolTalkWorld, find_conversation

__all__ = ["ToolTalkEnv"]


class ToolTalkEnv(EpisodeEnv):
    """One run of a ToolTalk conversation: its APIs over fresh databases, ToolTalk's checker."""

    def __init__(self, split: str, name: str) -> None:
        self._conversation = find_conversation(split, name)
        self._cell: StateCell[ToolTalkWorld] = StateCell(self._conversation.fresh_world())
        classes = tooltalk_package().apis
        if set(classes) != set(TOOLTALK_EFFECTS):
            raise RuntimeError(
                "ToolTalk's APIs and the effect table disagree: "
                f"{sorted(set(classes) ^ set(TOOLTALK_EFFECTS))}"
            )
        tools = []
        for name_, cls in classes.items():
            spec = TOOLTALK_EFFECTS[name_]
            tools.append(
                Tool(
                    name=name_,
                    description=cls.description,  # type: ignore[attr-defined]
                    parameters=api_schemas()[name_],
                    fn=_tool_fn(self._cell, name_),
                    effect=spec.effect,
                    state=self._cell if spec.effect.changes_state else None,
                    sandboxable=spec.sandboxable,
                )
            )
        self._toolset = Toolset(tools)

    @property
    def toolset(self) -> Toolset:
        return self._toolset

    def context(self) -> str:
        meta = self._conversation.metadata
        return (
            "User data: "
            f"location {meta.get('location')}; "
            f"current time {meta.get('timestamp')}; "
            f"logged-in username {meta.get('username') or 'none (not logged in)'}."
        )

    def committed_state(self) -> Any:
        world = self._cell.real
        return copy.deepcopy({"databases": world.databases, "session_token": world.session_token})

    def check(self, turns: Sequence[TurnRecord]) -> Check:
        metrics = tooltalk_metrics(self._conversation, committed_calls(turns))
        return Check(metrics.success, metrics.describe())


def _tool_fn(cell: StateCell[ToolTalkWorld], name: str) -> Callable[..., Any]:
    async def call(**arguments: Any) -> Any:
        return cell.get().execute(name, arguments)

    call.__name__ = name
    return call
