"""Latency and correctness of every policy on the example requests, with a real local model.

Each built-in example request (``specagent.envs.assistant.EXAMPLE_REQUESTS``) is spoken at 150
words a minute and run under each policy on the virtual clock with the ``measured`` profile:
the model really runs (llama.cpp, in process) and virtual time advances by exactly what each
token cost on this machine. Tool latency is uniform 0.5-1.0 s per call, the same for the same
call under every policy. Correctness is the example's checker on the committed world state.

Run::

    .venv/bin/python benchmarks/example_latency.py --out docs/example-latency.json

Writes the JSON (settings and every run) and prints a table. Takes about 10 minutes on
2 cores with the default 1.5B model.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

from specagent.agent import Policy, Session
from specagent.clock import VirtualClock
from specagent.envs.assistant import (
    EXAMPLE_REQUESTS,
    AssistantWorld,
    assistant_toolset,
    check_example,
    tool_latency,
)
from specagent.models.llamacpp import LlamaCppBackend
from specagent.models.registry import DEFAULT_MODEL
from specagent.speech import simulate_speech


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--policies", default="sync,async,speculative,oracle")
    parser.add_argument("--examples", default=",".join(EXAMPLE_REQUESTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    policies = [Policy.parse(p) for p in args.policies.split(",")]
    examples = args.examples.split(",")

    clock = VirtualClock()
    backend = LlamaCppBackend.from_registry(args.model, clock)
    runs = []
    total = len(policies) * len(examples)
    started = time.perf_counter()
    for example in examples:
        for policy in policies:
            clock = VirtualClock()
            backend.rebind(clock)
            world = AssistantWorld()
            session = Session(
                backend, assistant_toolset(world), clock, policy, latency=tool_latency(args.seed)
            )
            result = clock.run(session.run(simulate_speech(EXAMPLE_REQUESTS[example])))
            record = result.to_json()
            record.update(example=example, correct=check_example(example, world))
            runs.append(record)
            print(
                f"[{len(runs)}/{total}] {example:18s} {policy.value:12s} "
                f"latency={record['latency_s'] if record['latency_s'] is None else round(record['latency_s'], 2)} "
                f"correct={record['correct']} ended={record['ended']} "
                f"({time.perf_counter() - started:.0f} s elapsed)",
                flush=True,
            )

    print()
    print("latency over answered runs only; compare per example (see the JSON) where runs differ")
    print(f"{'policy':12s} {'mean latency':>13s} {'median':>8s} {'correct':>8s} {'run early':>10s}")
    summary = {}
    for policy in policies:
        mine = [r for r in runs if r["policy"] == policy.value]
        lat = [r["latency_s"] for r in mine if r["latency_s"] is not None]
        summary[policy.value] = {
            "mean_latency_s": statistics.mean(lat) if lat else None,
            "median_latency_s": statistics.median(lat) if lat else None,
            "answered": len(lat),
            "correct": sum(r["correct"] for r in mine),
            "runs": len(mine),
            "calls_run_early": sum(r["speculation"]["run_early"] for r in mine),
            "tokens": sum(r["tokens_generated"] for r in mine),
        }
        s = summary[policy.value]
        print(
            f"{policy.value:12s} {s['mean_latency_s'] or float('nan'):12.2f}s "
            f"{s['median_latency_s'] or float('nan'):7.2f}s {s['correct']:>4d}/{s['runs']:<3d} "
            f"{s['calls_run_early']:>10d}"
        )
    sync = summary.get("sync", {}).get("mean_latency_s")
    if sync:
        for s in summary.values():
            if s["mean_latency_s"]:
                s["speedup_vs_sync"] = sync / s["mean_latency_s"]
    if args.out:
        payload = {
            "settings": {
                "model": args.model,
                "profile": "measured",
                "clock": "virtual",
                "words_per_minute": 150,
                "chunk_words": 3,
                "tool_latency": "uniform 0.5-1.0 s per call",
                "seed": args.seed,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "command": " ".join(["python", *sys.argv]),
            },
            "summary": summary,
            "runs": runs,
        }
        args.out.write_text(json.dumps(payload, indent=2, default=str))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
