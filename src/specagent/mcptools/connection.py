"""One connection to one MCP server, driven on the bridge loop (see :mod:`.bridge`).

The SDK's :class:`mcp.Client` is opened inside a task of its own (the *holder*), because a
transport that fails cancels the task that opened it: here that is the holder, never a call.
Calls run as separate tasks; each waits for its answer, its timeout, or the server's end,
whichever comes first, so a server that dies fails its calls at once with
:class:`~.errors.McpServerGone` instead of leaving them hanging. Every method here must run on
the bridge loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from ..extras import require
from .effects import ToolHints
from .errors import McpCallTimeout, McpConnectError, McpServerGone, McpToolError
from .servers import McpServer

__all__ = ["CallOutcome", "McpConnection", "McpToolInfo"]

_MAX_PAGES = 100
_CLOSE_GRACE_S = 10.0
"""How long closing waits for the SDK's own shutdown (stdio: 2 s grace, then a kill)."""


def _sdk() -> Any:
    return require("mcp", extra="mcp", feature="connecting to MCP servers")


@dataclass(frozen=True)
class McpToolInfo:
    """A tool as the server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    hints: ToolHints | None


@dataclass(frozen=True)
class CallOutcome:
    """The server's answer to one call and how long it took in real time."""

    value: Any
    is_error: bool
    elapsed_s: float


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def describe_error(error: BaseException) -> str:
    """A one-line account of what went wrong, looking inside exception groups."""
    parts = []
    for leaf in _leaves(error):
        if isinstance(leaf, FileNotFoundError) and leaf.filename:
            parts.append(f"command not found: {leaf.filename}")
            continue
        text = str(leaf).strip() or "no detail"
        parts.append(f"{type(leaf).__name__}: {text}")
    return "; ".join(dict.fromkeys(parts))


def _content_value(result: Any) -> Any:
    """A call result as plain JSON: structured content if any, else its content blocks."""
    if result.structured_content is not None:
        return result.structured_content
    blocks: list[Any] = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            blocks.append(block.text)
        elif kind in ("image", "audio"):
            blocks.append(f"<{kind} {getattr(block, 'mime_type', '')}>")
        else:
            blocks.append(f"<{kind or 'content'}>")
    if len(blocks) == 1 and isinstance(blocks[0], str):
        text = blocks[0]
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        return parsed if isinstance(parsed, (dict, list)) else text
    return blocks


def _hints(annotations: Any) -> ToolHints | None:
    if annotations is None:
        return None
    return ToolHints(
        read_only=annotations.read_only_hint,
        destructive=annotations.destructive_hint,
        idempotent=annotations.idempotent_hint,
        open_world=annotations.open_world_hint,
    )


class McpConnection:
    """A live connection to one server: list its tools, call them, close it."""

    def __init__(self, server: McpServer, *, connect_timeout_s: float = 20.0) -> None:
        self.server = server
        self.connect_timeout_s = connect_timeout_s
        self._client: Any = None
        self._holder: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._ended: asyncio.Event | None = None
        self._gone: str | None = None
        self._closing = False
        self._stderr: Any = None
        self._stderr_mark = 0

    @property
    def label(self) -> str:
        return self.server.label

    @property
    def gone(self) -> str | None:
        """Why the connection ended, or ``None`` while it is up."""
        return self._gone

    def _server_said(self) -> str:
        """What a stdio server wrote to stderr since its last answer (its last words before
        dying, usually a traceback), for error messages."""
        if self._stderr is None:
            return ""
        try:
            self._stderr.flush()
            self._stderr.seek(self._stderr_mark)
            lines = [" ".join(ln.split()) for ln in self._stderr.read().splitlines()]
        except (OSError, ValueError):
            return ""
        tail = " | ".join(ln for ln in lines if ln)[-300:]
        return f" (server stderr: {tail})" if tail else ""

    def _mark_stderr(self) -> None:
        if self._stderr is not None:
            try:
                self._stderr_mark = self._stderr.seek(0, os.SEEK_END)
            except (OSError, ValueError):
                pass

    def _client_for(self, sdk: Any) -> Any:
        info = sdk.Implementation(name="specagent", version="0.1.0")
        if self.server.transport == "http":
            return sdk.Client(self.server.target, client_info=info, cache=None)
        program, *args = self.server.command
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        params = sdk.StdioServerParameters(
            command=program, args=args, env=dict(os.environ), cwd=os.getcwd()
        )
        stdio = require("mcp.client.stdio", extra="mcp", feature="connecting to MCP servers")
        transport = stdio.stdio_client(params, errlog=self._stderr)
        return sdk.Client(transport, client_info=info, cache=None)

    async def open(self) -> list[McpToolInfo]:
        """Connect, initialise and list the server's tools; raise :class:`McpConnectError`."""
        sdk = _sdk()
        self._stop, self._ended = asyncio.Event(), asyncio.Event()
        ready: asyncio.Future[list[McpToolInfo]] = asyncio.get_running_loop().create_future()
        try:
            client = self._client_for(sdk)
        except Exception as exc:  # noqa: BLE001 - bad parameters: report them as a connect error
            raise McpConnectError(self.label, describe_error(exc)) from None
        self._holder = asyncio.create_task(self._hold(client, ready), name=f"mcp {self.label}")
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                return await asyncio.shield(ready)
        except TimeoutError:
            await self.close()
            raise McpConnectError(
                self.label,
                f"no MCP handshake within {self.connect_timeout_s:g} s{self._server_said()}",
            ) from None
        except McpConnectError:
            await self.close()
            raise

    async def _hold(self, client: Any, ready: asyncio.Future[list[McpToolInfo]]) -> None:
        assert self._stop is not None and self._ended is not None
        try:
            async with client:
                tools = await self._list_tools(client)
                self._mark_stderr()
                self._client = client
                ready.set_result(tools)
                await self._stop.wait()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a transport's end, whatever its form
            detail = describe_error(exc) if not isinstance(exc, asyncio.CancelledError) else ""
            if not ready.done():
                reason = detail or "cancelled before the handshake finished"
                ready.set_exception(McpConnectError(self.label, reason + self._server_said()))
            elif not self._closing and self._gone is None:
                self._gone = f"connection lost: {detail or 'transport closed'}{self._server_said()}"
        finally:
            self._client = None
            if self._gone is None:
                self._gone = "the connection was closed"
            self._ended.set()

    async def _list_tools(self, client: Any) -> list[McpToolInfo]:
        tools: list[McpToolInfo] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            for t in page.tools:
                tools.append(
                    McpToolInfo(
                        name=t.name,
                        description=(t.description or t.title or "").strip(),
                        input_schema=dict(t.input_schema),
                        hints=_hints(t.annotations),
                    )
                )
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    async def call(self, tool: str, arguments: dict[str, Any], timeout_s: float) -> CallOutcome:
        """Call ``tool``; wait at most ``timeout_s`` seconds (real time) for its answer."""
        client, ended = self._client, self._ended
        if client is None or ended is None or ended.is_set():
            raise McpServerGone(self.label, self._gone or "not connected")
        loop = asyncio.get_running_loop()
        started = loop.time()
        request = asyncio.ensure_future(client.call_tool(tool, arguments))
        end = asyncio.ensure_future(ended.wait())
        try:
            done, _ = await asyncio.wait(
                {request, end}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            await _stop(request)  # the SDK tells the server the request is cancelled
            raise
        finally:
            end.cancel()
        if request not in done:
            await _stop(request)
            if ended.is_set():
                raise McpServerGone(self.label, self._gone or "connection lost")
            raise McpCallTimeout(self.label, tool, timeout_s)
        elapsed = loop.time() - started
        try:
            result = request.result()
            self._mark_stderr()
        except Exception as exc:  # noqa: BLE001 - protocol errors, closed transports, bad results
            code = getattr(exc, "code", None)
            if code == _sdk().types.CONNECTION_CLOSED:
                if self._gone is None:
                    self._gone = f"the server closed the connection (did it exit?){self._server_said()}"
                raise McpServerGone(self.label, self._gone) from None
            raise McpToolError(self.label, tool, describe_error(exc)) from None
        value = _content_value(result)
        return CallOutcome(value=value, is_error=bool(result.is_error), elapsed_s=elapsed)

    async def close(self) -> None:
        """End the connection (stdio: the SDK stops the server process). Never raises."""
        self._closing = True
        if self._stop is not None:
            self._stop.set()
        holder = self._holder
        if holder is not None and not holder.done():
            done, _ = await asyncio.wait({holder}, timeout=_CLOSE_GRACE_S)
            if not done:
                holder.cancel()
                await asyncio.wait({holder})
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


async def _stop(task: asyncio.Future[Any]) -> None:
    if not task.done():
        task.cancel()
        await asyncio.wait({task})
    elif not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never seen
