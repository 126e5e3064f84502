"""What the executor knows about one call: the fixed request, its progress, its pending fate.

A call's record is read by the session (call rules, the commit point, result building) and by
resume, and written only by the executor. It keeps apart what cannot change once the call is
submitted (:class:`CallRequest`) from what follows the call's life (status, outcome, sandbox
copy), and names the one decision that can be taken before a call ends and carried out when it
does (:class:`PendingDecision`), so no reader has to combine flags to know where a call stands.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

import pydantic

from ..events import ToolErrorType
from ..sandbox import SandboxCopy
from ..tools import Effect

__all__ = [
    "ABORTED",
    "FAILED_NOTHING_TO_UNDO",
    "SESSION_ENDED",
    "CallBook",
    "CallRecord",
    "CallRequest",
    "CallStatus",
    "Disposition",
    "PendingDecision",
    "plain_result",
]

SESSION_ENDED = "session ended"
FAILED_NOTHING_TO_UNDO = "withdrawn while running; it failed, so there was nothing to undo"
ABORTED = "session aborted"
"""Reason given to calls cancelled because the session itself failed or was cancelled: not a
decision about the call, so a resumed session treats such a call as still in flight."""


class Disposition(enum.Enum):
    """How a call's life ended, as far as the world is concerned."""

    COMMITTED = "committed"  # its outcome (result or error) is final
    CANCELLED = "cancelled"  # it never took effect (not run, stopped, or sandbox dropped)
    COMPENSATED = "compensated"  # it took effect and was undone


class CallStatus(enum.Enum):
    WAITING = "waiting"  # issued; waiting on dependencies or its gate
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (CallStatus.DONE, CallStatus.FAILED, CallStatus.CANCELLED)


class PendingDecision(enum.Enum):
    """A decision about a call taken before it ended, carried out the moment it ends.

    Only a call with no :class:`Disposition` yet can have one; once carried out, the call has
    its disposition and the pending decision no longer matters.
    """

    NONE = "none"
    """Nothing decided yet: the call ends undecided, to be committed or withdrawn later."""

    COMMIT = "commit"
    """``commit()`` came while it was waiting or running: it is committed when it ends (a
    sandboxed copy is then applied). A held call's gate was opened by the same commit."""

    UNDO = "undo"
    """``withdraw()`` came while it ran on the real state: its effect is allowed to land and
    is then compensated; if it fails instead, it is recorded cancelled (nothing to undo)."""


@dataclass(frozen=True)
class CallRequest:
    """What the model asked for, fixed once the executor takes the call."""

    call_id: int
    name: str
    depends: tuple[int, ...]  # the written dependencies plus the calls its arguments reference
    issued_s: float
    call_key: str = ""  # unique to this version of the call (for idempotency keys)
    version: int = 0  # which version of the call id (1 for the first, +1 per revision)


@dataclass(init=False)
class CallRecord:
    """The executor's view of one call (mutable: it follows the call's life).

    ``request`` is fixed; every other field is progress. ``call_id``, ``name``, ``depends``,
    ``issued_s``, ``call_key`` and ``version`` read through to the request.
    """

    request: CallRequest
    arguments: dict[str, Any]  # validated (and, with references, resolved) before it runs
    effect: Effect | None  # None if the tool is unknown
    status: CallStatus
    held: bool  # it waited at its gate for a commit (history, reported; not a decision)
    started_s: float | None
    finished_s: float | None
    result: Any
    error: str | None
    error_type: ToolErrorType | None  # why it failed (None unless it failed)
    sandboxed: bool  # runs on a copy of its tool's state, made real only by a commit
    disposition: Disposition | None
    pending: PendingDecision
    effect_settled: bool  # an effect it had on real state is final (kept or undone)
    done: asyncio.Future[None] = field(repr=False)
    gate: asyncio.Event | None = field(repr=False)  # set: a held call may start
    sandbox_copy: SandboxCopy[Any] | None = field(repr=False)

    def __init__(
        self,
        call_id: int,
        name: str,
        arguments: dict[str, Any],
        depends: tuple[int, ...],
        effect: Effect | None,
        issued_s: float,
        *,
        call_key: str = "",
        version: int = 0,
    ) -> None:
        self.request = CallRequest(call_id, name, depends, issued_s, call_key, version)
        self.arguments = arguments
        self.effect = effect
        self.status = CallStatus.WAITING
        self.held = False
        self.started_s = None
        self.finished_s = None
        self.result = None
        self.error = None
        self.error_type = None
        self.sandboxed = False
        self.disposition = None
        self.pending = PendingDecision.NONE
        self.effect_settled = False
        self.done = None  # type: ignore[assignment]  # set when the executor takes the call
        self.gate = None
        self.sandbox_copy = None

    @property
    def call_id(self) -> int:
        return self.request.call_id

    @property
    def name(self) -> str:
        return self.request.name

    @property
    def depends(self) -> tuple[int, ...]:
        return self.request.depends

    @property
    def issued_s(self) -> float:
        return self.request.issued_s

    @property
    def call_key(self) -> str:
        return self.request.call_key

    @property
    def version(self) -> int:
        return self.request.version

    @property
    def commit_when_done(self) -> bool:
        """Whether a commit is waiting for the call to end (``pending`` is COMMIT)."""
        return self.pending is PendingDecision.COMMIT

    @property
    def undo_when_done(self) -> bool:
        """Whether it is to be undone once it ends (``pending`` is UNDO)."""
        return self.pending is PendingDecision.UNDO


def plain_result(value: Any) -> Any:
    """A tool's return value as a call record keeps it: a pydantic model or a dataclass
    becomes plain data (what the model is shown and the ledger stores); anything else is kept."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


class CallBook:
    """Every call the executor has taken: the current version of each id, and the earlier
    versions of revised calls (kept in view: they may still run, or need undoing)."""

    def __init__(self) -> None:
        self.current: dict[int, CallRecord] = {}
        self.superseded: list[CallRecord] = []

    def all(self) -> list[CallRecord]:
        """Every call ever submitted, including earlier versions of revised calls."""
        return self.superseded + list(self.current.values())

    def is_current(self, rec: CallRecord) -> bool:
        """False for an earlier version of a call the model has since revised."""
        return self.current.get(rec.call_id) is rec
