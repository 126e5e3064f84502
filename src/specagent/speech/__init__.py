"""Speech in and out. The simulator turns text into timed partial updates."""

from .simulator import simulate_speech

__all__ = ["simulate_speech"]
