"""Where a turn's latency goes: the time from the user's last word to the end of the answer,
split into phases.

A speedup figure says how much time a policy saved, not what is left. This module reads the
timeline of an :class:`~specagent.bench.outcome.EpisodeOutcome` (as stored in
``results.json``) and assigns every instant of each turn's latency window to one phase:

* ``prefill``: the model is generating but not decoding one token at a time: reading the
  prompt and new events, or checking a draft in one batch (``verified``, ``sync-draft``);
* ``decode``: the model writes tool calls (or thinks aloud) token by token;
* ``answer``: the model writes the answer (its whole generation, prompt included);
* ``tool wait``: no generation runs and at least one tool call does;
* ``other``: neither (the session waits on nothing the model or a tool does, e.g. between a
  result and the next generation's start).

Decode time is estimated as tokens / the profile's decode rate (only modelled profiles have
one; with ``measured`` the whole generation counts as ``decode``). A verified actor's kept
draft tokens are charged at prompt speed, so there the estimate puts part of the check in
``decode``: read the column as "time the model spent writing calls".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PHASES", "PhaseTimes", "episode_phases", "mean_phases"]

PHASES = ("prefill", "decode", "answer", "tool wait", "other")


@dataclass(frozen=True)
class PhaseTimes:
    """Seconds of one turn's (or the mean turn's) latency in each phase."""

    seconds: Mapping[str, float]

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


@dataclass(frozen=True)
class _Span:
    start: float
    end: float
    phase: str


def _windows(timeline: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """(last word, answer complete) for each answered turn, in order."""
    windows: list[tuple[float, float]] = []
    last_word: float | None = None
    for row in timeline:
        kind = row.get("kind")
        if kind == "UserSpeech" and row.get("final"):
            last_word = float(row["t"])
        elif kind == "AnswerCompleted" and last_word is not None:
            windows.append((last_word, float(row["t"])))
            last_word = None
    return windows


def _generation_spans(
    timeline: Sequence[Mapping[str, Any]], decode_tps: float | None
) -> list[_Span]:
    spans: list[_Span] = []
    for row in timeline:
        if row.get("kind") != "ModelOutput":
            continue
        start, end = float(row.get("start", row["t"])), float(row["t"])
        if end <= start:
            continue
        if str(row.get("text", "")).lstrip().startswith("<answer>"):
            spans.append(_Span(start, end, "answer"))
            continue
        decode = end - start
        if decode_tps:
            decode = min(decode, int(row.get("tokens", 0)) / decode_tps)
        # prompt first, then the tokens: the generation's last `decode` seconds decode
        spans.append(_Span(start, end - decode, "prefill"))
        spans.append(_Span(end - decode, end, "decode"))
    return spans


def _tool_spans(timeline: Sequence[Mapping[str, Any]]) -> list[_Span]:
    started: dict[Any, float] = {}
    spans: list[_Span] = []
    for row in timeline:
        kind = row.get("kind")
        if kind == "ToolCallStarted":
            started[row.get("call")] = float(row["t"])
        elif kind in ("ToolCallFinished", "ToolCallFailed", "ToolCallCancelled"):
            begun = started.pop(row.get("call"), None)
            if begun is not None:
                spans.append(_Span(begun, float(row["t"]), "tool wait"))
    return spans


def _overlap(a: float, b: float, c: float, d: float) -> float:
    return max(0.0, min(b, d) - max(a, c))


def _turn_phases(
    window: tuple[float, float], generation: Sequence[_Span], tools: Sequence[_Span]
) -> dict[str, float]:
    lo, hi = window
    seconds = dict.fromkeys(PHASES, 0.0)
    # cut the window at every span edge; each piece belongs to the first phase covering it
    edges = sorted({lo, hi, *(x for s in (*generation, *tools) for x in (s.start, s.end))})
    edges = [e for e in edges if lo <= e <= hi]
    for a, b in zip(edges, edges[1:], strict=False):
        mid = (a + b) / 2
        phase = next((s.phase for s in generation if s.start <= mid < s.end), None)
        if phase is None:
            phase = "tool wait" if any(s.start <= mid < s.end for s in tools) else "other"
        seconds[phase] += b - a
    return seconds


def episode_phases(outcome: Mapping[str, Any], decode_tps: float | None) -> PhaseTimes | None:
    """The mean answered turn of one episode, by phase (``None`` if no turn was answered)."""
    timeline = outcome.get("timeline") or []
    windows = _windows(timeline)
    if not windows:
        return None
    generation, tools = _generation_spans(timeline, decode_tps), _tool_spans(timeline)
    turns = [_turn_phases(w, generation, tools) for w in windows]
    return PhaseTimes({p: sum(t[p] for t in turns) / len(turns) for p in PHASES})


def mean_phases(
    outcomes: Iterable[Mapping[str, Any]], decode_tps: float | None
) -> PhaseTimes | None:
    """The mean over episodes of :func:`episode_phases` (episodes with no answer left out)."""
    each = [p for o in outcomes if (p := episode_phases(o, decode_tps)) is not None]
    if not each:
        return None
    return PhaseTimes({p: sum(e.seconds[p] for e in each) / len(each) for p in PHASES})
