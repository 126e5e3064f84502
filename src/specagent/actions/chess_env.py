"""Chess as an Actor/Speculator environment: Stockfish searching deep and shallow.

Both players' **Actor** is Stockfish searching ``actor_nodes`` nodes (slow, strong); the
**Speculator** is the same engine searching far fewer nodes with ``MultiPV = k``, whose
ranked lines are the top-*k* guesses of the Actor's move. A guess's follow-up is the
*opponent's* Actor search on the position after the guessed move: it starts while the mover
is still thinking and is kept only if the mover really plays that move. Playing a move
changes nothing outside the game (the state is a value), so every follow-up is read-only.

How a search is charged to the virtual clock (stated with every result):

* ``Timing.NODES`` (default, deterministic): a search of *n* nodes costs ``n / nps``
  seconds, with ``nps`` measured on this machine by :func:`calibrate_nps`. The simulated
  time is slept first (cancellable: a discarded branch stops paying at once); the real search
  then runs under ``clock.hold()``, so the move is always Stockfish's own.
* ``Timing.WALL``: the real search runs first under ``clock.hold()`` and its measured wall
  time is charged afterwards. Searches are serialised in real time (pool of one), so each
  measurement is uncontended.

Either way, simulated searches that overlap each run on their own engine instance (one core
each) unless ``engines`` caps the number of instances: ``engines=2`` models this 2-core
machine, where speculative searches queue for a free instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from ..clock import Clock
from ..errors import SpecagentError
from ..extras import require
from ..tools import Effect
from .environment import ActionEnvironment
from .openings import Opening
from .uci import EnginePool, SearchResult, UciEngine

chess = require("chess", extra="actions", feature="chess (speculative actions)")

__all__ = [
    "ChessConfig",
    "ChessConfigError",
    "ChessEnvironment",
    "ChessState",
    "NodeTally",
    "Timing",
    "calibrate_nps",
    "start_state",
]


class ChessConfigError(SpecagentError, ValueError):
    """A chess setting is out of range."""


class Timing(enum.Enum):
    NODES = "nodes"
    WALL = "wall"


@dataclass(frozen=True)
class ChessConfig:
    actor_nodes: int = 200_000
    speculator_nodes: int = 10_000
    max_plies: int = 60
    """Plies played after the opening (a game also ends at mate or a claimable draw)."""
    timing: Timing = Timing.NODES
    engines: int | None = None
    """Simulated engine instances (None: one per concurrent search)."""

    def __post_init__(self) -> None:
        if self.actor_nodes < 1 or self.speculator_nodes < 1:
            raise ChessConfigError("actor_nodes and speculator_nodes must be positive")
        if self.max_plies < 1:
            raise ChessConfigError(f"max_plies must be >= 1, got {self.max_plies}")
        if self.engines is not None and self.engines < 2:
            raise ChessConfigError(
                f"engines must be >= 2 (the Actor and the Speculator), got {self.engines}"
            )


@dataclass(frozen=True)
class ChessState:
    """A position: the opening's start position and the UCI moves played since."""

    start_fen: str
    moves: tuple[str, ...] = ()

    def board(self) -> chess.Board:
        board = chess.Board(self.start_fen)
        for move in self.moves:
            board.push_uci(move)
        return board


def start_state(opening: Opening) -> ChessState:
    """The position after ``opening`` (raises ``ValueError`` on an illegal line)."""
    board = chess.Board()
    for san in opening.moves():
        board.push_san(san)
    return ChessState(start_fen=board.fen())


@dataclass
class NodeTally:
    """Nodes really searched, by role (the compute bill in engine units)."""

    actor: int = 0
    speculator: int = 0
    searches: int = 0


class ChessEnvironment(ActionEnvironment[ChessState, str]):
    def __init__(
        self,
        pool: EnginePool,
        clock: Clock,
        config: ChessConfig,
        *,
        nps: float,
    ) -> None:
        if nps <= 0:
            raise ChessConfigError(f"nps must be positive, got {nps}")
        self.pool = pool
        self.clock = clock
        self.config = config
        self.nps = nps
        self.tally = NodeTally()
        self._instances: asyncio.Semaphore | None = (
            asyncio.Semaphore(config.engines) if config.engines else None
        )
        self._ends: dict[ChessState, bool] = {}

    # -- the game -------------------------------------------------------------------------

    def is_terminal(self, state: ChessState) -> bool:
        if len(state.moves) >= self.config.max_plies:
            return True
        if state not in self._ends:
            self._ends[state] = state.board().is_game_over(claim_draw=True)
        return self._ends[state]

    async def execute(
        self, state: ChessState, action: str, *, sandboxed: bool = False
    ) -> ChessState:
        board = state.board()
        try:
            move = chess.Move.from_uci(action)
        except ValueError as exc:
            raise ValueError(f"not a UCI move: {action!r}") from exc
        if move not in board.legal_moves:
            raise ValueError(f"illegal move {action} in {board.fen()}")
        return ChessState(state.start_fen, (*state.moves, action))

    def effect(self, state: ChessState, action: str) -> Effect:
        return Effect.READ_ONLY  # a position is a value: playing a move on a copy touches nothing

    # -- Actor and Speculator -------------------------------------------------------------

    async def act(self, state: ChessState) -> str:
        result = await self._search(state, self.config.actor_nodes, 1)
        self.tally.actor += result.nodes
        return result.best

    async def propose(self, state: ChessState, k: int) -> Sequence[str]:
        result = await self._search(state, self.config.speculator_nodes, k)
        self.tally.speculator += result.nodes
        return result.moves

    @contextlib.asynccontextmanager
    async def _instance(self) -> AsyncIterator[None]:
        if self._instances is None:
            yield
        else:
            async with self._instances:
                yield

    async def _search(self, state: ChessState, nodes: int, multipv: int) -> SearchResult:
        fen = state.board().fen()
        async with self._instance():
            if self.config.timing is Timing.NODES:
                await self.clock.sleep(nodes / self.nps)
                result = await self.pool.search(self.clock, fen, nodes=nodes, multipv=multipv)
                await self.clock.sleep(max(0, result.nodes - nodes) / self.nps)
            else:
                result = await self.pool.search(self.clock, fen, nodes=nodes, multipv=multipv)
                await self.clock.sleep(result.wall_s)
        self.tally.searches += 1
        return result


_CALIBRATION_FENS = (
    "r1bqkbnr/pppp1ppp/2n5/1B2p3/4P3/5N2/PPPP1PPP/RNBQK2R b KQkq - 3 3",
    "r2q1rk1/pp2bppp/2n1pn2/3p4/3P4/2NBPN2/PP3PPP/R2Q1RK1 w - - 0 10",
    "8/5pk1/6p1/3R4/5P2/6KP/r7/8 w - - 0 40",
)


def calibrate_nps(path: str | None = None, *, nodes: int = 300_000) -> float:
    """Measure Stockfish's single-thread speed here (nodes per second of wall time)."""
    engine = UciEngine(path)
    try:
        engine.search(_CALIBRATION_FENS[0], nodes=20_000)  # warm-up
        total_nodes, total_wall = 0, 0.0
        for fen in _CALIBRATION_FENS:
            result = engine.search(fen, nodes=nodes)
            total_nodes += result.nodes
            total_wall += result.wall_s
    finally:
        engine.close()
    return total_nodes / total_wall
