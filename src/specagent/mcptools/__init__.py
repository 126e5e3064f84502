"""Tools from MCP servers: connect, list, classify, call.

``Toolset.from_mcp(...)`` (in :mod:`specagent.tools`) is the public entry; this package holds
the parts: where a server is (:mod:`.servers`), what effect class each tool gets and why
(:mod:`.effects`), the connections (:mod:`.connection`) on their own real-time loop
(:mod:`.bridge`), and the toolset that ties them together (:mod:`.toolset`). The ``mcp`` SDK is
the ``mcp`` extra; this package imports it only when a server is connected.
"""

from .effects import (
    EffectDecision,
    EffectSource,
    ToolHints,
    ToolOverride,
    effect_from_hints,
    parse_effect,
    parse_tool_effect,
)
from .errors import (
    McpCallTimeout,
    McpCompensationError,
    McpConfigError,
    McpConnectError,
    McpError,
    McpServerGone,
    McpToolError,
)
from .servers import McpServer
from .toolset import McpOpening, McpToolset, SkippedTool, ToolOrigin, compensation_arguments

__all__ = [
    "EffectDecision",
    "EffectSource",
    "McpCallTimeout",
    "McpCompensationError",
    "McpConfigError",
    "McpConnectError",
    "McpError",
    "McpOpening",
    "McpServer",
    "McpServerGone",
    "McpToolError",
    "McpToolset",
    "SkippedTool",
    "ToolHints",
    "ToolOrigin",
    "ToolOverride",
    "compensation_arguments",
    "effect_from_hints",
    "parse_effect",
    "parse_tool_effect",
]
