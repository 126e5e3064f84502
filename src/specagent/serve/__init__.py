"""``specagent serve``: conversations over WebSocket, and a page to watch them live.

Each WebSocket connection is one conversation (one ledger; durable with a store; resumable by
id after a disconnect). The client streams what the user says; the server streams every event
of the agent's sessions as JSON. The message schema is :mod:`specagent.serve.schema`
(docs/serve.md). The server needs the ``serve`` extra (fastapi, uvicorn, websockets); its
transport-independent part, :mod:`specagent.serve.conversation`, does not, and names below
are imported on first use so that importing it never pulls in the web stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BindError": "app",
    "Hub": "app",
    "ServeConfig": "app",
    "ServerClock": "app",
    "check_bind": "app",
    "create_app": "app",
    "example_tools": "app",
    "LIVE_POLICIES": "conversation",
    "ConversationRunner": "conversation",
    "ConversationState": "conversation",
    "ConversationTools": "conversation",
    "ModelProvider": "models",
    "ScriptedModels": "models",
    "SharedModel": "models",
    "load_provider": "models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'specagent.serve' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
