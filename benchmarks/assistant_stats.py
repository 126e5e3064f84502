"""Statistics of the assistant benchmark: size, make-up, effect classes and head starts.

    .venv/bin/python benchmarks/assistant_stats.py --out docs/bench/assistant-stats.json

Everything is computed from the episode specs and their ground-truth calls played through the
real tools (no model runs): episodes per split, category and source; spoken and multi-turn
shares; calls per episode; tools and effect classes of the ground-truth calls; and, from
``assistant_heard``, when each call's values have all been said (the head-start table that
``final_words.py`` reports for BFCL).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import assistant_heard  # noqa: E402 - benchmarks/ is not a package

from specagent.bench.datasets.assistant.episodes import TEMPLATES, all_specs  # noqa: E402
from specagent.bench.datasets.assistant.split import split_of  # noqa: E402
from specagent.bench.datasets.assistant.tools import TOOL_EFFECTS, assistant_tools  # noqa: E402
from specagent.bench.datasets.assistant.world import World  # noqa: E402


def _part(specs: list) -> dict[str, Any]:
    calls = [len(s.calls) for s in specs]
    effects = Counter(TOOL_EFFECTS[c.name] for s in specs for c in s.calls)
    heard = {s.id: assistant_heard.classify_episode(s) for s in specs}
    first = Counter(rows[0]["class"] for rows in heard.values())
    return {
        "episodes": len(specs),
        "by_category": dict(sorted(Counter(s.category for s in specs).items())),
        "by_source": dict(Counter(s.source for s in specs)),
        "spoken": sum(s.spoken for s in specs),
        "spoken_share": round(sum(s.spoken for s in specs) / len(specs), 4),
        "with_self_correction": sum(bool(s.forbidden) for s in specs),
        "multi_turn": sum(s.multi_turn for s in specs),
        "multi_turn_share": round(sum(s.multi_turn for s in specs) / len(specs), 4),
        "turns_per_episode": dict(sorted(Counter(len(s.turns) for s in specs).items())),
        "calls_per_episode": dict(sorted(Counter(calls).items())),
        "calls_per_episode_mean": round(statistics.fmean(calls), 3),
        "calls": sum(calls),
        "calls_by_effect_class": dict(effects.most_common()),
        "calls_by_tool": dict(Counter(c.name for s in specs for c in s.calls).most_common()),
        "effects_asked": dict(Counter(w.kind for s in specs for w in s.effects).most_common()),
        "first_call_values": {
            "said_before_final_words": first.get("before_final", 0),
            "complete_only_with_final_words": first.get("at_final", 0),
            "never_said": first.get("never_said", 0),
        },
        "head_start": assistant_heard._summary([r for rows in heard.values() for r in rows]),
        "head_start_by_category": {
            cat: assistant_heard._summary(
                [r for s in specs if s.category == cat for r in heard[s.id]]
            )
            for cat in sorted({s.category for s in specs})
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    specs = list(all_specs())
    tools = assistant_tools(World())
    report = {
        "command": "python benchmarks/assistant_stats.py --out docs/bench/assistant-stats.json",
        "speech": {"words_per_minute": 150.0, "chunk_words": 3},
        "tools": {name: TOOL_EFFECTS[name] for name in tools},
        "templates": len(TEMPLATES),
        "all": _part(specs),
        "test": _part([s for s in specs if split_of(s.id) == "test"]),
        "train": _part([s for s in specs if split_of(s.id) == "train"]),
    }
    text = json.dumps(report, indent=1) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(json.dumps({k: report[k] for k in ("tools", "templates")}, indent=1))
    for part in ("all", "test"):
        p = report[part]
        print(part, json.dumps({k: p[k] for k in ("episodes", "by_category", "spoken_share",
                                                  "multi_turn_share", "calls_per_episode_mean",
                                                  "calls_by_effect_class", "head_start")}))


if __name__ == "__main__":
    main()
