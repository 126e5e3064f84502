"""A minimal, deterministic UCI client for Stockfish, and an async pool around it.

Speculative actions are lossless only if the Actor gives the same move for the same position
wherever and whenever it runs. Stockfish does when a search is limited by nodes, uses one
thread and starts from a cleared hash table; :meth:`UciEngine.search` enforces all three
(``Threads 1``, ``ucinewgame`` before every search, ``go nodes N``).

The engine is a blocking subprocess driven from a worker thread: this module is the one place
the actions package wraps a blocking library in a thread. :class:`EnginePool` runs searches
under ``clock.hold()`` so that on a virtual clock no simulated time passes while the real
engine computes; what a search *costs* in simulated time is decided by the caller
(:mod:`specagent.actions.chess_env`).
"""

from __future__ import annotations

import asyncio
import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Self

from ..clock import Clock
from ..errors import SpecagentError

__all__ = ["EnginePool", "SearchResult", "UciEngine", "UciError", "find_stockfish"]

DEBIAN_STOCKFISH = "/usr/games/stockfish"


class UciError(SpecagentError, RuntimeError):
    """The engine is missing, failed to start, or answered something unexpected."""


def find_stockfish(path: str | None = None) -> str:
    """The Stockfish binary to use: ``path``, else Debian's, else one on ``PATH``."""
    for candidate in (path, DEBIAN_STOCKFISH, shutil.which("stockfish")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise UciError(
        f"Stockfish not found (looked at {path or DEBIAN_STOCKFISH} and PATH); "
        "install it with: apt-get install -y stockfish"
    )


@dataclass(frozen=True)
class SearchResult:
    """One finished search. ``moves`` are UCI moves, best first (one per MultiPV line)."""

    moves: tuple[str, ...]
    nodes: int
    depth: int
    wall_s: float

    @property
    def best(self) -> str:
        return self.moves[0]


class UciEngine:
    """One Stockfish process, used by one thread at a time."""

    def __init__(
        self, path: str | None = None, *, hash_mb: int = 16, timeout_s: float = 120.0
    ) -> None:
        self.path = find_stockfish(path)
        self.timeout_s = timeout_s
        try:
            self._proc = subprocess.Popen(
                [self.path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
            )
        except OSError as exc:
            raise UciError(f"cannot start {self.path}: {exc}") from exc
        assert self._proc.stdout is not None
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._proc.stdout, selectors.EVENT_READ)
        self._buffer = b""
        self._multipv = 1
        self.name = ""
        self._send("uci")
        for line in self._until("uciok"):
            if line.startswith("id name "):
                self.name = line[len("id name ") :]
        self._send("setoption name Threads value 1")
        self._send(f"setoption name Hash value {hash_mb}")
        self._send("setoption name MultiPV value 1")
        self._ready()

    def _send(self, command: str) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(command.encode() + b"\n")
        except (BrokenPipeError, OSError) as exc:
            raise UciError(f"{self.path} stopped accepting commands: {exc}") from exc

    def _lines(self) -> Iterator[str]:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout_s
        while True:
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not self._sel.select(left):
                    raise UciError(f"{self.path} did not answer within {self.timeout_s:.0f} s")
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise UciError(f"{self.path} exited (code {self._proc.poll()})")
                self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\n", 1)
            yield line.decode(errors="replace").strip()

    def _until(self, prefix: str) -> list[str]:
        out = []
        for line in self._lines():
            out.append(line)
            if line.startswith(prefix):
                return out
        raise AssertionError("unreachable")  # pragma: no cover

    def _ready(self) -> None:
        self._send("isready")
        self._until("readyok")

    def search(self, fen: str, *, nodes: int, multipv: int = 1) -> SearchResult:
        """Search ``fen`` for ``nodes`` nodes from a cleared hash; ``multipv`` ranked moves."""
        if nodes < 1 or multipv < 1:
            raise ValueError(f"nodes and multipv must be positive (got {nodes}, {multipv})")
        if multipv != self._multipv:
            self._send(f"setoption name MultiPV value {multipv}")
            self._multipv = multipv
        self._send("ucinewgame")  # clears the hash: each search starts from the same state
        self._ready()
        self._send(f"position fen {fen}")
        started = time.perf_counter()
        self._send(f"go nodes {nodes}")
        lines = self._until("bestmove")
        wall = time.perf_counter() - started
        ranked: dict[int, str] = {}
        searched, depth = 0, 0
        for line in lines:
            if not line.startswith("info ") or " pv " not in line:
                continue
            tokens = line.split()
            rank = int(_field(tokens, "multipv") or 1)
            ranked[rank] = tokens[tokens.index("pv") + 1]
            searched = max(searched, int(_field(tokens, "nodes") or 0))
            depth = max(depth, int(_field(tokens, "depth") or 0))
        best = lines[-1].split()[1]
        if best == "(none)":
            raise UciError(f"no legal move in position {fen!r}")
        moves = [ranked[i] for i in sorted(ranked)] or [best]
        if moves[0] != best:  # the reported best move leads the ranking
            moves = [best, *[m for m in moves if m != best]]
        return SearchResult(moves=tuple(moves[:multipv]), nodes=searched, depth=depth, wall_s=wall)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._send("quit")
                self._proc.wait(timeout=5)
            except (UciError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._sel.close()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()


def _field(tokens: list[str], name: str) -> str | None:
    try:
        return tokens[tokens.index(name) + 1]
    except (ValueError, IndexError):
        return None


class EnginePool:
    """Real Stockfish processes shared by concurrent searches.

    ``size`` bounds how many searches compute at the same real time. On a virtual clock the
    searches run under ``clock.hold()``, so their real duration costs no simulated time and
    the pool's size changes how long a benchmark takes, never its figures.
    """

    def __init__(self, size: int = 1, *, path: str | None = None, hash_mb: int = 16) -> None:
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self._engines = [UciEngine(path, hash_mb=hash_mb) for _ in range(size)]
        self._free: list[UciEngine] = list(self._engines)
        self._waiters: asyncio.Condition | None = None
        self._waiters_loop: asyncio.AbstractEventLoop | None = None
        self.searches = 0
        self.nodes = 0

    @property
    def engine_name(self) -> str:
        return self._engines[0].name

    def close(self) -> None:
        for engine in self._engines:
            engine.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def search_now(self, fen: str, *, nodes: int, multipv: int = 1) -> SearchResult:
        """A blocking search, outside any event loop (for offline measurements)."""
        if not self._free:
            raise UciError("search_now needs an idle pool (no asynchronous search running)")
        return self._free[0].search(fen, nodes=nodes, multipv=multipv)

    async def search(self, clock: Clock, fen: str, *, nodes: int, multipv: int = 1) -> SearchResult:
        """Run one search to completion, even if the caller is cancelled meanwhile (a search
        cannot be abandoned half-way without losing the engine's determinism)."""
        task = asyncio.ensure_future(self._search(clock, fen, nodes, multipv))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait([task])
            raise

    async def _search(self, clock: Clock, fen: str, nodes: int, multipv: int) -> SearchResult:
        loop = asyncio.get_running_loop()
        if self._waiters is None or self._waiters_loop is not loop:
            self._waiters, self._waiters_loop = asyncio.Condition(), loop
        with clock.hold():
            async with self._waiters:
                await self._waiters.wait_for(lambda: bool(self._free))
                engine = self._free.pop()
            try:
                result = await asyncio.to_thread(engine.search, fen, nodes=nodes, multipv=multipv)
            finally:
                async with self._waiters:
                    self._free.append(engine)
                    self._waiters.notify()
        self.searches += 1
        self.nodes += result.nodes
        return result
