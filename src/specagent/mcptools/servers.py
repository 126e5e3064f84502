"""Where an MCP server is: a command line to start over stdio, or a streamable-HTTP URL.

``--mcp "python my_server.py"`` starts the command as a subprocess and speaks MCP on its
stdin/stdout; ``--mcp http://127.0.0.1:8000/mcp`` connects to a running server.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Literal

from .errors import McpConfigError

__all__ = ["McpServer"]


@dataclass(frozen=True)
class McpServer:
    """One MCP server as the user named it."""

    target: str
    """As written: the command line or the URL (also the server's name in messages)."""
    transport: Literal["stdio", "http"]
    command: tuple[str, ...] = ()
    """The program and its arguments (``stdio`` only)."""

    @classmethod
    def parse(cls, text: str) -> McpServer:
        """Read an ``--mcp`` value; raise :class:`McpConfigError` if it is neither form."""
        target = text.strip()
        if not target:
            raise McpConfigError("--mcp needs a command line or an http(s):// URL, got nothing")
        lowered = target.lower()
        if lowered.startswith(("http://", "https://")):
            if " " in target or len(target.split("://", 1)[1]) == 0:
                raise McpConfigError(f"--mcp {target!r}: not a valid http(s) URL")
            return cls(target=target, transport="http")
        if "://" in target.split()[0]:
            scheme = target.split("://", 1)[0]
            raise McpConfigError(
                f"--mcp {target!r}: unsupported scheme {scheme!r}; give a command line (stdio) "
                "or an http(s):// URL (streamable HTTP)"
            )
        try:
            parts = tuple(shlex.split(target))
        except ValueError as exc:
            raise McpConfigError(f"--mcp {target!r}: cannot read the command line: {exc}") from None
        return cls(target=target, transport="stdio", command=parts)

    @property
    def label(self) -> str:
        return self.target
