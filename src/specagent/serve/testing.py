"""Helpers to run a server in-process and talk to it, for tests and benchmarks.

:func:`running` serves a :class:`~specagent.serve.app.Hub` on a fresh 127.0.0.1 port inside the
caller's event loop: the listening socket exists before the server task starts, so a client can
connect at once (no readiness polling), and leaving the block shuts the server down and waits
for it. :class:`Client` wraps one WebSocket with typed reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from .app import Hub
from .server import bind_socket, uvicorn_server

__all__ = ["Client", "running", "speak", "specagent_tasks"]


def specagent_tasks() -> list[asyncio.Task[Any]]:
    """Tasks of this loop running specagent code (a session, a call, a conversation), other
    than the caller: after every client has gone there should be none."""
    package = str(Path(__file__).resolve().parents[1])
    current = asyncio.current_task()
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if task is not current and code is not None and code.co_filename.startswith(package):
            found.append(task)
    return found


@contextlib.asynccontextmanager
async def running(hub: Hub) -> AsyncIterator[str]:
    """Serve ``hub`` on 127.0.0.1; yields the base URL ``ws://127.0.0.1:PORT``."""
    server = uvicorn_server(hub)
    sock = bind_socket()
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Client:
    """One WebSocket conversation with typed reads; ``received`` keeps every message."""

    ws: ClientConnection
    received: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, base: str, *, query: str = "", **options: Any) -> AsyncIterator[Client]:
        async with websockets.connect(f"{base}/ws{query}", **options) as ws:
            yield cls(ws)

    async def next(self) -> dict[str, Any]:
        message = json.loads(await self.ws.recv())
        self.received.append(message)
        return message

    async def until(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Read until a message of ``type_`` (with these field values) arrives; return it."""
        while True:
            message = await self.next()
            if message["type"] == type_ and all(message.get(k) == v for k, v in fields.items()):
                return message

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m["type"] in types]


async def speak(client: Client, words: Sequence[str] | str, *, gap_s: float = 0.0) -> None:
    """Send ``words`` one by one as partial updates, the last one final."""
    if isinstance(words, str):
        words = words.split()
    for i, word in enumerate(words):
        await client.send(type="speech", text=word, final=i == len(words) - 1)
        if gap_s and i < len(words) - 1:
            await asyncio.sleep(gap_s)
