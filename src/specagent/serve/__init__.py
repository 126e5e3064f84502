"""``specagent serve``: conversations over WebSocket, and a page to watch them live.

Each WebSocket connection is one conversation (one ledger; durable with a store; resumable by
id after a disconnect). The client streams what the user says; the server streams every event
of the agent's sessions as JSON. The message schema is :mod:`specagent.serve.schema`
(docs/serve.md). Needs the ``serve`` extra (fastapi, uvicorn, websockets).
"""

from .app import BindError, Hub, ServeConfig, check_bind, create_app, example_tools
from .conversation import LIVE_POLICIES, ConversationTools
from .models import ModelProvider, ScriptedModels, SharedModel, load_provider

__all__ = [
    "BindError",
    "ConversationTools",
    "Hub",
    "LIVE_POLICIES",
    "ModelProvider",
    "ScriptedModels",
    "ServeConfig",
    "SharedModel",
    "check_bind",
    "create_app",
    "example_tools",
    "load_provider",
]
