"""Why assistant episodes failed: a tally of failure kinds from a bench ``results.json``.

    .venv/bin/python benchmarks/assistant_failures.py docs/bench/assistant-gate/results.json \
        --out docs/bench/assistant-gate/failures.json

Per policy and per category: accuracy, and for each failed run the kinds of fault it shows (a
run may show several): a requested action not done, an action nobody asked for, a
corrected-away value committed, an answer missing a fact, a turn not answered, a first call to
a tool the turn does not need, a call the tools rejected for its arguments' shape (unknown tool,
extra or missing argument, wrong type: what decoding constrained by the tools' JSON Schemas
would prevent), and a call rejected for its values.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from specagent.bench.datasets.assistant.episodes import all_specs

SHAPE = ("unknown_tool", "invalid_arguments")


def kinds(run: dict[str, Any], spec) -> set[str]:
    found = set()
    detail = run["check_detail"]
    if "missing " in detail:
        found.add("requested action not done")
    if "unrequested " in detail:
        found.add("unrequested action committed")
    if "corrected-away" in detail:
        found.add("corrected-away value committed")
    if "does not state" in detail:
        found.add("answer misses a fact")
    if "no answer" in detail:
        found.add("turn not answered")
    for index, turn in enumerate(run["turns"]):
        wanted = {c.name for c in spec.turns[index].calls} if index < len(spec.turns) else set()
        calls = turn["calls"]
        if calls and wanted and calls[0]["name"] not in wanted:
            found.add("first call to a tool the turn does not need")
        for call in calls:
            error = call.get("error") or ""
            if any(e in error for e in ("unknown tool", "invalid arguments")):
                found.add("call rejected for its shape (schema)")
            elif call.get("status") == "failed":
                found.add("call rejected for its values")
    return found


def tally(results: dict[str, Any]) -> dict[str, Any]:
    specs = {s.id: s for s in all_specs()}
    out: dict[str, Any] = {}
    by_policy: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in results["episodes"]:
        by_policy[run["policy"]].append(run)
    for policy, runs in by_policy.items():
        failed = [r for r in runs if not r["passed"]]
        faults = Counter(k for r in failed for k in kinds(r, specs[r["episode_id"]]))
        categories: dict[str, Counter] = defaultdict(Counter)
        for r in runs:
            spec = specs[r["episode_id"]]
            for tag in (spec.category, "spoken" if spec.spoken else "plain", "multi-turn" if spec.multi_turn else "one turn", spec.source):
                categories[tag]["episodes"] += 1
                categories[tag]["passed"] += int(r["passed"])
        missing, extra = Counter(), Counter()
        for r in failed:
            for part in r["check_detail"].split("; "):
                if part.startswith("missing "):
                    missing[part.split()[1]] += 1
                elif part.startswith("unrequested "):
                    extra[part.split()[1].split("(")[0]] += 1
        only_read = sum(
            1
            for r in failed
            if specs[r["episode_id"]].effects
            and (calls := [c for t in r["turns"] for c in t["calls"]])
            and all(c["effect"] == "read_only" for c in calls)
        )
        out[policy] = {
            "episodes": len(runs),
            "passed": len(runs) - len(failed),
            "failed": len(failed),
            "failed_runs_showing": dict(faults.most_common()),
            "asked_to_act_but_only_looked_up": only_read,
            "effects_missing_by_kind": dict(missing.most_common()),
            "effects_unrequested_by_kind": dict(extra.most_common()),
            "by_group": {
                tag: {**dict(c), "accuracy": round(c["passed"] / c["episodes"], 4)}
                for tag, c in sorted(categories.items())
            },
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    report = {"results": str(args.results), "policies": tally(json.loads(args.results.read_text()))}
    text = json.dumps(report, indent=1) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
