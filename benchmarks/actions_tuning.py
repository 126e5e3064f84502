"""Lossy speculative tuning: time to converge after load shifts, against the Actor alone.

A simulated M/M/c queue (``specagent.actions.tuning``) sees its arrival rate jump at every
phase boundary (default 5 -> 12 -> 7 -> 15 jobs/s, 300 s each; service 1 job/s per server).
The slow Actor (30 s window, exact Erlang-C optimum, 15 s to decide) retunes the server count
back to back; in the speculative runs a fast Speculator (square-root staffing, beta 1.3, 0.5 s,
every 5 s, only changes of at least ``deadband`` servers) applies its guess at once and the
Actor's decision overwrites it (last write wins). Both modes see the same arrivals per seed.

Measured per shift: time until the cost of the setting in force is within 5 % of the optimum
(*time to converge*), time after which it stays there until the next shift (*settling*), and
the realised cost of the phase (servers plus waiting jobs, simulated) over the optimum's.

Two Speculator settings are run: ``responsive`` (15 s window, deadband 3) and ``cautious``
(20 s window, deadband 4).

Run::

    .venv/bin/python benchmarks/actions_tuning.py --seeds 20 --out docs/actions/tuning.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from specagent.actions.tuning import TuningConfig, run_tuning_study

SETTINGS = {
    "responsive": TuningConfig(),
    "cautious": TuningConfig(speculator_window_s=20.0, deadband=4),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("docs/actions/tuning.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = []
    for name, cfg in SETTINGS.items():
        base, spec, _runs = run_tuning_study(cfg, range(args.seeds))
        results.append(
            {
                "setting": name,
                "config": dataclasses.asdict(cfg),
                "actor_only": base.to_json(),
                "speculative": spec.to_json(),
            }
        )
        b, s = base.to_json(), spec.to_json()
        print(
            f"{name:10s} converge {b['mean_time_to_converge_s']:5.1f} s -> "
            f"{s['mean_time_to_converge_s']:5.1f} s; settle {b['mean_settling_s']:5.1f} s -> "
            f"{s['mean_settling_s']:5.1f} s; excess cost {b['mean_excess_cost']:6.1%} -> "
            f"{s['mean_excess_cost']:6.1%}"
        )
    payload = {
        "benchmark": "speculative actions, lossy tuning of a simulated M/M/c queue",
        "command": "python benchmarks/actions_tuning.py " + " ".join(argv or sys.argv[1:]),
        "seeds": args.seeds,
        "wall_s": time.perf_counter() - started,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
