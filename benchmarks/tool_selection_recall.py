"""How often per-request tool selection hides a tool the request needs (assistant, train split).

    .venv/bin/python benchmarks/tool_selection_recall.py --k 3 4 8 \
        --out docs/bench/train-levers/toolsel-recall.json

For every turn of the ``assistant`` benchmark's train split, the selection
(:class:`specagent.agent.tool_selection.ToolSelector`, as ``SessionConfig.select_tools=K`` makes
it under ``sync``: the turn's whole request, earlier turns' words at half weight, and the tools
the ground truth called in earlier turns) is compared with the tools the turn's ground-truth
calls use. A turn whose needed tools are not all shown can only be right if the model calls a
tool it was not shown. No model runs; the test split is never read.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from specagent.agent.tool_selection import ToolSelector
from specagent.bench.datasets.assistant.episodes import all_specs
from specagent.bench.datasets.assistant.split import split_of
from specagent.bench.datasets.assistant.tools import assistant_tools
from specagent.bench.datasets.assistant.world import World


def recall(k: int) -> dict[str, Any]:
    selector = ToolSelector(assistant_tools(World()).schemas())
    turns = covered = shown_total = 0
    missed: Counter[str] = Counter()
    misses: list[dict[str, Any]] = []
    for spec in all_specs():
        if split_of(spec.id) != "train":
            continue
        earlier, called = "", []
        for index, turn in enumerate(spec.turns):
            chosen = selector.select(turn.text, called, k, earlier=earlier)
            needed = {c.name for c in turn.calls}
            turns += 1
            shown_total += len(chosen.shown)
            hidden = sorted(needed - set(chosen.shown))
            if hidden:
                missed.update(hidden)
                misses.append(
                    {"episode": spec.id, "turn": index, "text": turn.text, "hidden": hidden}
                )
            else:
                covered += 1
            earlier = f"{earlier} {turn.text}".strip()
            called += [c.name for c in turn.calls]
    return {
        "k": k,
        "turns": turns,
        "all_needed_shown": covered,
        "share": round(covered / turns, 4),
        "mean_tools_shown": round(shown_total / turns, 2),
        "of_tools": len(selector.names),
        "hidden_by_tool": dict(missed.most_common()),
        "misses": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[3, 4, 8])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = [recall(k) for k in args.k]
    for row in rows:
        print(
            f"k={row['k']}: {row['all_needed_shown']}/{row['turns']} train turns see every tool "
            f"they need ({row['share']:.1%}); {row['mean_tools_shown']} of {row['of_tools']} "
            f"tools shown on average; hidden: {row['hidden_by_tool']}"
        )
    if args.out:
        doc = {"split": "train", "command": "benchmarks/tool_selection_recall.py", "rows": rows}
        args.out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
