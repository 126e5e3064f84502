r"""How fast could ``verified`` be at best? A bound from ``sync``'s own runs.

``verified`` makes ``sync``'s choices; all a speculator can do is have some of them ready
when the user stops. This script takes each ``sync`` run of a committed ``results.json``
and removes from its latency what a perfect speculator could have done before the final
words, given when each value was said (``benchmarks/final_words.py``'s classification of
every ground-truth call, ``docs/final-words-assistant.json``):

* a read whose values were all said ``h`` seconds before the final words could have been
  running for ``h`` seconds: up to ``h`` of its tool wait is hidden;
* the same read's decode (writing it token by token) is replaced by a check at prompt speed:
  its decode time is hidden (a call whose last value comes with the final words still has
  to be written);
* a state-changing call hides nothing: ``verified`` never runs one early, and its drafts
  stop before a write's arguments;
* with ``--answer``, when every call of a turn was hidden entirely, the answer could have
  been drafted too, and its decode is hidden as well.

The time left is a lower bound on ``verified``'s latency under the same profile (ignoring
the checks' own cost), so ``sync / left`` is the best speedup any speculator could give on
these episodes. Calls are matched to ground-truth calls by tool name, in order, per turn;
a call with no ground-truth match (an extra call ``sync`` made) hides nothing.

    .venv/bin/python benchmarks/verified_bound.py \
        docs/bench/assistant-test-every5th-gpu-h100/results.json \
        --out docs/bench/assistant-test-every5th-gpu-h100/verified-bound.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from specagent.bench.phases import episode_phases
from specagent.profiles import ModelledProfile, get_profile

_FINAL_WORDS = Path("docs/final-words-assistant.json")


def _head_starts(path: Path) -> dict[tuple[str, int], list[tuple[str, float]]]:
    """(episode, turn) -> [(tool, head start s)] in ground-truth order (0 if at or after the
    final words)."""
    doc = json.loads(path.read_text())
    table: dict[tuple[str, int], list[tuple[str, float]]] = defaultdict(list)
    for row in doc["datasets"]["assistant"]["calls"]:
        head = float(row["head_start_s"]) if row["class"] == "before_final" else 0.0
        table[(row["episode_id"], int(row["turn"]))].append((row["name"], head))
    return table


def _turn_calls(timeline: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Per answered turn: each call sync ran, with its tool span and the decode of the
    generation that wrote it."""
    turns: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] | None = None
    started: dict[Any, float] = {}
    calls: dict[Any, dict[str, Any]] = {}
    last_generation: dict[str, Any] | None = None
    for row in timeline:
        kind = row.get("kind")
        if kind == "UserSpeech" and row.get("final"):
            current = []
            turns.append(current)
        elif kind == "ModelOutput":
            last_generation = row
        elif kind == "ToolCallIssued" and current is not None:
            call = {
                "name": row.get("tool"),
                "read": row.get("effect") == "read_only",
                "tool_s": 0.0,
                "written_by": last_generation,
            }
            calls[row.get("call")] = call
            current.append(call)
        elif kind == "ToolCallStarted":
            started[row.get("call")] = float(row["t"])
        elif kind in ("ToolCallFinished", "ToolCallFailed") and row.get("call") in calls:
            begun = started.pop(row.get("call"), None)
            if begun is not None:
                calls[row["call"]]["tool_s"] = float(row["t"]) - begun
    return turns


def episode_bound(
    outcome: dict[str, Any],
    heads: dict[tuple[str, int], list[tuple[str, float]]],
    decode_tps: float | None,
    with_answer: bool,
) -> float | None:
    """The lower bound on this episode's mean turn latency (``None``: sync never answered)."""
    phases = episode_phases(outcome, decode_tps)
    if phases is None or outcome.get("latency_s") is None or not decode_tps:
        return None
    turns = _turn_calls(outcome["timeline"])
    hidden_total = 0.0
    for index, calls in enumerate(turns):
        truth = list(heads.get((outcome["episode_id"], index), []))
        every_call_hidden = bool(calls)
        for call in calls:
            match = next((i for i, (name, _) in enumerate(truth) if name == call["name"]), None)
            if match is None:
                every_call_hidden = False
                continue
            _, head = truth.pop(match)
            if not call["read"]:  # verified never runs a write early nor drafts its arguments
                head = 0.0
            hidden_wait = min(call["tool_s"], head)
            every_call_hidden &= head > 0 and hidden_wait >= call["tool_s"]
            written = call["written_by"] or {}
            decode = int(written.get("tokens", 0)) / decode_tps if head > 0 else 0.0
            hidden_total += hidden_wait + decode
        if with_answer and every_call_hidden:
            hidden_total += phases.seconds["answer"]  # the mean turn's answer
    left = float(outcome["latency_s"]) - hidden_total / max(1, len(turns))
    return max(0.0, left)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--final-words", type=Path, default=_FINAL_WORDS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    doc = json.loads(args.results.read_text())
    profile = get_profile(doc["settings"]["profile"])
    if not isinstance(profile, ModelledProfile):
        print("needs a run under a modelled profile (decode rate known)", file=sys.stderr)
        return 2
    heads = _head_starts(args.final_words)
    sync = [o for o in doc["episodes"] if o["policy"] == "sync" and o.get("latency_s")]
    report: dict[str, Any] = {
        "source": str(args.results),
        "profile": profile.name,
        "episodes": len(sync),
        "sync_mean_latency_s": round(statistics.fmean(o["latency_s"] for o in sync), 4),
    }
    for label, with_answer in (("reads_and_calls", False), ("and_answer", True)):
        bounds = [episode_bound(o, heads, profile.decode_tps, with_answer) for o in sync]
        left = statistics.fmean(b for b in bounds if b is not None)
        report[label] = {
            "mean_latency_left_s": round(left, 4),
            "fraction_of_sync_left": round(left / report["sync_mean_latency_s"], 4),
            "best_speedup": round(report["sync_mean_latency_s"] / left, 3) if left else None,
        }
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
