"""The ASGI application of ``specagent serve``: the page, the WebSocket, and the server's state.

Routes: ``/`` the page (a Jinja2 template and a small script, no build step), ``/static/*``,
``/ws`` the conversation socket, ``/schema.json`` the message schema, ``/healthz``.

The :class:`Hub` is the server's state: settings, the model provider, the tools of a new
conversation, the conversations by id (and the SQLite store behind them when ``store_path`` is
set), and the connections now open. One :class:`ServerClock` (wall-clock time) serves every
conversation, so event times are seconds on one server clock; with a store it starts where the
stored conversations ended.

A token, when set, is checked when a client connects (query ``?token=`` or header
``Authorization: Bearer``), before the socket is accepted: a wrong or missing token gets an HTTP
403 and nothing else. :func:`check_bind` refuses to listen beyond the loopback interface
without one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import ipaddress
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from fastapi import FastAPI, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from ..agent import Policy, SessionConfig
from ..clock import Clock, RealClock
from ..envs.assistant import AssistantWorld, assistant_toolset, tool_latency
from ..errors import SpecagentError
from ..ledger import SQLiteLedgerStore
from .connection import Connection, Hangup, Outbox
from .conversation import (
    LIVE_POLICIES,
    ConversationBusy,
    ConversationRunner,
    Conversations,
    ConversationState,
    ConversationTools,
    ToolsFactory,
    UnknownConversation,
    completed_turns,
)
from .models import ModelProvider, TappedBackend
from .schema import ReadyMessage, server_message_schema

if TYPE_CHECKING:
    from .audio import AudioEngines

__all__ = [
    "BindError",
    "Hub",
    "ServeConfig",
    "ServerClock",
    "check_bind",
    "create_app",
    "example_tools",
    "stored_until",
]

log = logging.getLogger("specagent.serve")


class BindError(SpecagentError, ValueError):
    """Listening beyond the loopback interface without a token."""


@dataclass(frozen=True)
class ServeConfig:
    """Settings of a server (the CLI's options)."""

    policy: Policy = Policy.SPECULATIVE
    """The policy of a new conversation (a client may pick another live one)."""
    token: str | None = None
    store_path: Path | None = None
    """SQLite file that keeps every conversation's ledger (resumable after a restart)."""
    max_text_chars: int = 2_000
    """Longest ``speech`` text one message may carry."""
    max_turn_chars: int = 20_000
    max_message_bytes: int = 64 * 1024
    """Largest WebSocket frame accepted (a larger one closes the socket with 1009)."""
    send_queue_messages: int = 1_000
    send_queue_bytes: int = 8 * 1024 * 1024
    send_timeout_s: float = 10.0
    keep_detached: int = 1_000
    """Conversations kept in memory for a reconnect after their client left."""
    session: SessionConfig = field(default_factory=SessionConfig)

    def __post_init__(self) -> None:
        if self.policy not in LIVE_POLICIES:
            live = ", ".join(p.value for p in LIVE_POLICIES)
            raise ValueError(f"policy {self.policy.value!r} cannot serve live speech; use {live}")


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback address without a token (:class:`BindError`)."""
    if token:
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise BindError(
            f"binding {host} exposes the server beyond this machine: set a token "
            "(--token or SPECAGENT_TOKEN)"
        )


class ServerClock(RealClock):
    """Wall-clock time that starts at ``start_s``.

    Event times order a conversation's context (the model sees events by time), so a server
    that reopens stored conversations must not start its clock before their last event.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        super().__init__()
        self.start_s = start_s
        self._zero: dict[int, float] = {}

    def _origin_for(self, loop: asyncio.AbstractEventLoop) -> float:
        return self._zero.setdefault(id(loop), loop.time() - self.start_s)


def stored_until(path: Path | None) -> float:
    """The time of the last event in a ledger store (0.0 if there is none)."""
    if path is None or not Path(path).exists():
        return 0.0
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            (last,) = db.execute("SELECT MAX(t) FROM events").fetchone()
        except sqlite3.OperationalError:  # no events table yet
            return 0.0
    return float(last or 0.0)


def example_tools(seed: int = 0) -> ToolsFactory:
    """The example assistant toolset, a fresh world per conversation, simulated latency."""

    def make() -> ConversationTools:
        world = AssistantWorld()
        return ConversationTools(assistant_toolset(world), tool_latency(seed), world)

    return make


class Hub:
    """The server's state (see the module docstring)."""

    def __init__(
        self,
        config: ServeConfig,
        models: ModelProvider,
        tools: ToolsFactory | None = None,
        clock: Clock | None = None,
        audio: AudioEngines | None = None,
    ) -> None:
        """``audio``: speech models to hear clients' microphones with (voice extra)."""
        self.config = config
        self.audio = audio
        self.models = models
        self.tools = tools or example_tools()
        self.clock = clock or ServerClock(stored_until(config.store_path))
        self.store: SQLiteLedgerStore | None = None
        self.conversations = Conversations(
            self.tools, config.policy, keep_detached=config.keep_detached
        )
        self.connections: set[Connection] = set()
        self.hangups: collections.deque[tuple[str, int | None, str]] = collections.deque(maxlen=100)
        """How the last connections ended: (conversation id, close code or None if the client
        left, reason)."""
        self._idle = asyncio.Event()
        self._idle.set()

    def open_store(self) -> None:
        if self.config.store_path is not None and self.store is None:
            self.store = SQLiteLedgerStore(self.config.store_path)
            self.conversations.store = self.store

    async def close(self) -> None:
        await self.models.aclose()
        if self.audio is not None:
            self.audio.close()
        if self.store is not None:
            self.store.close()
            self.store = None

    def authorised(self, websocket: WebSocket) -> bool:
        token = self.config.token
        if not token:
            return True
        given = websocket.query_params.get("token", "")
        header = websocket.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = given or header[7:].strip()
        return hmac.compare_digest(given.encode(), token.encode())

    async def wait_idle(self) -> None:
        """Until no connection is open (tests, shutdown)."""
        await self._idle.wait()

    def _audio_listener(self, connection: Connection) -> Any:
        from .audio import AudioListener

        assert self.audio is not None
        runner = connection.runner
        return AudioListener(self.audio, runner, lambda e: connection.event(runner.turn, e))

    async def handle(self, websocket: WebSocket) -> None:
        """Serve one WebSocket client from connect to close."""
        if not self.authorised(websocket):
            await websocket.close(code=1008)  # before accept: the client gets HTTP 403
            return
        await websocket.accept()
        wanted = websocket.query_params.get("conversation") or None
        try:
            state, resumed = await self.conversations.open(wanted, self.clock)
        except (UnknownConversation, ConversationBusy) as exc:
            why = "in use by another connection" if isinstance(exc, ConversationBusy) else "unknown"
            await websocket.close(code=1008, reason=f"conversation {wanted!r} is {why}")
            return
        ended = Hangup(1011, "internal error")
        connection: Connection | None = None
        try:
            connection = self._connect(websocket, state, resumed)
            self.connections.add(connection)
            self._idle.clear()
            ended = await connection.serve()
        except Exception:
            log.exception("conversation %s failed", state.conversation_id)
        finally:
            self.hangups.append((state.conversation_id, ended.code, ended.reason))
            self.conversations.release(state)
            self.connections.discard(connection)  # type: ignore[arg-type]
            if not self.connections:
                self._idle.set()
        if ended.code is not None:
            # A client that is not reading may never take the close frame: do not wait for it.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await websocket.close(code=ended.code, reason=ended.reason[:120])

    def _connect(self, websocket: WebSocket, state: ConversationState, resumed: bool) -> Connection:
        """The connection and its conversation runner; queues the ``ready`` message."""
        config = self.config
        connection = Connection(
            websocket,
            Outbox(config.send_queue_messages, config.send_queue_bytes),
            max_text_chars=config.max_text_chars,
            max_turn_chars=config.max_turn_chars,
            send_timeout_s=config.send_timeout_s,
            audio=self._audio_listener if self.audio is not None else None,
        )
        backend = TappedBackend(self.models.backend(self.clock), connection.model_delta)
        connection.runner = ConversationRunner(
            state, backend, self.clock, connection, session_config=config.session
        )
        connection.send(
            ReadyMessage(
                conversation_id=state.conversation_id,
                policy=state.policy.value,
                policies=[p.value for p in LIVE_POLICIES],
                resumed=resumed,
                turns=completed_turns(state.ledger),
                model=self.models.name,
                clock_origin_s=asyncio.get_running_loop().time() - self.clock.now(),
                max_text_chars=config.max_text_chars,
                audio=self.audio is not None,
            )
        )
        return connection


_PACKAGE = resources.files("specagent.serve")


def create_app(hub: Hub) -> FastAPI:
    """The ASGI app serving ``hub``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.open_store()
        try:
            yield
        finally:
            await hub.close()

    app = FastAPI(title="specagent serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.hub = hub
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_PACKAGE / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    app.mount("/static", StaticFiles(directory=str(_PACKAGE / "static")), name="static")

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return templates.get_template("index.html").render(
            policies=[p.value for p in LIVE_POLICIES],
            default_policy=hub.config.policy.value,
            model=hub.models.name,
            token_required=bool(hub.config.token),
            audio=hub.audio is not None,
        )

    @app.get("/schema.json")
    async def schema() -> dict[str, Any]:
        return server_message_schema()

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "connections": len(hub.connections),
                "conversations": len(hub.conversations),
                "model": hub.models.name,
            }
        )

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await hub.handle(websocket)

    return app
