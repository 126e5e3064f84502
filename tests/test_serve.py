"""`specagent serve` over a real socket: a turn end to end, bad input, tokens, disconnects,
resuming, a client that never reads. Each test runs uvicorn in-process on 127.0.0.1 with a
scripted model on the real clock (small token delays)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from specagent.agent import Policy
from specagent.events import (
    SessionEnded,
    ToolCallCancelled,
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallHeld,
    ToolCallStarted,
)
from specagent.models.base import ChatMessage
from specagent.serve import (
    BindError,
    ConversationTools,
    Hub,
    ScriptedModels,
    ServeConfig,
    check_bind,
)
from specagent.serve.schema import server_adapter
from specagent.serve.testing import Client, running, speak, specagent_tasks
from specagent.tools import Effect, Toolset, tool

REQUEST = "What's the weather in Paris and text Sam that I am running late"


def _run(coro: Any) -> Any:
    """Run a test's client side; a hang fails the test instead of the whole run."""
    return asyncio.run(asyncio.wait_for(coro, 60))


def _hub(**config: Any) -> Hub:
    return Hub(ServeConfig(**config), ScriptedModels(ttft_s=0.01, token_s=0.002))


def test_a_turn_streams_every_event_and_the_answer() -> None:
    hub = _hub()

    async def main() -> Client:
        async with running(hub) as base, Client.connect(base) as client:
            ready = await client.until("ready")
            assert ready["policies"] == ["sync", "async", "speculative"]
            assert ready["resumed"] is False and ready["turns"] == 0
            await speak(client, REQUEST)
            answer = await client.until("answer")
            assert answer["turn"] == 1 and answer["ended"] == "answered"
            assert answer["text"] == "Paris: sunny, 21 C. Message sent to Sam."
            assert answer["latency_s"] > 0
            state = hub.conversations.get(ready["conversation_id"])
            assert state is not None and state.tools.world.messages == [
                {"to": "Sam", "text": "I am running late"}
            ]
            return client

    client = _run(main())
    adapter = server_adapter()
    for message in client.received:  # every message fits the published schema
        adapter.validate_python(message)
    types = [m["type"] for m in client.received]
    heard = " ".join(m["text"] for m in client.of_type("user_speech"))
    assert heard == REQUEST
    assert "".join(m["text"] for m in client.of_type("answer_delta")) == client.received[-1]["text"]
    deltas = client.of_type("model_delta")  # the model's pieces, streamed as written
    assert {m["turn"] for m in deltas} == {1}
    written = "".join(m["text"] for m in deltas)
    for output in client.of_type("model_output"):
        if not output["interrupted"]:
            assert output["text"] in written
    issued = {m["call_id"]: m for m in client.of_type("tool_call_issued")}
    assert issued[1]["name"] == "get_weather" and issued[1]["effect"] == "read_only"
    assert issued[2]["name"] == "send_message" and issued[2]["effect"] == "irreversible"
    # the irreversible call waited for its commit point, then started and committed
    held = types.index("tool_call_held")
    started_2 = next(
        i
        for i, m in enumerate(client.received)
        if m["type"] == "tool_call_started" and m["call_id"] == 2
    )
    committed = [m["call_id"] for m in client.of_type("tool_call_committed")]
    assert held < started_2 and sorted(committed) == [1, 2]
    assert types.index("session_ended") < types.index("answer")


def test_bad_input_gets_error_events_and_the_conversation_goes_on() -> None:
    hub = _hub(max_text_chars=50)

    async def main() -> list[dict[str, Any]]:
        async with running(hub) as base, Client.connect(base) as client:
            await client.until("ready")
            bad: list[str | bytes] = [
                "not json",
                "[1, 2]",
                json.dumps({"type": "shout", "text": "hi"}),
                json.dumps({"type": "speech"}),
                json.dumps({"type": "speech", "text": "x" * 51, "final": True}),
                json.dumps({"type": "speech", "text": "hi", "final": "maybe"}),
                json.dumps({"type": "policy", "policy": "fastest"}),
                json.dumps({"type": "policy", "policy": "oracle"}),
                b"\x00\x01",
            ]
            for message in bad:
                await client.ws.send(message)
            errors = [await client.until("error") for _ in bad]
            await speak(client, "What's the weather in Paris today")
            answer = await client.until("answer")
            assert answer["text"] == "Paris: sunny, 21 C."
            return errors

    errors = _run(main())
    assert [e["code"] for e in errors] == [
        "not_json",
        "invalid_message",
        "unknown_type",
        "invalid_message",
        "text_too_long",
        "invalid_message",
        "unknown_policy",
        "policy_not_live",
        "binary_not_supported",
    ]
    assert "speech.text" in errors[3]["message"] and "51" in errors[4]["message"]


def test_a_client_that_keeps_sending_garbage_is_closed() -> None:
    hub = _hub()

    async def main() -> int | None:
        async with running(hub) as base, Client.connect(base) as client:
            await client.until("ready")
            with pytest.raises(ConnectionClosed):
                for _ in range(100):
                    await client.ws.send("garbage")
                while True:
                    await client.next()
            return client.ws.close_code

    assert _run(main()) == 1008
    assert hub.hangups[-1][1:] == (1008, "20 bad messages")


def test_an_oversized_frame_closes_the_socket_with_1009() -> None:
    hub = _hub(max_message_bytes=4096)

    async def main() -> tuple[int | None, dict[str, Any]]:
        async with running(hub) as base:
            async with Client.connect(base) as client:
                await client.until("ready")
                await client.send(type="speech", text="y" * 10_000, final=True)
                with pytest.raises(ConnectionClosed):
                    while True:
                        await client.next()
                code = client.ws.close_code
            await hub.wait_idle()
            async with Client.connect(base) as other:  # the server is still fine
                return code, await other.until("ready")

    code, ready = _run(main())
    assert code == 1009 and ready["type"] == "ready"


def test_the_token_is_checked_on_connect() -> None:
    hub = _hub(token="s3cret")

    async def main() -> None:
        async with running(hub) as base:
            for query in ("", "?token=wrong"):
                with pytest.raises(InvalidStatus) as refused:
                    async with Client.connect(base, query=query):
                        pass
                assert refused.value.response.status_code == 403
            async with Client.connect(base, query="?token=s3cret") as client:
                assert (await client.next())["type"] == "ready"
            headers = {"Authorization": "Bearer s3cret"}
            async with Client.connect(base, additional_headers=headers) as client:
                assert (await client.next())["type"] == "ready"

    _run(main())


def test_binding_beyond_loopback_needs_a_token() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(host, None)
    for host in ("0.0.0.0", "192.168.1.5", "example.org"):
        with pytest.raises(BindError, match="token"):
            check_bind(host, None)
        check_bind(host, "a-token")
    with pytest.raises(ValueError, match="cannot serve live speech"):
        ServeConfig(policy=Policy.ORACLE)


# -- disconnects, resuming ------------------------------------------------------------------------


def _effect_tools() -> ConversationTools:
    """A reversible reservation (runs early under speculative), an irreversible booking (held)
    and a slow lookup, over one world."""
    world: dict[str, list[str]] = {"reserved": [], "booked": [], "looked_up": []}

    async def unreserve(arguments: dict[str, Any], result: Any) -> None:
        world["reserved"].remove(arguments["item"])

    @tool(effect=Effect.REVERSIBLE, timeout_s=5.0, compensate=unreserve)
    async def reserve(item: str) -> dict[str, str]:
        """Reserve an item (can be cancelled)."""
        world["reserved"].append(item)
        return {"reserved": item}

    @tool(effect=Effect.IRREVERSIBLE, timeout_s=5.0)
    async def book(item: str) -> dict[str, str]:
        """Book an item for good."""
        world["booked"].append(item)
        return {"booked": item}

    @tool(effect=Effect.READ_ONLY, timeout_s=60.0)
    async def lookup(item: str) -> dict[str, str]:
        """Look an item up (slow)."""
        await asyncio.Event().wait()  # never answers: still running when the client leaves
        return {}

    return ConversationTools(Toolset([reserve, book, lookup]), None, world)


def _words(messages: Sequence[ChatMessage]) -> tuple[str, bool, int]:
    said = re.findall(
        r"<(partial|final)_query_update>(.*?)</", "\n".join(m.content for m in messages)
    )
    calls = re.findall(
        r'<tool_call id="(\d+)"', "\n".join(m.content for m in messages if m.role == "assistant")
    )
    return " ".join(t for _, t in said), bool(said) and said[-1][0] == "final", len(calls)


def _effects_script(messages: Sequence[ChatMessage]) -> str:
    words, final, made = _words(messages)
    plan = [
        ("table", "reserve", "table"),
        ("trip", "book", "trip"),
        ("map", "lookup", "map"),
        ("hotel", "book", "hotel"),
    ]
    for index, (word, name, item) in enumerate(plan):
        if made == index and word in words.split():
            body = json.dumps({"name": name, "arguments": {"item": item}})
            return f'<tool_call id="{made + 1}">{body}</tool_call>'
    if final and made >= 4:
        return "<answer>Done.</answer>"
    return "<pause/>"


def _effects_hub(**config: Any) -> Hub:
    models = ScriptedModels(_effects_script, ttft_s=0.01, token_s=0.002)
    return Hub(ServeConfig(**config), models, _effect_tools)


def test_a_client_leaving_mid_turn_cancels_its_tasks_and_held_calls_never_commit() -> None:
    hub = _effects_hub(policy=Policy.SPECULATIVE)

    async def main() -> str:
        async with running(hub) as base:
            async with Client.connect(base) as client:
                ready = await client.until("ready")
                await client.send(type="speech", text="reserve a table", final=False)
                await client.until("tool_call_finished", call_id=1)  # reserved, early
                await client.send(type="speech", text="then book the trip", final=False)
                await client.until("tool_call_held", call_id=2)  # booking waits
                await client.send(type="speech", text="and find the map", final=False)
                await client.until("tool_call_started", call_id=3)  # lookup runs
            await hub.wait_idle()
            assert specagent_tasks() == []
            return ready["conversation_id"]

    conversation_id = _run(main())
    state = hub.conversations.get(conversation_id)
    assert state is not None
    world = state.tools.world
    assert world == {"reserved": [], "booked": [], "looked_up": []}
    ledger = state.ledger
    assert not ledger.of_type(ToolCallCommitted)
    assert [e.call_id for e in ledger.of_type(ToolCallHeld)] == [2]
    assert 2 not in [e.call_id for e in ledger.of_type(ToolCallStarted)]
    assert [e.call_id for e in ledger.of_type(ToolCallCompensated)] == [1]
    assert {e.call_id for e in ledger.of_type(ToolCallCancelled)} == {2, 3}
    last = ledger.events[-1]
    assert isinstance(last, SessionEnded) and last.reason == "disconnected"
    assert hub.hangups[-1] == (conversation_id, None, "client left")


def test_a_conversation_resumes_by_id_and_call_ids_go_on() -> None:
    hub = _effects_hub(policy=Policy.ASYNC)

    async def main() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        async with running(hub) as base:
            async with Client.connect(base) as first:
                ready = await first.until("ready")
                await first.send(type="speech", text="reserve a table", final=False)
                await first.until("tool_call_held", call_id=1)  # async holds the reservation
            await hub.wait_idle()
            cid = ready["conversation_id"]
            async with Client.connect(base, query=f"?conversation={cid}") as second:
                resumed = await second.until("ready")
                with pytest.raises(ConnectionClosed):  # the same conversation twice: refused
                    async with Client.connect(base, query=f"?conversation={cid}") as third:
                        await third.next()
                assert third.ws.close_code == 1008 and "in use" in third.ws.close_reason
                await second.send(type="speech", text="book the trip", final=False)
                await second.until("tool_call_issued", call_id=2)
                await second.send(type="speech", text="and find the map", final=False)
                await second.until("tool_call_issued", call_id=3)
                return ready, resumed, second.of_type("tool_call_issued")

    ready, resumed, issued = _run(main())
    assert resumed["conversation_id"] == ready["conversation_id"]
    assert resumed["resumed"] is True and resumed["turns"] == 1
    # the first turn's call 1 was closed with that turn; the new turn numbers on from 2
    assert [m["call_id"] for m in issued] == [2, 3] and issued[0]["turn"] == 2
    assert [m["name"] for m in issued] == ["book", "lookup"]


def test_an_unknown_conversation_is_refused() -> None:
    hub = _hub()

    async def main() -> tuple[int | None, str]:
        async with running(hub) as base, Client.connect(base, query="?conversation=nope") as c:
            with pytest.raises(ConnectionClosed):
                await c.next()
            return c.ws.close_code, c.ws.close_reason

    code, reason = _run(main())
    assert code == 1008 and "unknown" in reason


def test_a_stored_conversation_survives_a_server_restart(tmp_path: Path) -> None:
    store = tmp_path / "conversations.sqlite"

    async def first_server() -> str:
        hub = _hub(store_path=store)
        async with running(hub) as base, Client.connect(base) as client:
            ready = await client.until("ready")
            await speak(client, "What's the weather in Paris today")
            await client.until("answer")
            return ready["conversation_id"]

    async def second_server(cid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        hub = _hub(store_path=store)
        async with running(hub) as base, Client.connect(base, query=f"?conversation={cid}") as c:
            ready = await c.until("ready")
            await speak(c, "And the weather in Tokyo now")
            return ready, await c.until("answer")

    cid = _run(first_server())
    ready, answer = _run(second_server(cid))
    assert ready["resumed"] is True and ready["turns"] == 1
    assert answer["turn"] == 2 and answer["text"] == "Tokyo: humid, 27 C."


def test_policy_choice_applies_to_the_next_turn() -> None:
    hub = _hub()

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        async with running(hub) as base, Client.connect(base) as client:
            await client.until("ready")
            await client.send(type="policy", policy="sync")
            ack = await client.until("policy_set")
            await speak(client, "What's the weather in Paris today")
            return ack, await client.until("answer")

    ack, answer = _run(main())
    assert ack["policy"] == "sync" and answer["policy"] == "sync"


def test_barge_in_interrupts_the_answer_and_the_next_words_are_heard() -> None:
    hub = Hub(ServeConfig(), ScriptedModels(ttft_s=0.01, token_s=0.05))

    async def main() -> Client:
        async with running(hub) as base, Client.connect(base) as client:
            await client.until("ready")
            await speak(client, "What's the weather in Paris today")
            await client.until("answer_started")
            await client.send(type="interrupt", reason="barge-in")
            await client.until("interrupt", reason="barge-in")
            await speak(client, "and the weather in Tokyo please")
            await client.until("answer")
            return client

    client = _run(main())
    types = [m["type"] for m in client.received]
    cut = types.index("interrupt")
    assert "answer_started" in types[:cut] and "answer_completed" not in types[:cut]
    answers = client.of_type("answer")  # one turn: the barge-in continued it
    assert len(answers) == 1
    assert answers[0]["text"] == "Paris: sunny, 21 C. Tokyo: humid, 27 C."


class _Huge:
    size = 1_000_000


def _dump_tools() -> ConversationTools:
    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def dump(part: int) -> dict[str, Any]:
        """A large read."""
        return {"part": part, "data": "z" * _Huge.size}

    return ConversationTools(Toolset([dump]), None, None)


def _dump_script(messages: Sequence[ChatMessage]) -> str:
    words, _final, made = _words(messages)
    said = [int(w) for w in words.split() if w.isdigit()]
    if made < len(said):
        body = json.dumps({"name": "dump", "arguments": {"part": said[made]}})
        return f'<tool_call id="{made + 1}">{body}</tool_call>'
    return "<pause/>"


def test_a_client_that_never_reads_is_closed_and_others_are_served() -> None:
    models = ScriptedModels(_dump_script, ttft_s=0.005, token_s=0.001)
    config = ServeConfig(send_queue_messages=64, send_queue_bytes=3_000_000, send_timeout_s=0.5)
    hub = Hub(config, models, _dump_tools)

    async def main() -> dict[str, Any]:
        async with running(hub) as base:
            async with Client.connect(base, max_queue=1, max_size=None, close_timeout=0.5) as stuck:
                await stuck.until("ready")
                for n in range(1, 40):
                    await stuck.send(type="speech", text=str(n), final=False)
                # meanwhile another client is served as usual
                async with Client.connect(base) as other:
                    await other.until("ready")
                    await speak(other, "7")
                    finished = await other.until("tool_call_finished", call_id=1)
                # it reads nothing more; the server gives up on it
                await hub.wait_idle()
                stuck_id = next(h for h in hub.hangups if h[1] is not None)
                assert stuck_id[1] == 1008 and "not reading" in stuck_id[2]
                assert specagent_tasks() == []
            return finished

    finished = _run(main())
    assert finished["result"]["part"] == 7


async def _http_get(base: str, path: str) -> tuple[int, str]:
    host, port = base.removeprefix("ws://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    head, _, body = response.partition("\r\n\r\n")
    return int(head.split()[1]), body


def test_the_schema_is_derived_from_every_event_and_served() -> None:
    import dataclasses

    from specagent.serve.schema import core_event_classes, event_type_name, wire_model

    classes = core_event_classes()
    names = {event_type_name(c) for c in classes}
    assert {"tool_call_held", "tool_call_committed", "answer_delta", "user_speech"} <= names
    assert "call_event" not in names  # a shared base is not a message of its own
    for cls in classes:  # every field of every event reaches the client, under the same name
        fields = set(wire_model(cls).model_fields)
        assert {f.name for f in dataclasses.fields(cls)} <= fields
        assert {"type", "t", "turn"} <= fields
    hub = _hub()

    async def main() -> tuple[tuple[int, str], tuple[int, str], tuple[int, str]]:
        async with running(hub) as base:
            return (
                await _http_get(base, "/schema.json"),
                await _http_get(base, "/healthz"),
                await _http_get(base, "/"),
            )

    (status, body), (health_status, health), (page_status, page) = _run(main())
    assert status == 200
    served = json.loads(body)
    branches = {ref["$ref"].split("/")[-1] for ref in served["server"]["oneOf"]}
    assert {"ToolCallHeldMessage", "AnswerMessage", "ReadyMessage"} <= branches
    assert health_status == 200 and json.loads(health)["connections"] == 0
    assert page_status == 200 and 'id="speak"' in page and 'id="mic"' not in page


def test_a_turn_holds_a_bounded_number_of_characters() -> None:
    hub = _hub(max_turn_chars=30)

    async def main() -> tuple[list[str], dict[str, Any]]:
        async with running(hub) as base, Client.connect(base) as client:
            await client.until("ready")
            for word in ("weather", "in", "x" * 25):  # the last would take the turn past 30
                await client.send(type="speech", text=word, final=False)
            error = await client.until("error")
            await client.send(type="speech", text="Paris", final=True)
            await client.until("answer")
            heard = [m["text"] for m in client.of_type("user_speech")]
            return heard, error

    heard, error = _run(main())
    assert error["code"] == "text_too_long" and "30" in error["message"]
    assert heard == ["weather", "in", "Paris"]
