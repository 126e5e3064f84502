"""A real MCP server, written with the MCP SDK, that the MCP tests start as a subprocess.

    python tests/mcp_demo_server.py stdio        # speaks MCP on stdin/stdout
    python tests/mcp_demo_server.py http         # streamable HTTP on 127.0.0.1, a free port;
                                                 # prints the port on its first stdout line
                                                 # once the socket listens
    ... [--prefix P]                             # every tool name starts with P

Its tools cover each kind of annotation (and bad ones), a tool that hangs, one that fails and
one that kills the server; ``journal`` returns what the server saw, in order, so a test can
check what reached the server and when relative to other calls.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

TOOLS: list = []
JOURNAL: list[str] = []
SEATS: dict[str, str] = {}


def _tool(annotations: ToolAnnotations | None = None):
    def register(fn):
        TOOLS.append((fn, annotations))
        return fn

    return register


@_tool(annotations=ToolAnnotations(read_only_hint=True))
def get_weather(city: str) -> dict:
    """Weather forecast for a city."""
    JOURNAL.append(f"get_weather {city}")
    return {"city": city, "sky": "sunny", "high_c": 21}


@_tool(annotations=ToolAnnotations(destructive_hint=True))
def book_table(restaurant: str, time: str) -> dict:
    """Book a table at a restaurant."""
    JOURNAL.append(f"book_table {restaurant} {time}")
    return {"booking": f"{restaurant}@{time}", "confirmed": True}


@_tool(annotations=ToolAnnotations(idempotent_hint=True, destructive_hint=False))
def set_reminder(text: str) -> dict:
    """Set (or reset) the reminder text."""
    JOURNAL.append(f"set_reminder {text}")
    return {"reminder": text}


@_tool(annotations=ToolAnnotations(idempotent_hint=True))
def delete_note(note: str) -> dict:
    """Delete a note (idempotent, and destructive by MCP's default)."""
    JOURNAL.append(f"delete_note {note}")
    return {"deleted": note}


@_tool(annotations=ToolAnnotations(read_only_hint=True, destructive_hint=True))
def wipe_cache() -> dict:
    """Claims to be read-only and destructive at once."""
    JOURNAL.append("wipe_cache")
    return {"wiped": True}


@_tool(annotations=ToolAnnotations(title="no behaviour hints"))
def send_message(to: str, text: str) -> dict:
    """Send a message (annotations without any behaviour hint)."""
    JOURNAL.append(f"send_message {to} {text}")
    return {"sent": True}


@_tool()
def hold_seat(seat: str) -> dict:
    """Hold a seat (no annotations at all); release_seat undoes it."""
    hold_id = f"h{len(SEATS) + 1}"
    SEATS[hold_id] = seat
    JOURNAL.append(f"hold_seat {seat} -> {hold_id}")
    return {"hold_id": hold_id, "seat": seat}


@_tool(annotations=ToolAnnotations(idempotent_hint=True, destructive_hint=False))
def release_seat(hold_id: str) -> dict:
    """Release a held seat."""
    seat = SEATS.pop(hold_id, None)
    JOURNAL.append(f"release_seat {hold_id}")
    if seat is None:
        raise ToolError(f"no hold {hold_id}")
    return {"released": hold_id}


@_tool(annotations=ToolAnnotations(read_only_hint=True))
async def hang() -> str:
    """Never answers (until cancelled)."""
    JOURNAL.append("hang started")
    try:
        await asyncio.Event().wait()
    except BaseException:
        JOURNAL.append("hang cancelled")
        raise
    return "unreachable"


@_tool(annotations=ToolAnnotations(read_only_hint=True))
def fail() -> str:
    """Always reports an error."""
    JOURNAL.append("fail")
    raise ToolError("the database is on fire")


@_tool(annotations=ToolAnnotations(read_only_hint=True))
def crash() -> str:
    """Kills the server process."""
    os._exit(3)


@_tool(annotations=ToolAnnotations(read_only_hint=True))
def journal() -> list:
    """What the server has seen so far."""
    return list(JOURNAL)


def make_server(prefix: str) -> MCPServer:
    server = MCPServer("specagent-test")
    for fn, hints in TOOLS:
        server.add_tool(fn, name=prefix + fn.__name__, annotations=hints)
    return server


def serve_http(server: MCPServer) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # connections queue from here on: the port is ready once printed
    print(sock.getsockname()[1], flush=True)
    app = server.streamable_http_app()
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    asyncio.run(uvicorn_server.serve(sockets=[sock]))


if __name__ == "__main__":
    args = sys.argv[1:]
    prefix = args[args.index("--prefix") + 1] if "--prefix" in args else ""
    demo = make_server(prefix)
    if args and args[0] == "http":
        serve_http(demo)
    else:
        demo.run("stdio")
