"""Play benchmark games: each opening sequentially, then speculatively per variant.

The sequential run of a game (``k = 0``) is both the time baseline and the lossless reference:
every speculative run of the same game must produce the identical move sequence. Figures are
aggregated over all games: hit rates over all plies, and time saved as
``1 - sum(T_spec) / sum(T_seq)`` (the mean of per-game savings is reported beside it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..clock import VirtualClock
from ..extras import require
from .accounting import RunResult, compare_runs, mean
from .chess_env import (
    ChessConfig,
    ChessConfigError,
    ChessEnvironment,
    ChessState,
    calibrate_nps,
    start_state,
)
from .engine import ActionSpeculator, SpeculationConfig
from .openings import OPENINGS, Opening
from .uci import EnginePool

chess = require("chess", extra="actions", feature="chess (speculative actions)")

__all__ = [
    "Accuracy",
    "ChessReport",
    "ChessVariant",
    "GameRecord",
    "VariantSummary",
    "play",
    "run_chess",
]


@dataclass(frozen=True)
class ChessVariant:
    k: int
    depth: int = 1
    engines: int | None = None
    """Simulated engine instances (None: one per concurrent search)."""

    def __post_init__(self) -> None:
        if self.k < 1 or self.depth < 1:
            raise ChessConfigError(
                f"a variant needs k >= 1 and depth >= 1 (got {self.k}, {self.depth})"
            )
        if self.engines is not None and self.engines < 2:
            raise ChessConfigError(f"engines must be >= 2 or None, got {self.engines}")

    @property
    def label(self) -> str:
        label = f"k={self.k}"
        if self.depth != 1:
            label += f" depth={self.depth}"
        if self.engines is not None:
            label += f" engines={self.engines}"
        return label


@dataclass
class VariantSummary:
    variant: ChessVariant
    games: int = 0
    plies: int = 0
    guessed_plies: int = 0
    hits_top1: int = 0
    hits_topk: int = 0
    prelaunched_hits: int = 0
    t_sequential_s: float = 0.0
    t_speculative_s: float = 0.0
    lossless_games: int = 0
    extra_calls: int = 0
    sequential_busy_s: float = 0.0
    extra_busy_s: float = 0.0
    speculator_nodes: int = 0
    per_game_saved: list[float] = field(default_factory=list)

    @property
    def hit_rate_top1(self) -> float:
        """Among plies whose guesses arrived before the Actor decided."""
        return self.hits_top1 / self.guessed_plies if self.guessed_plies else 0.0

    @property
    def hit_rate_topk(self) -> float:
        return self.hits_topk / self.guessed_plies if self.guessed_plies else 0.0

    @property
    def time_saved(self) -> float:
        if self.t_sequential_s <= 0:
            return 0.0
        return 1.0 - self.t_speculative_s / self.t_sequential_s

    @property
    def lossless(self) -> bool:
        return self.games > 0 and self.lossless_games == self.games

    def to_json(self) -> dict[str, Any]:
        return {
            "variant": dataclasses.asdict(self.variant),
            "label": self.variant.label,
            "games": self.games,
            "plies": self.plies,
            "guessed_in_time": self.guessed_plies / self.plies if self.plies else 0.0,
            "hit_rate_top1": self.hit_rate_top1,
            "hit_rate_topk": self.hit_rate_topk,
            "hits_top1": self.hits_top1,
            "hits_topk": self.hits_topk,
            "prelaunched_hits": self.prelaunched_hits,
            "commit_rate": self.prelaunched_hits / self.plies if self.plies else 0.0,
            "t_sequential_s": self.t_sequential_s,
            "t_speculative_s": self.t_speculative_s,
            "time_saved": self.time_saved,
            "time_saved_per_game_mean": mean(self.per_game_saved),
            "lossless_games": self.lossless_games,
            "lossless": self.lossless,
            "extra_calls": self.extra_calls,
            "extra_engine_s": self.extra_busy_s,
            "extra_compute_vs_sequential": (
                self.extra_busy_s / self.sequential_busy_s if self.sequential_busy_s else 0.0
            ),
            "speculator_nodes": self.speculator_nodes,
        }


@dataclass(frozen=True)
class GameRecord:
    opening: str
    moves: tuple[str, ...]
    result: str
    plies: int
    t_sequential_s: float
    time_saved: dict[str, float]
    lossless: dict[str, bool]


@dataclass
class Accuracy:
    """The Speculator's prediction accuracy on every position of the sequential games,
    independent of timing (the figure the paper reports as accuracy)."""

    k: int
    positions: int = 0
    top1: int = 0
    topk: int = 0

    def to_json(self) -> dict[str, Any]:
        n = self.positions or 1
        return {
            "k": self.k,
            "positions": self.positions,
            "top1": self.top1 / n,
            "topk": self.topk / n,
        }


@dataclass
class ChessReport:
    config: ChessConfig
    nps: float
    engine: str
    games: list[GameRecord] = field(default_factory=list)
    variants: list[VariantSummary] = field(default_factory=list)
    accuracy: list[Accuracy] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        cfg = dataclasses.asdict(self.config)
        cfg["timing"] = self.config.timing.value
        return {
            "config": cfg,
            "nps": self.nps,
            "engine": self.engine,
            "accuracy": [a.to_json() for a in self.accuracy],
            "variants": [v.to_json() for v in self.variants],
            "games": [dataclasses.asdict(g) for g in self.games],
        }


def play(
    pool: EnginePool,
    config: ChessConfig,
    state: ChessState,
    spec: SpeculationConfig,
    *,
    nps: float,
    engines: int | None = None,
    on_ply: Callable[[], None] | None = None,
) -> tuple[RunResult[str], ChessEnvironment]:
    """Play one game from ``state`` on a fresh virtual clock."""
    clock = VirtualClock()
    cfg = dataclasses.replace(config, engines=engines) if engines != config.engines else config

    async def main() -> tuple[RunResult[str], ChessEnvironment]:
        env = ChessEnvironment(pool, clock, cfg, nps=nps)
        hook = (lambda _step: on_ply()) if on_ply is not None else None
        result = await ActionSpeculator(env, clock, spec).run(state, on_step=hook)
        return result, env

    return clock.run(main())


def _result_of(state: ChessState) -> str:
    return state.board().result(claim_draw=True)


def run_chess(
    config: ChessConfig,
    variants: Sequence[ChessVariant],
    *,
    games: int,
    nps: float | None = None,
    stockfish: str | None = None,
    pool_size: int = 1,
    on_ply: Callable[[str], None] | None = None,
    openings: Sequence[Opening] = OPENINGS,
) -> ChessReport:
    """Play ``games`` openings sequentially and under every variant; compare."""
    if not 1 <= games <= len(openings):
        raise ValueError(f"games must be between 1 and {len(openings)}, got {games}")
    measured = nps if nps is not None else calibrate_nps(stockfish)
    with EnginePool(pool_size, path=stockfish) as pool:
        report = ChessReport(config=config, nps=measured, engine=pool.engine_name)
        summaries = [VariantSummary(v) for v in variants]
        accuracy = [Accuracy(k) for k in sorted({v.k for v in variants})]
        for opening in openings[:games]:
            state = start_state(opening)
            seq, _ = play(
                pool,
                config,
                state,
                SpeculationConfig(k=0),
                nps=measured,
                on_ply=_ticker(on_ply, "sequential"),
            )
            _measure_accuracy(pool, config, state, seq.actions, accuracy)
            saved: dict[str, float] = {}
            same: dict[str, bool] = {}
            for summary in summaries:
                v = summary.variant
                run, env = play(
                    pool,
                    config,
                    state,
                    SpeculationConfig(k=v.k, depth=v.depth),
                    nps=measured,
                    engines=v.engines,
                    on_ply=_ticker(on_ply, v.label),
                )
                cmp = compare_runs(seq, run)
                summary.games += 1
                summary.plies += len(run.steps)
                summary.guessed_plies += run.guessed_steps
                summary.hits_top1 += run.hits_top1
                summary.hits_topk += run.hits_topk
                summary.prelaunched_hits += run.prelaunched_hits
                summary.t_sequential_s += seq.elapsed_s
                summary.t_speculative_s += run.elapsed_s
                summary.lossless_games += cmp.lossless
                summary.extra_calls += cmp.extra_calls
                summary.sequential_busy_s += sum(c.duration_s for c in seq.calls)
                summary.extra_busy_s += cmp.extra_busy_s
                summary.speculator_nodes += env.tally.speculator
                summary.per_game_saved.append(cmp.time_saved)
                saved[v.label] = cmp.time_saved
                same[v.label] = cmp.lossless
            report.games.append(
                GameRecord(
                    opening=opening.name,
                    moves=seq.actions,
                    result=_result_of(seq.final_state),
                    plies=len(seq.steps),
                    t_sequential_s=seq.elapsed_s,
                    time_saved=saved,
                    lossless=same,
                )
            )
        report.variants = summaries
        report.accuracy = accuracy
    return report


def _measure_accuracy(
    pool: EnginePool,
    config: ChessConfig,
    state: ChessState,
    moves: Sequence[str],
    accuracy: Sequence[Accuracy],
) -> None:
    board = state.board()
    for move in moves:
        fen = board.fen()
        for acc in accuracy:
            guesses = pool.search_now(fen, nodes=config.speculator_nodes, multipv=acc.k).moves
            acc.positions += 1
            acc.top1 += guesses[0] == move
            acc.topk += move in guesses[: acc.k]
        board.push_uci(move)


def _ticker(on_ply: Callable[[str], None] | None, label: str) -> Callable[[], None] | None:
    if on_ply is None:
        return None
    return lambda: on_ply(label)


def san_line(state: ChessState, moves: Sequence[str]) -> str:
    """Moves in SAN from ``state`` (for display)."""
    board = state.board()
    out = []
    for uci in moves:
        move = chess.Move.from_uci(uci)
        out.append(board.san(move))
        board.push(move)
    return " ".join(out)
