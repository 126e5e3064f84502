"""The project's own episode format: one JSON object per line, so users bring their own tasks.

Each line is validated by :class:`EpisodeLine` (schema in ``docs/bench.md``)::

    {"id": "weather-1",
     "turns": ["What's the weather in Paris?"],
     "tools": [{"name": "get_weather", "description": "...", "effect": "read_only",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                "returns": {"sky": "sunny"}}],
     "expected_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
     "answer_contains": ["sunny"],
     "split": "test"}

Tools come either inline (``tools``: a JSON schema and a fixed result each, for tasks whose
checker is call matching) or from Python (``env``: ``"package.module:factory"`` returning an
:class:`~specagent.bench.episode.EpisodeEnv` with real tools and its own checker, or a
:class:`~specagent.tools.Toolset` checked by ``expected_calls``). The default checker passes a
run when its committed calls equal ``expected_calls`` as a multiset (order-free, arguments
compared exactly) and every ``answer_contains`` string appears in the last answer.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pydantic

from ...errors import SpecagentError
from ...tools import Effect, Tool, Toolset
from ..episode import Check, Episode, EpisodeEnv, TurnRecord, committed_calls

__all__ = ["EpisodeFormatError", "EpisodeLine", "InlineTool", "load_file", "parse_lines"]


class EpisodeFormatError(SpecagentError, ValueError):
    """A line of an episode file is not a valid episode (the message names file and line)."""


class InlineTool(pydantic.BaseModel):
    """A tool written into an episode line: a JSON schema and a fixed result."""

    model_config = pydantic.ConfigDict(extra="forbid")

    name: str
    description: str = ""
    parameters: dict[str, Any] = pydantic.Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    effect: Literal["read_only", "idempotent", "irreversible"] = "read_only"
    returns: Any = None

    def to_tool(self) -> Tool:
        """A real :class:`~specagent.tools.Tool` that checks its arguments against the schema
        and returns the fixed result (raises if the schema is not a valid JSON Schema)."""
        result = self.returns

        async def fixed(**_: Any) -> Any:
            return result

        return Tool.from_json_schema(
            self.name, self.description, self.parameters, fixed, effect=Effect(self.effect)
        )


class ExpectedCall(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] = pydantic.Field(default_factory=dict)


class EpisodeLine(pydantic.BaseModel):
    """One episode as written in a ``.jsonl`` file."""

    model_config = pydantic.ConfigDict(extra="forbid")

    id: str
    turns: list[str] = pydantic.Field(min_length=1)
    tools: list[InlineTool] | None = None
    env: str | None = None
    expected_calls: list[ExpectedCall] | None = None
    answer_contains: list[str] = pydantic.Field(default_factory=list)
    split: Literal["train", "test"] = "test"
    tool_latency_s: dict[str, float] = pydantic.Field(default_factory=dict)
    context: str = ""

    @pydantic.model_validator(mode="after")
    def _one_tool_source(self) -> EpisodeLine:
        if (self.tools is None) == (self.env is None):
            raise ValueError("give exactly one of 'tools' (inline) or 'env' (module:factory)")
        if any(not t.strip() for t in self.turns):
            raise ValueError("turns must not be empty strings")
        return self


def _key(name: str, arguments: dict[str, Any]) -> str:
    return json.dumps([name, arguments], sort_keys=True)


class _CallMatchingEnv(EpisodeEnv):
    """Tools from the line; checked by matching committed calls against ``expected_calls``."""

    def __init__(self, line: EpisodeLine, toolset: Toolset) -> None:
        self._line = line
        self._toolset = toolset

    @property
    def toolset(self) -> Toolset:
        return self._toolset

    def context(self) -> str:
        return self._line.context

    def check(self, turns: Sequence[TurnRecord]) -> Check:
        problems: list[str] = []
        if self._line.expected_calls is not None:
            made = Counter(_key(c.name, dict(c.arguments)) for c in committed_calls(turns))
            wanted = Counter(_key(c.name, c.arguments) for c in self._line.expected_calls)
            if made != wanted:
                missing = list((wanted - made).elements())
                extra = list((made - wanted).elements())
                problems.append(f"calls differ: missing {missing}, unexpected {extra}")
        answer = turns[-1].answer if turns else None
        for needle in self._line.answer_contains:
            if answer is None or needle.lower() not in answer.lower():
                problems.append(f"answer lacks {needle!r}")
        return Check(passed=not problems, detail="; ".join(problems) or "as expected")


def _import_factory(path: str) -> Any:
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"env must look like 'package.module:factory', got {path!r}")
    return getattr(importlib.import_module(module_name), attr)


def _make_env(line: EpisodeLine) -> EpisodeEnv:
    if line.tools is not None:
        return _CallMatchingEnv(line, Toolset(t.to_tool() for t in line.tools))
    made = _import_factory(line.env or "")()
    if isinstance(made, EpisodeEnv):
        return made
    if isinstance(made, Toolset):
        return _CallMatchingEnv(line, made)
    raise TypeError(f"{line.env} returned {type(made).__name__}, not an EpisodeEnv or Toolset")


def parse_lines(lines: Sequence[str], *, source: str = "<lines>") -> list[Episode]:
    """Episodes from JSONL text lines (blank lines and ``#`` comments skipped)."""
    episodes: list[Episode] = []
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            line = EpisodeLine.model_validate_json(text)
        except pydantic.ValidationError as exc:
            raise EpisodeFormatError(f"{source}:{number}: {exc}") from None
        if line.id in seen:
            raise EpisodeFormatError(f"{source}:{number}: duplicate episode id {line.id!r}")
        seen.add(line.id)
        if line.env is not None:
            try:
                _import_factory(line.env)
            except (ImportError, AttributeError, ValueError) as exc:
                raise EpisodeFormatError(f"{source}:{number}: cannot load env: {exc}") from None
        for tool_spec in line.tools or []:
            try:
                tool_spec.to_tool()
            except Exception as exc:  # noqa: BLE001 - report any schema problem with its line
                raise EpisodeFormatError(f"{source}:{number}: tool {tool_spec.name}: {exc}") from None
        episodes.append(
            Episode(
                id=line.id,
                dataset=f"jsonl:{source}",
                turns=tuple(line.turns),
                make_env=lambda line=line: _make_env(line),
                split=line.split,
                tool_latency_s=dict(line.tool_latency_s),
            )
        )
    return episodes


def load_file(path: str | Path, *, split: str = "test") -> list[Episode]:
    """The episodes of ``split`` in a JSONL file."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"episode file not found: {file}")
    episodes = parse_lines(file.read_text(encoding="utf-8").splitlines(), source=str(path))
    return [e for e in episodes if e.split == split]
