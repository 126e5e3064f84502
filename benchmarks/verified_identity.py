"""How often the ``verified`` actor writes exactly what ``sync`` writes (docs/verified.md).

Plays held-out requests of the training split under ``sync`` and ``verified`` with the same
model on a modelled (deterministic) latency profile, and compares every model output.

    .venv/bin/python benchmarks/verified_identity.py --model smollm2-135m-async --limit 12 \
        --out docs/verified-identity.json
"""

from __future__ import annotations

import argparse
import json

from specagent.agent import Policy, session_for
from specagent.clock import VirtualClock
from specagent.envs.assistant import tool_latency
from specagent.events import ModelOutput
from specagent.profiles import get_profile
from specagent.speech import simulate_speech
from specagent.train.evaluate import held_out_tasks, load_eval_backend


def _first_difference(sync: list[str], verified: list[str]) -> dict | None:
    """Where the two runs first wrote different text: output index and both texts from the
    first differing character on (``None`` when identical)."""
    for index, (a, b) in enumerate(zip(sync, verified)):
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            return {"output": index, "sync": a[max(0, at - 30) : at + 30],
                    "verified": b[max(0, at - 30) : at + 30]}
    if len(sync) != len(verified):
        return {"output": min(len(sync), len(verified)), "sync": "", "verified": ""}
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-async")
    parser.add_argument("--profile", default="smollm2-135m-cpu2")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--out", help="write the rows and the summary to this JSON file")
    args = parser.parse_args()
    backend = load_eval_backend(args.model, VirtualClock())
    profile = get_profile(args.profile)

    def play(task, policy):
        clock = VirtualClock()
        backend.rebind(clock, profile)
        session = session_for(
            policy,
            backend,
            task.make_toolset(),
            clock,
            latency=tool_latency(0),
            speculator_latency=tool_latency(0),
        )
        return clock.run(session.run(simulate_speech(task.request)))

    rows = []
    for task in held_out_tasks(args.limit):
        sync, verified = play(task, Policy.SYNC), play(task, Policy.VERIFIED)
        outputs = [[e.text for e in r.ledger if isinstance(e, ModelOutput)] for r in (sync, verified)]
        rows.append(
            {
                "task": task.id,
                "identical": outputs[0] == outputs[1],
                "drafted_tokens": verified.speculation.drafted_tokens,
                "accepted_tokens": verified.speculation.accepted_tokens,
                "first_difference": _first_difference(*outputs),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    same = sum(r["identical"] for r in rows)
    summary = {"model": args.model, "profile": args.profile, "identical": same, "of": len(rows)}
    print(json.dumps(summary))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"summary": summary, "rows": rows}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
