"""Train tasks from the project's JSONL episode format (``docs/bench.md``).

A line gives the user's words, inline tools (JSON schema + fixed result) and
``expected_calls``; it says nothing about *when* each call becomes known. The script is
derived from the words: a call is known from the first word at which every string value of
its arguments has been said (the runtime's own grounding test,
:func:`~specagent.grounding.ungrounded_values`), or at the last word if some value never is.
Only single-turn lines with inline tools and expected calls can be scripted; others are
skipped. Lines whose ``split`` is not the one asked for are left out, so a file's test lines
never reach training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..bench.datasets.jsonl import EpisodeFormatError, EpisodeLine
from ..grounding import ungrounded_values
from ..tools import Toolset
from .tasks import Results, ScriptCall, TrainTask

__all__ = ["jsonl_tasks", "known_at"]


def known_at(request: str, arguments: dict[str, Any]) -> int:
    """The first word count after which every string argument value has been said."""
    words = request.split()
    for n in range(1, len(words) + 1):
        if not ungrounded_values(arguments, " ".join(words[:n])):
            return n
    return len(words)


def _answer(names: list[tuple[str, str]]) -> Any:
    def answer(results: Results) -> str:
        parts = [f"{name}: {json.dumps(results[key], ensure_ascii=False)}" for key, name in names]
        return "Done. " + "; ".join(parts)

    return answer


def jsonl_tasks(path: str, split: str) -> list[TrainTask]:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"episode file not found: {file}")
    tasks: list[TrainTask] = []
    for number, raw in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            line = EpisodeLine.model_validate_json(text)
        except ValueError as exc:
            raise EpisodeFormatError(f"{path}:{number}: {exc}") from None
        if line.split != split or line.tools is None or not line.expected_calls:
            continue
        if len(line.turns) != 1:
            continue  # the per-turn gold of a multi-turn line is not known
        request = line.turns[0]
        calls = []
        for i, expected in enumerate(line.expected_calls):
            args = dict(expected.arguments)
            calls.append(
                ScriptCall(
                    f"c{i + 1}",
                    expected.name,
                    ((known_at(request, args), lambda _r, a=args: dict(a)),),
                    why=expected.name.replace("_", " "),
                )
            )
        specs = list(line.tools)
        tasks.append(
            TrainTask(
                id=f"jsonl-{line.id}",
                source=f"jsonl:{path}",
                split=line.split,
                request=request,
                calls=tuple(calls),
                make_toolset=lambda specs=specs: Toolset(s.to_tool() for s in specs),
                answer=_answer([(c.key, c.name) for c in calls]),
                family="jsonl",
            )
        )
    return tasks
