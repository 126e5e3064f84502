"""Speculative actions in chess: hit rate and time saved over many games, lossless.

Each game starts after a different standard opening (``specagent.actions.openings``) and is
played by Stockfish against itself for ``--max-plies`` plies (or to mate / a claimable draw):

* Actor (both sides): Stockfish, ``--actor-nodes`` nodes, Threads=1, hash cleared before every
  search (deterministic: the same position gives the same move).
* Speculator: the same engine with ``--speculator-nodes`` nodes and MultiPV=k; its k lines are
  the guesses. A guess's follow-up is the opponent's Actor search on the guessed position.

Every game is played sequentially (the baseline and the lossless reference) and under each
variant below; a variant's move sequence must equal the sequential one in every game.

Timing: a search of n nodes is charged n / nps seconds on the virtual clock, with nps
measured here at start (``calibrate_nps``) unless ``--nps`` is given. Time saved is a ratio of
such times, so it does not depend on nps. Speculative searches that overlap each run on their
own engine instance (a core each) unless the variant caps instances: ``engines=2`` is this
2-core machine (the Actor on one core; the Speculator, then its follow-up, on the other).

Run (about an hour on 2 busy cores)::

    .venv/bin/python benchmarks/actions_chess.py --games 20 --out docs/actions/chess.json

The JSON holds the settings, the measured nps, per-variant figures and per-game records.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from specagent.actions.chess_env import ChessConfig, Timing
from specagent.actions.chess_match import ChessVariant, run_chess

VARIANTS = (
    ChessVariant(k=1),
    ChessVariant(k=2),
    ChessVariant(k=3),
    ChessVariant(k=1, engines=2),
    ChessVariant(k=3, depth=2),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", type=int, default=20)
    parser.add_argument("--actor-nodes", type=int, default=100_000)
    parser.add_argument("--speculator-nodes", type=int, default=5_000)
    parser.add_argument("--max-plies", type=int, default=60)
    parser.add_argument("--timing", choices=[t.value for t in Timing], default="nodes")
    parser.add_argument("--nps", type=float, default=None, help="skip calibration")
    parser.add_argument("--out", type=Path, default=Path("docs/actions/chess.json"))
    args = parser.parse_args(argv)

    config = ChessConfig(
        actor_nodes=args.actor_nodes,
        speculator_nodes=args.speculator_nodes,
        max_plies=args.max_plies,
        timing=Timing(args.timing),
    )
    started = time.perf_counter()
    done = {"plies": 0}

    def tick(label: str) -> None:
        done["plies"] += 1
        if done["plies"] % 200 == 0:
            print(
                f"  {done['plies']} plies played ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

    report = run_chess(config, VARIANTS, games=args.games, nps=args.nps, on_ply=tick)
    payload = {
        "benchmark": "speculative actions, chess",
        "command": "python benchmarks/actions_chess.py " + " ".join(argv or sys.argv[1:]),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "wall_s": time.perf_counter() - started,
        "timing_note": (
            "virtual time; a search of n nodes costs n/nps s, nps measured on this machine; "
            "overlapping searches run on separate engine instances unless engines caps them"
        ),
        **report.to_json(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    for v in report.variants:
        print(
            f"{v.variant.label:34s} top1 {v.hit_rate_top1:6.1%} topk {v.hit_rate_topk:6.1%} "
            f"saved {v.time_saved:6.1%} lossless {v.lossless_games}/{v.games}"
        )
    print(f"wrote {args.out} ({time.perf_counter() - started:.0f} s)")
    return 0 if all(v.lossless for v in report.variants) else 1


if __name__ == "__main__":
    sys.exit(main())
