"""The settings of a benchmark run: everything besides the episode and policy that decides a result.

They live apart from the code that plays episodes because the result store, the suite, the
reports and the CLI all need them (to compare runs, key stored results and print captions)
without playing anything. Equal settings mean comparable results (:meth:`BenchSettings.key`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..agent import SessionConfig
from ..models.registry import DEFAULT_MODEL
from ..profiles import get_profile

__all__ = ["BenchSettings"]


@dataclass(frozen=True)
class BenchSettings:
    """Everything that decides an episode run's result, besides the episode and policy.

    Two runs with equal settings are comparable (and a stored result may be reused).
    """

    model: str = DEFAULT_MODEL
    clock: str = "virtual"
    """``virtual`` (model time charged by ``profile``) or ``real`` (wall time)."""
    profile: str = "measured"
    seed: int = 0
    words_per_minute: float = 150.0
    chunk_words: int = 3
    speech: str = "plain"
    """``plain`` (the words as written) or ``naturalistic`` (fillers, pauses, corrections)."""
    tool_latency_s: tuple[float, float] = (0.5, 1.0)
    """Default tool latency, uniform in this range; episodes may override per tool."""
    max_turns: int = 12
    session: SessionConfig = field(default_factory=SessionConfig)
    mcp: tuple[str, ...] = ()
    """MCP servers whose tools every episode's agent gets too (``--mcp``; jsonl episodes)."""
    tool_effects: tuple[str, ...] = ()
    """``--tool-effect`` overrides for those servers' tools (``NAME=CLASS``)."""
    draft_model: str | None = None
    """A faster model: ``verified``'s speculator and ``sync-draft``'s drafter (``None``:
    ``verified`` guesses with the main model; ``sync-draft`` cannot run)."""
    draft_profile: str | None = None
    """The draft model's latency profile on the virtual clock (default: ``profile``)."""

    def __post_init__(self) -> None:
        if self.clock not in ("virtual", "real"):
            raise ValueError(f"unknown clock {self.clock!r}; choose virtual or real")
        if self.speech not in ("plain", "naturalistic"):
            raise ValueError(f"unknown speech mode {self.speech!r}; choose plain or naturalistic")
        low, high = self.tool_latency_s
        if not 0 <= low <= high:
            raise ValueError(f"tool latency range must satisfy 0 <= low <= high, got {low}, {high}")
        get_profile(self.profile)  # raises ValueError for an unknown profile
        if self.draft_profile is not None:
            get_profile(self.draft_profile)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("mcp", "tool_effects", "draft_model", "draft_profile"):
            if not data[name]:  # absent when unused: older keys stay valid
                del data[name]
        return data

    def key(self) -> str:
        """A short stable hash of the settings (results with equal keys are comparable)."""
        text = json.dumps(self.to_json(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
