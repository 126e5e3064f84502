"""Model backends: stream tokens for a chat context, cancellable at any token boundary."""

from .base import ChatMessage, ModelBackend, ModelError, ModelNotInstalledError, ModelUnreachableError
from .scripted import ScriptedBackend

__all__ = [
    "ChatMessage",
    "ModelBackend",
    "ModelError",
    "ModelNotInstalledError",
    "ModelUnreachableError",
    "ScriptedBackend",
]
