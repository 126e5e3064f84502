"""One WebSocket connection of ``specagent serve``: read, check, route, and write back.

Three tasks run under one task group for as long as the client stays:

* the reader takes the client's messages one by one. Whatever it cannot use (not JSON, not an
  object, an unknown ``type``, a text too long, a policy that cannot hear live speech, a binary
  frame) is answered with an ``error`` message and skipped; a client that keeps sending such
  input is closed (1008);
* the conversation runner plays the turns (:mod:`specagent.serve.conversation`);
* the writer sends what the :class:`Outbox` holds. The outbox is bounded in messages and in
  bytes: a client that does not read fills it, and is then closed (1008) instead of making the
  server hold its events without end. A single send that does not complete within
  ``send_timeout_s`` (the client's socket stays full) closes it the same way.

When any of them ends (the client left, or was closed) the group cancels the others: the turn
under way is cancelled with its tool calls and closed in the ledger, and the conversation is
released for a later reconnect.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pydantic
from pydantic import BaseModel
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..agent import Policy, SessionResult
from ..events import Event
from .conversation import LIVE_POLICIES, ConversationRunner
from .schema import (
    AnswerMessage,
    AudioEndIn,
    ErrorCode,
    ErrorMessage,
    InterruptIn,
    ModelDeltaMessage,
    PolicyIn,
    PolicySetMessage,
    SpeechIn,
    client_adapter,
    event_message,
)

if TYPE_CHECKING:
    from .audio import AudioListener

__all__ = ["Outbox", "Connection", "Hangup"]


def _first_leaf(group: BaseExceptionGroup) -> Hangup:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first  # type: ignore[return-value]


class Hangup(Exception):
    """Ends a connection: ``code`` is None when the client already left."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Outbox:
    """Messages waiting for the writer, bounded in count and in bytes (a backlog bound: a
    single message larger than ``max_bytes`` is still taken when nothing else waits)."""

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self._items: collections.deque[str] = collections.deque()
        self._bytes = 0
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._ready = asyncio.Event()
        self.overflowed = asyncio.Event()

    def put(self, text: str) -> bool:
        """Queue ``text``; False (and ``overflowed`` set) if the bound is reached."""
        if self.overflowed.is_set():
            return False
        full = len(self._items) >= self._max_messages or self._bytes + len(text) > self._max_bytes
        if full and self._items:  # one message larger than the bound still goes, alone
            self.overflowed.set()
            return False
        self._items.append(text)
        self._bytes += len(text)
        self._ready.set()
        return True

    async def get(self) -> str:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        text = self._items.popleft()
        self._bytes -= len(text)
        return text


class Connection:
    """Serves one accepted WebSocket (see the module docstring); hears the runner's turns."""

    runner: ConversationRunner  # set by whoever builds the runner around this connection

    def __init__(
        self,
        websocket: WebSocket,
        outbox: Outbox,
        *,
        max_text_chars: int,
        max_turn_chars: int,
        send_timeout_s: float,
        max_bad_messages: int = 20,
        audio: Callable[[Connection], AudioListener] | None = None,
    ) -> None:
        """``audio``: makes a connection's listener when the server hears audio (else binary
        messages are refused)."""
        self.websocket = websocket
        self._audio_factory = audio
        self._audio: AudioListener | None = None
        self._group: asyncio.TaskGroup | None = None
        self.outbox = outbox
        self._max_text = max_text_chars
        self._max_turn = max_turn_chars
        self._send_timeout = send_timeout_s
        self._max_bad = max_bad_messages
        self._bad = 0
        self._turn_chars = (0, 0)  # (turn, characters heard in it)

    def send(self, message: BaseModel) -> None:
        self.outbox.put(message.model_dump_json(fallback=str))

    # -- the runner's turns (TurnListener) ------------------------------------------------------

    def event(self, turn: int, event: Event) -> None:
        effect = None
        name = getattr(event, "name", None)
        toolset = self.runner.state.tools.toolset
        if isinstance(name, str) and name in toolset:
            effect = toolset[name].effect.value
        self.send(event_message(event, turn, effect=effect))

    def turn_ended(self, turn: int, result: SessionResult | None, error: Exception | None) -> None:
        if result is None:
            self.send(ErrorMessage(code="turn_failed", message=f"turn {turn}: {error}"))
            return
        self.send(
            AnswerMessage(
                t=self.runner.clock.now(),
                turn=turn,
                text=result.answer,
                latency_s=result.latency_s,
                first_token_latency_s=result.first_token_latency_s,
                ended=result.ended,
                policy=result.policy,
            )
        )

    def model_delta(self, text: str) -> None:
        """A piece the model just streamed (see :class:`~specagent.serve.models.TappedBackend`)."""
        runner = self.runner
        self.send(ModelDeltaMessage(t=runner.clock.now(), turn=runner.turn, text=text))

    async def serve(self) -> Hangup:
        """Run until the client leaves or is closed; return why it ended."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                group.create_task(self.runner.run(), name="conversation")
                group.create_task(self._write(), name="writer")
                group.create_task(self._watch_outbox(), name="outbox-watch")
                await self._read()
        except BaseExceptionGroup as errors:
            hangups, rest = errors.split(Hangup)
            if rest is not None:
                raise rest from None  # a bug: the app closes the socket with 1011
            assert hangups is not None
            return _first_leaf(hangups)
        raise AssertionError("the reader only ends by hanging up")  # pragma: no cover

    # -- reading --------------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            try:
                message = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                raise Hangup(None, "client left") from None
            if message["type"] == "websocket.disconnect":
                raise Hangup(None, "client left")
            text = message.get("text")
            if text is None:
                self._hear_audio(message.get("bytes") or b"")
                continue
            self._handle(text)

    def _hear_audio(self, data: bytes) -> None:
        if self._audio_factory is None:
            self._reject(
                "binary_not_supported",
                "this server takes no audio (it needs the voice extra); send JSON text messages",
            )
            return
        if self._audio is None:
            assert self._group is not None
            self._audio = self._audio_factory(self)
            self._group.create_task(self._audio.run(), name="audio-listener")
        try:
            self._audio.feed(data)
        except ValueError as exc:
            self._reject("bad_audio", str(exc))

    def _handle(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            self._reject("not_json", "a message must be one JSON object")
            return
        if not isinstance(data, dict):
            self._reject("invalid_message", "a message must be a JSON object with a 'type'")
            return
        try:
            message = client_adapter().validate_python(data)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            if first["type"] == "union_tag_invalid":
                self._reject(
                    "unknown_type",
                    f"unknown message type {data.get('type')!r}; "
                    "known: speech, policy, interrupt, audio_end",
                )
            else:
                where = ".".join(str(p) for p in first["loc"]) or "message"
                self._reject("invalid_message", f"{where}: {first['msg']}")
            return
        if isinstance(message, SpeechIn):
            if len(message.text) > self._max_text:
                self._reject(
                    "text_too_long",
                    f"speech text is {len(message.text)} characters; the limit is {self._max_text}",
                )
                return
            turn, heard = self._turn_chars
            heard = heard if turn == self.runner.turn else 0
            if heard + len(message.text) > self._max_turn:
                self._reject(
                    "text_too_long", f"a turn may hold at most {self._max_turn} characters"
                )
                return
            self._turn_chars = (self.runner.turn, heard + len(message.text))
            self.runner.hear(message.text, message.final)
        elif isinstance(message, PolicyIn):
            self._set_policy(message.policy)
        elif isinstance(message, InterruptIn):
            self.runner.interrupt(message.reason)
        elif isinstance(message, AudioEndIn) and self._audio is not None:
            self._audio.end()  # its task ends once the last utterance is recognised
            self._audio = None

    def _set_policy(self, name: str) -> None:
        try:
            policy = Policy.parse(name)
        except ValueError as exc:
            self._reject("unknown_policy", str(exc))
            return
        if policy not in LIVE_POLICIES:
            live = ", ".join(p.value for p in LIVE_POLICIES)
            self._reject(
                "policy_not_live",
                f"{policy.value} needs the whole request in advance; live policies: {live}",
            )
            return
        self.runner.set_policy(policy)
        self.send(PolicySetMessage(policy=policy.value))

    def _reject(self, code: ErrorCode, message: str) -> None:
        self._bad += 1
        self.send(ErrorMessage(code=code, message=message))
        if self._bad >= self._max_bad:
            raise Hangup(1008, f"{self._bad} bad messages")

    # -- writing --------------------------------------------------------------------------------

    async def _write(self) -> None:
        while True:
            text = await self.outbox.get()
            try:
                async with asyncio.timeout(self._send_timeout):
                    await self.websocket.send_text(text)
            except TimeoutError:
                raise Hangup(1008, "the client is not reading") from None
            except (WebSocketDisconnect, RuntimeError, OSError):
                raise Hangup(None, "client left") from None

    async def _watch_outbox(self) -> None:
        await self.outbox.overflowed.wait()
        raise Hangup(1008, "the client is not reading (send queue full)")
