"""Typed errors of the voice layer, each saying what the user can do about it."""

from __future__ import annotations

from ..errors import SpecagentError

__all__ = ["AudioFormatError", "VoiceError", "VoiceModelMissing"]


class VoiceError(SpecagentError, RuntimeError):
    """Something in speech in or speech out cannot work as asked."""


class VoiceModelMissing(VoiceError):
    """A speech model's package is not installed; the message names the pip command."""


class AudioFormatError(VoiceError, ValueError):
    """An audio file or buffer this layer cannot read (the message says which and why)."""
