"""Benchmark results on disk (SQLite), so a long run can stop and pick up where it left off.

Each finished episode run is written the moment it ends, keyed by the settings' hash, the
dataset, the episode and the policy. Running the same benchmark again with the same settings
skips what is already stored; changing a setting (model, seed, profile, ...) starts afresh in
the same file without mixing results.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from .runner import EpisodeOutcome, EpisodeRun

__all__ = ["ResultStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    settings_key TEXT NOT NULL,
    dataset TEXT NOT NULL,
    episode_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    outcome TEXT NOT NULL,
    crashed INTEGER NOT NULL,
    PRIMARY KEY (settings_key, dataset, episode_id, policy)
);
CREATE TABLE IF NOT EXISTS settings (
    settings_key TEXT PRIMARY KEY,
    settings TEXT NOT NULL
);
"""


class ResultStore:
    """Stored episode outcomes of one settings key."""

    def __init__(self, path: str | Path, settings_key: str, settings_json: dict) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.key = settings_key
        self._db = sqlite3.connect(self.path)
        self._db.executescript(_SCHEMA)
        self._db.execute(
            "INSERT OR IGNORE INTO settings VALUES (?, ?)",
            (settings_key, json.dumps(settings_json, sort_keys=True, default=str)),
        )
        self._db.commit()

    def done(self) -> set[EpisodeRun]:
        """Runs with a stored outcome; crashed runs are not done (they are tried again)."""
        rows = self._db.execute(
            "SELECT dataset, episode_id, policy FROM outcomes WHERE settings_key = ? "
            "AND crashed = 0",
            (self.key,),
        )
        return {EpisodeRun(*row) for row in rows}

    def save(self, outcome: EpisodeOutcome) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?)",
            (
                self.key,
                outcome.dataset,
                outcome.episode_id,
                outcome.policy,
                json.dumps(outcome.to_json(), default=str),
                int(outcome.error is not None),
            ),
        )
        self._db.commit()

    def load(self, runs: Iterable[EpisodeRun]) -> list[EpisodeOutcome]:
        """Stored outcomes of ``runs`` (in that order; runs not stored are skipped)."""
        out = []
        for run in runs:
            row = self._db.execute(
                "SELECT outcome FROM outcomes WHERE settings_key = ? AND dataset = ? "
                "AND episode_id = ? AND policy = ?",
                (self.key, run.dataset, run.episode_id, run.policy),
            ).fetchone()
            if row is not None:
                out.append(EpisodeOutcome.from_json(json.loads(row[0])))
        return out

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
