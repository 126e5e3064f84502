"""The errors MCP tools raise, each carrying the server it is about.

::

    McpError
    ├── McpConfigError      a bad --mcp or --tool-effect value, an override naming no tool,
    │                       two servers offering the same tool name (also a ValueError)
    ├── McpConnectError     a server could not be started, reached or initialised
    ├── McpServerGone       a server died or dropped the connection mid-session
    ├── McpToolError        a tool answered with an error result
    ├── McpCompensationError  the arguments of a compensating call could not be built
    └── McpCallTimeout      a call did not answer within its timeout (also a TimeoutError,
                            so the executor reports it as a ``timeout`` failure)

Raised from a tool's function, the last four become ``<tool_result error=...>`` events through
the executor; the session goes on with its other tools.
"""

from __future__ import annotations

from ..errors import SpecagentError

__all__ = [
    "McpCallTimeout",
    "McpCompensationError",
    "McpConfigError",
    "McpConnectError",
    "McpError",
    "McpServerGone",
    "McpToolError",
]


class McpError(SpecagentError):
    """Base of every MCP tool error. ``server`` names the server (its command line or URL)."""

    def __init__(self, message: str, *, server: str | None = None) -> None:
        self.server = server
        super().__init__(message)


class McpConfigError(McpError, ValueError):
    """An MCP option or override is wrong; the message says which and what is allowed."""


class McpConnectError(McpError, ConnectionError):
    """Raised when a server cannot be started, reached or initialised."""

    def __init__(self, server: str, detail: str) -> None:
        self.detail = detail
        super().__init__(f"cannot connect to MCP server {server!r}: {detail}", server=server)


class McpServerGone(McpError, ConnectionError):
    """Raised for a call to a server that died or dropped the connection."""

    def __init__(self, server: str, detail: str) -> None:
        self.detail = detail
        super().__init__(f"MCP server {server!r} is gone: {detail}", server=server)


class McpToolError(McpError):
    """Raised when a tool answers with an error result (``isError``)."""

    def __init__(self, server: str, tool: str, detail: str) -> None:
        self.tool, self.detail = tool, detail
        super().__init__(f"{tool} on MCP server {server!r} reported an error: {detail}", server=server)


class McpCompensationError(McpError):
    """Raised when a compensating call's arguments cannot be built from the original call."""


class McpCallTimeout(McpError, TimeoutError):
    """Raised when a call does not answer within its timeout (real time)."""

    def __init__(self, server: str, tool: str, timeout_s: float) -> None:
        self.tool, self.timeout_s = tool, timeout_s
        super().__init__(
            f"{tool} on MCP server {server!r} did not answer within {timeout_s:g} s", server=server
        )
