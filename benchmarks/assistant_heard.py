"""When could a listener first write each ground-truth call of an assistant episode?

Used by ``benchmarks/final_words.py --dataset assistant`` and ``benchmarks/assistant_stats.py``.
Each turn is spoken as the bench speaks it (150 words a minute, chunks of 3 words by default).
A call is complete once each of its checked values is known:

* said: after the chunk whose words first give it, read by meaning as the tools read it ("on
  Friday" is 2026-06-05, "at seven" is 19:00 or 07:00, "Lena's" is Lena, "take the T" is
  transit); other strings by the runtime's own grounding rule
  (:func:`specagent.grounding.ungrounded_values`);
* read: in the result of an earlier ground-truth call, once that call could start (tool
  latency is ignored, so the head start is an upper bound); results of earlier turns are known
  from the start;
* composed: free text the model writes itself (a message, a title, a subject) is not checked,
  nor is an argument equal to the tool's default (a call may leave it out).

A call is ``before_final`` (with its head start in seconds), ``at_final`` or ``never_said``.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from typing import Any

from specagent.bench.datasets.assistant import seed
from specagent.bench.datasets.assistant.episodes import all_specs
from specagent.bench.datasets.assistant.ground_truth import play_ground_truth
from specagent.bench.datasets.assistant.normalize import (
    UnreadableValue,
    canonical_date,
    canonical_time,
    compact,
    normal_text,
    times_in,
)
from specagent.bench.datasets.assistant.split import split_of
from specagent.bench.datasets.assistant.tools import assistant_tools
from specagent.bench.datasets.assistant.world import World
from specagent.grounding import ungrounded_values
from specagent.speech.simulator import simulate_speech

__all__ = ["classify_episode", "measure"]

COMPOSED = frozenset({"text", "body", "subject", "title", "label"})
_WEEKDAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MODES = {
    "driving": ("drive", "driving", "car"),
    "walking": ("walk", "walking"),
    "transit": ("transit", "the t", "bus", "subway", "train"),
    "cycling": ("bike", "cycle", "cycling", "biking", "ride"),
}


def _dates(heard: str) -> set[str]:
    text = normal_text(heard)
    found = set()
    for match in re.finditer(rf"\b(today|tomorrow|tonight|(?:next )?{_WEEKDAY}|june \d{{1,2}})\b", text):
        try:
            found.add(canonical_date(match.group(1)))
        except UnreadableValue:
            pass
    return found


def _times(heard: str) -> set[str]:
    found = set(times_in(heard))
    text = normal_text(heard)
    for match in re.finditer(r"\b(?:at|for|to|till|by) ((?:half past )?[0-9:]+(?: (?:am|pm|30|15|45))?)", text):
        for mode in ({}, {"evening": True}, {"morning": True}):
            try:
                found.add(canonical_time(match.group(1), **mode))
            except UnreadableValue:
                pass
    if "noon" in text:
        found.add("12:00")
    if "afternoon" in text:
        found.add("12:00")
    if "morning" in text:
        found.update({"09:00", "12:00"})
    return found


def _number_said(value: float, heard: str) -> bool:
    text = normal_text(heard)
    if re.search(rf"(?<![\d.]){value:g}(?![\d])", text):
        return True
    return (value == 60 and "hour" in text) or (value == 30 and "half" in text)


def said(key: str, value: Any, heard: str) -> bool:
    """Whether ``heard`` gives ``value`` for argument ``key``, read as the tools read it."""
    if key == "date":
        return str(value) in _dates(heard)
    if key in ("time", "after", "before"):
        return str(value) in _times(heard)
    if isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        return _number_said(float(value), heard)
    text = normal_text(heard)
    if key == "mode":
        return any(re.search(rf"\b{w}\b", text) for w in _MODES.get(str(value), (str(value),)))
    if key in ("origin", "destination") and value in ("home", "work"):
        words = {"home": ("home", "my place", "my house"), "work": ("work", "office")}[value]
        return any(re.search(rf"\b{w}\b", text) for w in words)
    person = next((c for c in seed.CONTACTS if str(value) in (c.first, c.name, c.email, c.address)), None)
    if person is not None and re.search(rf"\b{person.first.lower()}\b", text):
        return True
    return not ungrounded_values({key: value}, heard)


_DEFAULTS = {
    (name, key): prop["default"]
    for name, tool in assistant_tools(World()).items()
    for key, prop in tool.parameters.get("properties", {}).items()
    if "default" in prop
}


def _in_results(value: Any, results: str) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return re.search(rf"(?<![\d.]){value:g}(?![\d])", results) is not None
    return len(compact(str(value))) >= 3 and compact(str(value)) in compact(results)


def classify_episode(spec, wpm: float = 150.0, chunk: int = 3) -> list[dict[str, Any]]:
    """One row per ground-truth call: its class and head start."""
    run = play_ground_truth(spec)
    rows = []
    earlier_results = ""  # results of earlier turns: known from the start of a turn
    for turn_index, (turn, results) in enumerate(zip(spec.turns, run.results, strict=True)):
        speech = simulate_speech(turn.text, words_per_minute=wpm, chunk_words=chunk)
        heard_at = [" ".join(p.text for p in speech[: k + 1]) for k in range(len(speech))]
        ready: list[int | None] = []
        for index, call in enumerate(turn.calls):
            known_at: list[int | None] = []
            for key, value in call.arguments.items():
                if key in COMPOSED or _DEFAULTS.get((call.name, key), object()) == value:
                    continue  # composed by the model, or the tool's own default
                heard = next((k for k, h in enumerate(heard_at) if said(key, value, h)), None)
                from_results = None
                if _in_results(value, earlier_results):
                    from_results = 0
                for j in range(index):
                    if ready[j] is not None and _in_results(value, json.dumps(results[j])):
                        from_results = ready[j] if from_results is None else min(from_results, ready[j])
                options = [k for k in (heard, from_results) if k is not None]
                known_at.append(min(options) if options else None)
            at = None if any(k is None for k in known_at) else max(known_at, default=0)
            ready.append(at)
            last = len(speech) - 1
            if at is None:
                row = {"class": "never_said", "head_start_s": None}
            elif at >= last:
                row = {"class": "at_final", "head_start_s": 0.0}
            else:
                row = {"class": "before_final", "head_start_s": round(speech[-1].t - speech[at].t, 3)}
            rows.append({"episode_id": spec.id, "turn": turn_index, "call": index, "name": call.name, **row})
        earlier_results += json.dumps(results)
    return rows


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(r["class"] for r in rows)
    early = [r["head_start_s"] for r in rows if r["class"] == "before_final"]
    return {
        "episodes": len({r["episode_id"] for r in rows}),
        "calls": len(rows),
        "classes": {c: counts.get(c, 0) for c in ("before_final", "at_final", "never_said")},
        "share_before_final": round(len(early) / len(rows), 4) if rows else None,
        "head_start_s_median": statistics.median(early) if early else None,
        "head_start_s_max": max(early) if early else None,
    }


def measure(split: str | None, wpm: float = 150.0, chunk_words: int = 3) -> dict[str, Any]:
    """Every ground-truth call of the suite (or one split), classified, with summaries."""
    specs = [s for s in all_specs() if split is None or split_of(s.id) == split]
    rows: list[dict[str, Any]] = []
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for spec in specs:
        episode_rows = classify_episode(spec, wpm, chunk_words)
        rows += episode_rows
        by_category[spec.category] += episode_rows
    return {
        "summary": {"split": split or "all", **_summary(rows)},
        "by_category": {c: _summary(r) for c, r in sorted(by_category.items())},
        "calls": rows,
    }
