"""The ledger: one append-only, timestamped log of everything a session saw and did.

The ledger is the context. Instead of a list of chat turns, the model's view is rendered from
the ledger's events by :func:`specagent.protocol.render_messages`, so what the model saw and
what happened can never disagree. A ledger can fork (the child sees the parent's history) or spawn
(the child starts from a brief), and can be backed by a durable :class:`SQLiteLedgerStore` so a
crashed session resumes without re-running a side effect it already committed.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from .events import Brief, Event, event_from_record, event_to_record

__all__ = ["Ledger", "SQLiteLedgerStore"]


class SQLiteLedgerStore:
    """Durable storage of ledgers, one row per event, keyed by session id."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS events ("
            " session_id TEXT NOT NULL, seq INTEGER NOT NULL, t REAL NOT NULL,"
            " type TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (session_id, seq))"
        )
        self._db.commit()

    def append(self, session_id: str, seq: int, event: Event) -> None:
        type_name, payload = event_to_record(event)
        with self._db:  # one transaction per event: a crash loses nothing already appended
            self._db.execute(
                "INSERT INTO events (session_id, seq, t, type, payload) VALUES (?, ?, ?, ?, ?)",
                (session_id, seq, event.t, type_name, payload),
            )

    def load(self, session_id: str) -> list[Event]:
        rows = self._db.execute(
            "SELECT type, payload FROM events WHERE session_id = ? ORDER BY seq", (session_id,)
        ).fetchall()
        return [event_from_record(type_name, payload) for type_name, payload in rows]

    def sessions(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT session_id FROM events")]

    def close(self) -> None:
        self._db.close()


class Ledger:
    """Append-only event log of one session (or sub-agent).

    Entries are in the order the session took them in (the order the model sees them); each
    event's ``t`` is when it happened, so an event that waited behind a generation keeps its
    own time.
    """

    def __init__(
        self,
        events: Sequence[Event] = (),
        *,
        session_id: str | None = None,
        store: SQLiteLedgerStore | None = None,
    ) -> None:
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self._events: list[Event] = []
        self._store = store
        for event in events:
            self.append(event)

    @classmethod
    def load(cls, store: SQLiteLedgerStore, session_id: str) -> Ledger:
        """Reopen a stored session; new events keep being stored."""
        ledger = cls(session_id=session_id)
        ledger._events = store.load(session_id)
        ledger._store = store
        return ledger

    def append(self, event: Event) -> None:
        if self._store is not None:
            self._store.append(self.session_id, len(self._events), event)
        self._events.append(event)

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def of_type(self, *types: type[Event]) -> list[Event]:
        return [e for e in self._events if isinstance(e, types)]

    @property
    def last_t(self) -> float:
        return self._events[-1].t if self._events else 0.0

    def fork(self, session_id: str | None = None) -> Ledger:
        """A child ledger that starts with this one's whole history."""
        return Ledger(self._events, session_id=session_id)

    def spawn(self, brief: str, t: float, session_id: str | None = None) -> Ledger:
        """A child ledger that knows only ``brief``."""
        return Ledger([Brief(t=t, text=brief)], session_id=session_id)
