"""What a model's output means once read: one action, the reasoning before it, the liberties taken.

These dataclasses are the protocol's vocabulary on the output side. They live apart from the
text syntax so the agent, the training generator and the tests can build and match actions
without touching the parser (``parse.py``) or the renderer (``render.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecagentError

__all__ = [
    "Action",
    "AnswerAction",
    "ParseError",
    "ParsedOutput",
    "PauseAction",
    "RemoveAction",
    "ToolCallAction",
]


@dataclass(frozen=True)
class ToolCallAction:
    call_id: int
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    depends: tuple[int, ...] = ()


@dataclass(frozen=True)
class RemoveAction:
    call_id: int


@dataclass(frozen=True)
class PauseAction:
    pass


@dataclass(frozen=True)
class AnswerAction:
    text: str


Action = ToolCallAction | RemoveAction | PauseAction | AnswerAction


@dataclass(frozen=True)
class ParsedOutput:
    """One generation read as ``think`` + one ``action``.

    ``tolerated`` names each liberty the parser took (for protocol-validity metrics: a
    strictly valid turn has none).
    """

    think: str
    action: Action
    tolerated: tuple[str, ...] = ()


class ParseError(SpecagentError, ValueError):
    """Model output that holds no readable action. ``raw`` is the text that was read."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.message = message
        self.raw = raw
