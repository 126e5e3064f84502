"""Chess with real Stockfish: determinism of the Actor, lossless speculative games.

Small searches and short games keep these quick; the 20-game figures live in
``benchmarks/actions_chess.py``. Timing is charged by nodes at a fixed rate here, so every
figure below is deterministic for a given Stockfish build.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from specagent.actions import ActionSpeculator, SpeculationConfig, compare_runs
from specagent.actions.chess_env import (
    ChessConfig,
    ChessConfigError,
    ChessEnvironment,
    ChessState,
    Timing,
    start_state,
)
from specagent.actions.chess_match import ChessVariant, play, run_chess
from specagent.actions.openings import OPENINGS
from specagent.actions.uci import EnginePool, UciEngine, UciError
from specagent.clock import VirtualClock

NPS = 1_000_000.0
SMALL = ChessConfig(actor_nodes=4_000, speculator_nodes=400, max_plies=14)


@pytest.fixture(scope="module")
def pool() -> EnginePool:
    with EnginePool(1) as p:
        yield p


def test_every_opening_is_legal_and_distinct() -> None:
    states = [start_state(o) for o in OPENINGS]
    assert len(OPENINGS) >= 20
    assert len({s.start_fen for s in states}) == len(OPENINGS)


def test_a_node_limited_search_is_the_same_in_any_engine_after_any_history() -> None:
    fen = start_state(OPENINGS[5]).start_fen
    a, b = UciEngine(), UciEngine()
    try:
        first = a.search(fen, nodes=20_000)
        b.search(start_state(OPENINGS[2]).start_fen, nodes=30_000, multipv=3)  # other history
        a.search(start_state(OPENINGS[9]).start_fen, nodes=10_000)
        again_a = a.search(fen, nodes=20_000)
        again_b = b.search(fen, nodes=20_000)
    finally:
        a.close()
        b.close()
    assert first.moves == again_a.moves == again_b.moves
    assert first.nodes == again_a.nodes == again_b.nodes


def test_multipv_gives_k_distinct_ranked_moves(pool: EnginePool) -> None:
    engine = UciEngine()
    try:
        result = engine.search(start_state(OPENINGS[0]).start_fen, nodes=5_000, multipv=3)
    finally:
        engine.close()
    assert len(result.moves) == 3 and len(set(result.moves)) == 3
    assert result.best == result.moves[0]


@pytest.mark.parametrize("opening", [OPENINGS[0], OPENINGS[7]], ids=lambda o: o.name)
def test_speculative_games_are_move_for_move_identical(pool: EnginePool, opening) -> None:
    state = start_state(opening)
    seq, _ = play(pool, SMALL, state, SpeculationConfig(k=0), nps=NPS)
    assert len(seq.steps) == SMALL.max_plies
    for k in (1, 2, 3):
        run, env = play(pool, SMALL, state, SpeculationConfig(k=k), nps=NPS)
        cmp = compare_runs(seq, run)
        assert cmp.lossless, f"k={k} diverged at ply {cmp.first_divergence}"
        assert run.actions == seq.actions
        assert 0 < run.hits_topk <= len(run.steps)
        assert run.hits_top1 <= run.hits_topk
        assert cmp.time_saved > 0
        assert env.tally.speculator > 0


def test_sequential_time_is_actor_nodes_over_rate(pool: EnginePool) -> None:
    seq, env = play(pool, SMALL, start_state(OPENINGS[1]), SpeculationConfig(k=0), nps=NPS)
    assert seq.elapsed_s == pytest.approx(env.tally.actor / NPS)
    assert env.tally.speculator == 0


def test_two_engine_instances_cap_concurrent_searches_and_stay_lossless(pool: EnginePool) -> None:
    state = start_state(OPENINGS[3])
    seq, _ = play(pool, SMALL, state, SpeculationConfig(k=0), nps=NPS)
    clock = VirtualClock()
    capped = dataclasses.replace(SMALL, engines=2)

    class Counting(ChessEnvironment):
        active = 0
        peak = 0

        async def _search(self, st: ChessState, nodes: int, multipv: int):  # type: ignore[override]
            async with self._instance():
                Counting.active += 1
                Counting.peak = max(Counting.peak, Counting.active)
                try:
                    await self.clock.sleep(nodes / self.nps)
                finally:
                    Counting.active -= 1
            return await self.pool.search(
                self.clock, st.board().fen(), nodes=nodes, multipv=multipv
            )

    async def main():
        env = Counting(pool, clock, capped, nps=NPS)
        return await ActionSpeculator(env, clock, SpeculationConfig(k=3)).run(state)

    run = clock.run(main())
    assert run.actions == seq.actions
    assert Counting.peak == 2


def test_wall_timing_is_lossless_too(pool: EnginePool) -> None:
    cfg = dataclasses.replace(SMALL, timing=Timing.WALL, max_plies=6)
    state = start_state(OPENINGS[4])
    seq, _ = play(pool, cfg, state, SpeculationConfig(k=0), nps=NPS)
    run, _ = play(pool, cfg, state, SpeculationConfig(k=2), nps=NPS)
    assert run.actions == seq.actions
    assert seq.elapsed_s > 0


def test_run_chess_aggregates_variants(pool: EnginePool) -> None:
    cfg = dataclasses.replace(SMALL, max_plies=8)
    ticks: list[str] = []
    report = run_chess(
        cfg, [ChessVariant(k=1), ChessVariant(k=2, depth=2)], games=2, nps=NPS, on_ply=ticks.append
    )
    assert [v.games for v in report.variants] == [2, 2]
    assert all(v.lossless for v in report.variants)
    assert report.variants[0].plies == sum(g.plies for g in report.games)
    assert ticks.count("sequential") == sum(g.plies for g in report.games)
    data = report.to_json()
    assert data["config"]["timing"] == "nodes" and len(data["games"]) == 2


def test_an_illegal_move_is_refused(pool: EnginePool) -> None:
    clock = VirtualClock()

    async def main() -> None:
        env = ChessEnvironment(pool, clock, SMALL, nps=NPS)
        with pytest.raises(ValueError, match="illegal move"):
            await env.execute(start_state(OPENINGS[0]), "e2e5")
        with pytest.raises(ValueError, match="not a UCI move"):
            await env.execute(start_state(OPENINGS[0]), "castle")

    clock.run(main())


def test_bad_settings_and_missing_engine_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from specagent.actions import uci

    with pytest.raises(ChessConfigError):
        ChessConfig(actor_nodes=0)
    with pytest.raises(ChessConfigError):
        ChessConfig(engines=1)
    with pytest.raises(ValueError, match="games must be"):
        run_chess(SMALL, [ChessVariant(k=1)], games=0, nps=NPS)
    monkeypatch.setattr(uci, "DEBIAN_STOCKFISH", "/nonexistent/stockfish")
    monkeypatch.setattr(uci.shutil, "which", lambda _name: None)
    with pytest.raises(UciError, match="apt-get install -y stockfish"):
        UciEngine("/also/missing")


def test_a_cancelled_search_finishes_before_its_engine_is_reused(pool: EnginePool) -> None:
    clock = VirtualClock()
    fen = start_state(OPENINGS[6]).start_fen

    async def main() -> tuple[str, str]:
        task = asyncio.ensure_future(pool.search(clock, fen, nodes=30_000))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait([task])
        after = await pool.search(clock, fen, nodes=30_000)
        fresh = await pool.search(clock, fen, nodes=30_000)
        return after.best, fresh.best

    after, fresh = clock.run(main())
    assert after == fresh
