r"""When could a listener first write the right call? A bound on what speculation can gain.

A speculator hears the request as it is spoken. It can run the right call before the user
stops only if every argument value of that call has been said before the final words. This
script replays each BFCL single-turn request as the bench speaks it (150 words a minute,
chunks of 3 words) and, for each call of the benchmark's own answer, finds the first chunk
after which all its values have been heard, by the same rule the runtime uses to refuse
guessed values (:func:`specagent.grounding.ungrounded_values`). Each call falls in one of
three classes:

* ``before_final``: the call could be complete before the final words (with the head start
  in seconds);
* ``at_final``: the last value comes with the final words: no policy that waits for a value
  to be said can finish the call before the user stops;
* ``never_said``: some value is never said as such (the model must work it out, e.g. a
  formula written differently), so it cannot be checked against the words.

    .venv/bin/python benchmarks/final_words.py --out docs/final-words.json \
        --dataset bfcl-simple --dataset bfcl-multiple --dataset bfcl-parallel \
        --dataset bfcl-parallel-multiple --dataset bfcl-live-multiple
    .venv/bin/python benchmarks/final_words.py --dataset assistant --out docs/final-words-assistant.json

For the ``assistant`` suite (both splits; ``--split`` narrows it) every ground-truth call of
every turn is classified against that turn's speech, with two differences that follow from
its tools: a value may also come from an earlier call's result (an e-mail address, a flight
number), which counts as known once that earlier call could start (tool latency ignored, so
this is an upper bound on the head start); and values are matched by meaning where the tools
read them by meaning (see :mod:`assistant_heard`): "on Friday" gives the date 2026-06-05,
"at seven" the time 19:00. Free text the model composes (a message's words, a title, a search
query) is not checked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from specagent.bench.datasets import UnknownDataset, load_dataset
from specagent.bench.datasets.bfcl.single_turn import BfclSingleTurnEnv, first_choice_calls
from specagent.grounding import ungrounded_values
from specagent.speech.simulator import simulate_speech


def classify(question: str, arguments: dict[str, Any], wpm: float, chunk: int) -> dict[str, Any]:
    """The class of one call of a request and, if it is complete early, its head start."""
    speech = simulate_speech(question, words_per_minute=wpm, chunk_words=chunk)
    heard = ""
    for piece in speech:
        heard = f"{heard} {piece.text}".strip()
        if not ungrounded_values(arguments, heard):
            if piece.final:
                return {"class": "at_final", "head_start_s": 0.0}
            return {"class": "before_final", "head_start_s": round(speech[-1].t - piece.t, 3)}
    return {"class": "never_said", "head_start_s": None}


def measure(dataset: str, limit: int | None, wpm: float, chunk_words: int) -> dict[str, Any]:
    """Every call of ``dataset``'s first ``limit`` requests, classified, with a summary."""
    rows = []
    for episode in load_dataset(dataset, limit=limit):
        env = episode.make_env()
        if not isinstance(env, BfclSingleTurnEnv):
            raise SystemExit(f"{dataset} is not a BFCL single-turn dataset")
        for index, (name, arguments) in enumerate(first_choice_calls(env.entry)):
            row = classify(env.entry.question, arguments, wpm, chunk_words)
            rows.append({"episode_id": episode.id, "call": index, "name": name, **row})
    counts = Counter(row["class"] for row in rows)
    early = [row["head_start_s"] for row in rows if row["class"] == "before_final"]
    summary = {
        "episodes": len({row["episode_id"] for row in rows}),
        "calls": len(rows),
        "classes": {
            name: counts.get(name, 0) for name in ("before_final", "at_final", "never_said")
        },
        "head_start_s_median": statistics.median(early) if early else None,
        "head_start_s_max": max(early) if early else None,
    }
    return {"summary": summary, "calls": rows}


def _assistant_module():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import assistant_heard  # benchmarks/assistant_heard.py

    return assistant_heard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", action="append", help="repeatable (default bfcl-simple)")
    parser.add_argument("--limit", type=int, default=None, help="first N episodes (default all)")
    parser.add_argument("--wpm", type=float, default=150.0)
    parser.add_argument("--chunk-words", type=int, default=3)
    parser.add_argument(
        "--split", default=None, help="assistant only: train or test (default both)"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    report: dict[str, Any] = {
        "settings": {
            "words_per_minute": args.wpm,
            "chunk_words": args.chunk_words,
            "limit": args.limit,
        },
        "datasets": {},
    }
    for dataset in args.dataset or ["bfcl-simple"]:
        try:
            if dataset == "assistant":
                result = _assistant_module().measure(args.split, args.wpm, args.chunk_words)
            else:
                result = measure(dataset, args.limit, args.wpm, args.chunk_words)
        except UnknownDataset as exc:
            raise SystemExit(str(exc)) from None
        report["datasets"][dataset] = result
        print(dataset, json.dumps(result["summary"]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
