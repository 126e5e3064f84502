"""Closing a turn cut short (a client gone, a server restarted): every call of it gets a final
disposition in the ledger, and an effect that ran early is undone, never left in the world."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from specagent.agent import Policy
from specagent.clock import VirtualClock
from specagent.events import (
    SessionEnded,
    ToolCallCancelled,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallHeld,
    ToolCallIssued,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)
from specagent.executor import ABORTED
from specagent.ledger import Ledger, SQLiteLedgerStore
from specagent.agent.restore import close_cut_turn
from specagent.serve.conversation import ConversationTools, Conversations
from specagent.tools import Effect, Toolset, tool


def _tools(undone: list[Any]) -> Toolset:
    async def unreserve(arguments: dict[str, Any], result: Any) -> None:
        undone.append(result)

    @tool(effect=Effect.REVERSIBLE, timeout_s=5.0, compensate=unreserve)
    async def reserve(item: str) -> dict[str, str]:
        """Reserve."""
        return {"id": item}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0)
    async def book(item: str) -> dict[str, str]:
        """Book."""
        return {}

    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def lookup(item: str) -> dict[str, str]:
        """Look up."""
        return {}

    return Toolset([reserve, book, lookup])


def _cut_turn() -> Ledger:
    """An answered turn, then a turn cut while its calls were in every state."""
    calls = lambda i, name, v=1, cls=ToolCallIssued: cls(  # noqa: E731
        t=1.0, call_id=i, version=v, name=name, arguments={"item": f"x{i}"}
    )
    return Ledger(
        [
            UserSpeech(t=0.0, text="hi", final=True),
            SessionEnded(t=0.5, reason="answered"),
            UserSpeech(t=1.0, text="reserve book and look", final=False),
            # 1: a reservation revised; its first version was undone, its second ran early
            calls(1, "reserve"),
            ToolCallStarted(t=1.0, call_id=1, version=1, early=True),
            ToolCallFinished(t=1.1, call_id=1, version=1, result={"id": "old"}),
            calls(1, "reserve", 2, ToolCallRevised),
            ToolCallCompensated(t=1.2, call_id=1, version=1, notify_model=False),
            ToolCallStarted(t=1.2, call_id=1, version=2, early=True),
            ToolCallFinished(t=1.3, call_id=1, version=2, result={"id": "new"}),
            # 2: a booking held for its commit point, cancelled when the session stopped
            calls(2, "book"),
            ToolCallHeld(t=1.0, call_id=2, version=1, reason="commit point"),
            ToolCallCancelled(t=1.5, call_id=2, version=1, reason=ABORTED),
            # 3: a booking that was running when the session stopped: it may have acted
            calls(3, "book"),
            ToolCallStarted(t=1.0, call_id=3, version=1),
            ToolCallCancelled(t=1.5, call_id=3, version=1, reason=ABORTED),
            # 4: a read with no outcome at all (a crash: nothing was recorded)
            calls(4, "lookup"),
            ToolCallStarted(t=1.0, call_id=4, version=1),
        ]
    )


def test_a_cut_turn_is_closed_with_every_call_settled() -> None:
    undone: list[Any] = []
    ledger = _cut_turn()
    before = len(ledger)
    clock = VirtualClock(start_s=2.0)
    clock.run(close_cut_turn(ledger, _tools(undone), clock, "disconnected"))
    added = ledger.events[before:]
    assert undone == [{"id": "new"}]  # the current version's effect, undone once
    by_call: dict[int, list[str]] = {}
    for event in added[:-1]:
        by_call.setdefault(event.call_id, []).append(type(event).__name__)
    assert by_call == {
        1: ["ToolCallCompensated"],  # the reservation that ran early is undone
        2: ["ToolCallCancelled"],  # the held booking (stopped by the crash, not decided) ends
        3: ["ToolCallFailed", "ToolCallCommitted"],  # running at the cut: outcome unknown, kept
        4: ["ToolCallCancelled"],  # the read cut short
    }
    failed = next(e for e in added if isinstance(e, ToolCallFailed))
    assert failed.error_type == "interrupted" and "outcome unknown" in failed.error
    assert all(e.version for e in added[:-1])
    assert isinstance(added[-1], SessionEnded) and added[-1].reason == "disconnected"


def test_a_stored_conversation_cut_by_a_restart_is_closed_when_reopened(tmp_path: Path) -> None:
    store = SQLiteLedgerStore(tmp_path / "c.sqlite")
    stored = Ledger(session_id="abc", store=store)
    for event in _cut_turn():
        stored.append(event)
    undone: list[Any] = []
    conversations = Conversations(
        lambda: ConversationTools(_tools(undone)), Policy.ASYNC, store=store
    )
    clock = VirtualClock(start_s=3.0)
    state, resumed = clock.run(conversations.open("abc", clock))
    assert resumed and state.attached
    last = state.ledger.events[-1]
    assert isinstance(last, SessionEnded) and last.reason == "server_restarted"
    assert undone == [{"id": "new"}]
    # durable: the closing events are in the store too
    again = Ledger.load(store, "abc")
    assert len(again) == len(state.ledger)
    store.close()
