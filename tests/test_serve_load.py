"""Many conversations at once on one server: each sees only its own events, and shutting the
server down mid-turn closes every connection, cancels every session and leaves no task."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from websockets.exceptions import ConnectionClosed

from specagent.agent import Policy
from specagent.events import SessionEnded, ToolCallCommitted, ToolCallStarted
from specagent.serve import Hub, ScriptedModels, ServeConfig
from specagent.serve.testing import Client, running, speak, specagent_tasks

SESSIONS = 40
MARKER = re.compile(r"Kx\d{4}")


def _request(index: int) -> str:
    return f"What's the weather in Paris and text Kx{index:04d} that code {index:04d} is ready"


def test_concurrent_conversations_are_isolated_and_shutdown_is_clean() -> None:
    hub = Hub(ServeConfig(policy=Policy.ASYNC), ScriptedModels(ttft_s=0.01, token_s=0.005))
    closed: dict[int, int | None] = {}
    seen: dict[int, list[dict[str, Any]]] = {}

    async def conversation(base: str, index: int, second_turn_started: asyncio.Event) -> str:
        async with Client.connect(base) as client:
            ready = await client.until("ready")
            await speak(client, _request(index))
            answer = await client.until("answer")
            assert answer["text"] == f"Paris: sunny, 21 C. Message sent to Kx{index:04d}."
            # a second turn, cut short by the server going down (never final)
            await client.send(type="speech", text=f"and text Kx{index:04d} that", final=False)
            await client.until("user_speech", turn=2)
            second_turn_started.set()
            try:
                while True:
                    await client.next()
            except ConnectionClosed:
                closed[index] = client.ws.close_code
            seen[index] = client.received
            return ready["conversation_id"]

    async def main() -> list[str]:
        async with running(hub) as base:
            started = [asyncio.Event() for _ in range(SESSIONS)]
            tasks = [
                asyncio.create_task(conversation(base, i, started[i])) for i in range(SESSIONS)
            ]
            for event in started:
                await event.wait()
            assert len(hub.connections) == SESSIONS
        # the server is down: every client was closed and nothing of ours still runs
        ids = await asyncio.gather(*tasks)
        assert specagent_tasks() == []
        return ids

    ids = asyncio.run(asyncio.wait_for(main(), 120))
    assert len(set(ids)) == SESSIONS
    assert closed == {i: 1012 for i in range(SESSIONS)}  # "going away"
    for index, messages in seen.items():
        own = f"Kx{index:04d}"
        for message in messages:
            others = set(MARKER.findall(json.dumps(message))) - {own}
            assert not others, f"conversation {index} saw {others} in {message['type']}"
        assert {m["conversation_id"] for m in messages if m["type"] == "ready"} == {ids[index]}
    for index, conversation_id in enumerate(ids):
        state = hub.conversations.get(conversation_id)
        assert state is not None and not state.attached
        assert state.tools.world.messages == [
            {"to": f"Kx{index:04d}", "text": f"code {index:04d} is ready"}
        ]
        ledger = state.ledger
        ends = [e.reason for e in ledger.of_type(SessionEnded)]
        assert ends == ["answered", "disconnected"]
        # nothing of the cut turn ran or committed
        cut = ledger.events.index(ledger.of_type(SessionEnded)[0])
        rest = ledger.events[cut + 1 :]
        assert not any(isinstance(e, (ToolCallStarted, ToolCallCommitted)) for e in rest)
