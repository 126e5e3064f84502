"""The episodes of a ToolTalk split: one per conversation, its user turns played in order."""

from __future__ import annotations

import functools

from ...episode import Episode
from .env import ToolTalkEnv
from .world import SPLITS, conversations

__all__ = ["load"]


def load(variant: str, split: str = "test") -> list[Episode]:
    """ToolTalk's conversations of one split, in file-name order."""
    if variant != "tooltalk":
        raise ValueError(f"unknown ToolTalk variant {variant!r}; the only one is 'tooltalk'")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for ToolTalk; choose train or test")
    episodes = []
    for conversation in conversations(split):
        turns = conversation.turns()
        if not turns:
            raise ValueError(f"ToolTalk {conversation.name} has no user turn to play")
        episodes.append(
            Episode(
                id=conversation.name,
                dataset="tooltalk",
                turns=tuple(turns),
                make_env=functools.partial(ToolTalkEnv, split, conversation.name),
                split=split,
                meta={
                    "conversation_id": conversation.data.get("conversation_id"),
                    "suites_used": list(conversation.data.get("suites_used", [])),
                    "timestamp": conversation.metadata.get("timestamp"),
                    "location": conversation.metadata.get("location"),
                    "logged_in": "session_token" in conversation.user,
                },
            )
        )
    return episodes
