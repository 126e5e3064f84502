"""Figures for docs/actions.md, drawn from the recorded benchmark results.

* ``chess.png``: per variant, the Speculator's top-k hit rate and the time saved (from
  ``docs/actions/chess.json``, written by ``benchmarks/actions_chess.py``).
* ``tuning.png``: the server count over one run (seed 0, default settings), Actor alone
  against lossy speculation, with the optimum for the true load (simulated here; fast).

Run::

    .venv/bin/python benchmarks/actions_plots.py --out docs/actions
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from specagent.actions.tuning import TuningConfig, optimal_servers, run_tuning


def _label(variant: dict[str, int | None]) -> str:
    label = f"k={variant['k']}"
    if variant.get("depth", 1) != 1:
        label += f"\ndepth {variant['depth']}"
    if variant.get("engines") is not None:
        label += f"\n{variant['engines']} engines"
    return label


def chess_figure(results: Path, out: Path) -> None:
    data = json.loads(results.read_text())
    variants = data["variants"]
    labels = [_label(v["variant"]) for v in variants]
    xs = range(len(labels))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.38
    ax.bar(
        [x - width / 2 for x in xs],
        [v["hit_rate_topk"] for v in variants],
        width,
        label="top-k hit rate (guessed in time)",
    )
    ax.bar(
        [x + width / 2 for x in xs], [v["time_saved"] for v in variants], width, label="time saved"
    )
    ax.axhline(0.195, color="grey", linestyle="--", linewidth=1)
    ax.text(len(labels) - 0.5, 0.2, "paper: 19.5 % saved", ha="right", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share")
    games = variants[0]["games"]
    ax.set_title(
        f"Chess, {games} games: Stockfish {data['config']['actor_nodes']:,} vs "
        f"{data['config']['speculator_nodes']:,} nodes; "
        + ("every game lossless" if all(v["lossless"] for v in variants) else "NOT lossless"),
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def tuning_figure(out: Path) -> None:
    cfg = TuningConfig()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for speculate, width, alpha in ((False, 3.0, 0.45), (True, 1.2, 1.0)):
        run = run_tuning(cfg, seed=0, speculate=speculate)
        t, c = [0.0], [optimal_servers(cfg.phases[0].arrival_rate, cfg)]
        for w in sorted(run.result.writes, key=lambda w: w.t_s):
            if w.t_s < cfg.horizon_s:
                t.append(w.t_s)
                c.append(w.action)
        t.append(cfg.horizon_s)
        c.append(c[-1])
        ax.step(
            t,
            c,
            where="post",
            linewidth=width,
            alpha=alpha,
            label="lossy speculation" if speculate else "Actor only",
        )
    bt, bc = [], []
    start = 0.0
    for phase in cfg.phases:
        best = optimal_servers(phase.arrival_rate, cfg)
        bt += [start, start + phase.duration_s]
        bc += [best, best]
        start += phase.duration_s
    ax.plot(bt, bc, color="black", linestyle=":", linewidth=1, label="optimum for the true load")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("servers")
    ax.set_title("Tuning an M/M/c queue through load shifts (seed 0)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/actions"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    chess_json = args.out / "chess.json"
    if chess_json.is_file():
        chess_figure(chess_json, args.out / "chess.png")
    else:
        print(f"{chess_json} missing: run benchmarks/actions_chess.py first", file=sys.stderr)
    tuning_figure(args.out / "tuning.png")
    print(f"wrote figures to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
