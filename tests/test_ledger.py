"""The ledger: append-only log, fork and spawn, durable store, rendering order."""

from __future__ import annotations

from specagent.events import (
    Brief,
    ModelOutput,
    ToolCallFinished,
    ToolCallIssued,
    UserSpeech,
)
from specagent.ledger import Ledger, SQLiteLedgerStore
from specagent.protocol import render_messages


def _history() -> list:
    return [
        UserSpeech(t=1.0, text="book a table", final=False),
        ModelOutput(t=1.5, started_t=1.0, text="<pause/>"),
        UserSpeech(t=2.0, text="for two", final=True),
        ToolCallIssued(t=2.2, call_id=1, name="reserve", arguments={"n": 2}),
        ToolCallFinished(t=2.9, call_id=1, result={"ok": True}),
    ]


def test_fork_sees_the_history_and_diverges_independently():
    parent = Ledger(_history())
    child = parent.fork()
    assert child.events == parent.events and child.session_id != parent.session_id
    child.append(UserSpeech(t=3.0, text="only the child hears this", final=True))
    assert len(child) == len(parent) + 1


def test_spawn_starts_from_a_brief_only():
    parent = Ledger(_history())
    child = parent.spawn("Find a vegetarian place near the office.", t=3.0)
    assert len(child) == 1 and isinstance(child.events[0], Brief)
    messages = render_messages(child.events, "sys")
    assert [m.role for m in messages] == ["system", "user"]
    assert messages[1].content == "Find a vegetarian place near the office."


def test_store_round_trip_keeps_every_field(tmp_path):
    store = SQLiteLedgerStore(tmp_path / "l.db")
    ledger = Ledger(_history(), store=store, session_id="s1")
    ledger.append(ToolCallIssued(t=3.0, call_id=2, name="x", arguments={"a": [1]}, depends=(1,)))
    reopened = Ledger.load(SQLiteLedgerStore(tmp_path / "l.db"), "s1")
    assert reopened.events == ledger.events
    assert store.sessions() == ["s1"]


def test_an_input_that_arrived_mid_generation_renders_after_that_output():
    events = [
        UserSpeech(t=1.0, text="hi", final=False),
        ToolCallFinished(t=1.2, call_id=1, result=1),  # arrived while the model was writing
        ModelOutput(t=1.3, started_t=1.1, text="<pause/>"),
    ]
    roles = [(m.role, m.content) for m in render_messages(events, "s")]
    assert roles == [
        ("system", "s"),
        ("user", "<partial_query_update>hi</partial_query_update>"),
        ("assistant", "<pause/>"),
        ("user", '<tool_result id="1">1</tool_result>'),
    ]
