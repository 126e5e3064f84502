"""Where the latency goes, per policy: a committed bench run's turns split into phases.

Reads a ``results.json`` written by ``specagent bench`` and prints, for each policy, the mean
turn latency split into prefill, decode, answer, tool wait and other (see
:mod:`specagent.bench.phases` for the rules), then writes the same as JSON::

    .venv/bin/python benchmarks/phases.py docs/bench/assistant-test32-gpu-h100/results.json \
        --out docs/bench/assistant-test32-gpu-h100/phases.json

Only episodes every listed policy answered are compared, so the rows cover the same turns.
``oracle`` is left out: it hears the whole request at the start of speech, so its timeline's
turn is work done while the user talks, not latency after the last word.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from specagent.bench.phases import PHASES, mean_phases
from specagent.profiles import ModelledProfile, get_profile

LEFT_OUT = {"oracle": "hears the request before it is spoken: no latency window to split"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results.json from specagent bench")
    parser.add_argument("--out", type=Path, help="write the breakdown here as JSON")
    args = parser.parse_args(argv)
    try:
        doc = json.loads(args.results.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"cannot read {args.results}: {error}", file=sys.stderr)
        return 2
    profile = get_profile(doc["settings"]["profile"])
    decode_tps = profile.decode_tps if isinstance(profile, ModelledProfile) else None
    by_policy: dict[str, dict[str, dict]] = defaultdict(dict)
    for outcome in doc["episodes"]:
        if outcome["policy"] in LEFT_OUT:
            continue
        if outcome.get("latency_s") is not None:
            key = f"{outcome['dataset']}/{outcome['episode_id']}"
            by_policy[outcome["policy"]][key] = outcome
    shared = set.intersection(*(set(v) for v in by_policy.values())) if by_policy else set()
    table: dict[str, dict[str, float]] = {}
    for policy, outcomes in by_policy.items():
        phases = mean_phases((outcomes[k] for k in sorted(shared)), decode_tps)
        if phases is not None:
            table[policy] = {p: round(s, 4) for p, s in phases.seconds.items()}
            table[policy]["total"] = round(phases.total, 4)
    width = max((len(p) for p in table), default=6)
    print(f"{'policy':<{width}}  " + "  ".join(f"{p:>9}" for p in (*PHASES, "total")))
    for policy, row in table.items():
        print(f"{policy:<{width}}  " + "  ".join(f"{row[p]:>8.3f}s" for p in (*PHASES, "total")))
    print(f"({len(shared)} episodes answered under every policy, profile {profile.name}; "
          f"left out: {', '.join(LEFT_OUT)})")
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "source": str(args.results),
                    "profile": profile.name,
                    "decode_tps": decode_tps,
                    "episodes": len(shared),
                    "mean_turn_seconds": table,
                    "left_out": LEFT_OUT,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
