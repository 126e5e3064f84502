"""Benchmark results on disk (SQLite), so a long run can stop and pick up where it left off.

Each finished episode run is written the moment it ends, keyed by the settings' hash, the
code version, the dataset, the episode and the policy. Running the same benchmark again with
the same settings and the same code skips what is already stored; changing a setting (model,
seed, profile, ...) or any source file of the installed ``specagent`` package starts afresh in
the same file without mixing results: rows stored by other code are never reused.

The code version is a hash of the package's own ``.py`` files (:func:`code_version`), which
works the same in a git clone, a clone without git, and a ``pip install``. Every row records
the run that wrote it (when, by which command), so a report can say which rows it reused.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .outcome import EpisodeOutcome, EpisodeRun

__all__ = ["ResultStore", "ReusedRows", "code_version", "git_describe"]

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
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL,
    command TEXT NOT NULL,
    settings_key TEXT NOT NULL,
    code_version TEXT NOT NULL
);
"""


@functools.cache
def code_version() -> str:
    """A short hash of every ``.py`` file of the installed ``specagent`` package."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@functools.cache
def git_describe() -> str | None:
    """``git describe --always --dirty`` of the checkout the package lives in, if any."""
    root = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


@dataclass(frozen=True)
class ReusedRows:
    """Stored rows a run took instead of running them: how many, and which run wrote them."""

    count: int
    run_id: int | None
    started: str | None
    command: str | None


class ResultStore:
    """Stored episode outcomes of one settings key and one code version."""

    def __init__(
        self,
        path: str | Path,
        settings_key: str,
        settings_json: dict,
        *,
        code: str | None = None,
        command: str = "",
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.code = code if code is not None else code_version()
        self.key = f"{settings_key}@{self.code}"
        self._db = sqlite3.connect(self.path)
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outcomes)")}
        if "run_id" not in columns:  # a file written before runs were recorded
            self._db.execute("ALTER TABLE outcomes ADD COLUMN run_id INTEGER")
        self._db.execute(
            "INSERT OR IGNORE INTO settings VALUES (?, ?)",
            (self.key, json.dumps(settings_json, sort_keys=True, default=str)),
        )
        cursor = self._db.execute(
            "INSERT INTO runs (started, command, settings_key, code_version) VALUES (?, ?, ?, ?)",
            (
                _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                command,
                settings_key,
                self.code,
            ),
        )
        self.run_id = cursor.lastrowid
        self._db.commit()

    def done(self) -> set[EpisodeRun]:
        """Runs with a stored outcome; crashed runs are not done (they are tried again)."""
        rows = self._db.execute(
            "SELECT dataset, episode_id, policy FROM outcomes WHERE settings_key = ? "
            "AND crashed = 0",
            (self.key,),
        )
        return {EpisodeRun(*row) for row in rows}

    def other_code_rows(self, settings_key: str) -> int:
        """Rows stored with these settings by another code version (never reused)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM outcomes WHERE settings_key LIKE ? AND settings_key != ?",
            (f"{settings_key}@%", self.key),
        ).fetchone()
        return int(row[0])

    def reused(self, runs: Iterable[EpisodeRun]) -> list[ReusedRows]:
        """For stored rows among ``runs`` written by earlier runs: how many per earlier run."""
        counts: dict[int | None, int] = {}
        for run in runs:
            row = self._db.execute(
                "SELECT run_id FROM outcomes WHERE settings_key = ? AND dataset = ? "
                "AND episode_id = ? AND policy = ? AND crashed = 0",
                (self.key, run.dataset, run.episode_id, run.policy),
            ).fetchone()
            if row is not None and row[0] != self.run_id:
                counts[row[0]] = counts.get(row[0], 0) + 1
        out = []
        for run_id, count in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            info = self._db.execute(
                "SELECT started, command FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            out.append(ReusedRows(count, run_id, *(info or (None, None))))
        return out

    def save(self, outcome: EpisodeOutcome) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO outcomes (settings_key, dataset, episode_id, policy, outcome, "
            "crashed, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self.key,
                outcome.dataset,
                outcome.episode_id,
                outcome.policy,
                json.dumps(outcome.to_json(), default=str),
                int(outcome.error is not None),
                self.run_id,
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
