"""Well-known chess openings used to start benchmark games from different positions.

Stockfish limited by nodes is deterministic, so every game from the same position would be
the same game. Each benchmark game therefore starts after a different standard opening line
(written in SAN; checked legal by the tests), and the engines play on from there.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OPENINGS", "Opening"]


@dataclass(frozen=True)
class Opening:
    name: str
    san: str

    def moves(self) -> list[str]:
        return self.san.split()


OPENINGS: tuple[Opening, ...] = (
    Opening("Ruy Lopez", "e4 e5 Nf3 Nc6 Bb5"),
    Opening("Italian Game", "e4 e5 Nf3 Nc6 Bc4"),
    Opening("Sicilian Najdorf", "e4 c5 Nf3 d6 d4 cxd4 Nxd4 Nf6 Nc3 a6"),
    Opening("French Defence", "e4 e6 d4 d5"),
    Opening("Caro-Kann Defence", "e4 c6 d4 d5"),
    Opening("Queen's Gambit Declined", "d4 d5 c4 e6"),
    Opening("Slav Defence", "d4 d5 c4 c6"),
    Opening("King's Indian Defence", "d4 Nf6 c4 g6 Nc3 Bg7 e4 d6"),
    Opening("Nimzo-Indian Defence", "d4 Nf6 c4 e6 Nc3 Bb4"),
    Opening("English Opening", "c4 e5"),
    Opening("Reti Opening", "Nf3 d5 c4"),
    Opening("Scandinavian Defence", "e4 d5 exd5 Qxd5"),
    Opening("Pirc Defence", "e4 d6 d4 Nf6 Nc3 g6"),
    Opening("Dutch Defence", "d4 f5"),
    Opening("Gruenfeld Defence", "d4 Nf6 c4 g6 Nc3 d5"),
    Opening("Scotch Game", "e4 e5 Nf3 Nc6 d4 exd4 Nxd4"),
    Opening("Petrov Defence", "e4 e5 Nf3 Nf6"),
    Opening("Alekhine Defence", "e4 Nf6"),
    Opening("London System", "d4 d5 Bf4"),
    Opening("Modern Benoni", "d4 Nf6 c4 c5 d5 e6"),
    Opening("King's Gambit", "e4 e5 f4"),
    Opening("Sicilian Dragon", "e4 c5 Nf3 d6 d4 cxd4 Nxd4 Nf6 Nc3 g6"),
    Opening("Queen's Indian Defence", "d4 Nf6 c4 e6 Nf3 b6"),
    Opening("Catalan Opening", "d4 Nf6 c4 e6 g3"),
)
