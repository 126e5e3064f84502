"""Model backends: stream tokens for a chat context, cancellable at any token boundary."""

from .base import (
    ChatMessage,
    GenerationRequest,
    ModelBackend,
    ModelError,
    ModelNotInstalledError,
    ModelUnreachableError,
    UnsupportedRequestError,
)
from .scripted import ScriptedBackend

__all__ = [
    "ChatMessage",
    "GenerationRequest",
    "ModelBackend",
    "ModelError",
    "ModelNotInstalledError",
    "ModelUnreachableError",
    "ScriptedBackend",
    "UnsupportedRequestError",
]
