"""Speech in and out. The simulators turn text into timed partial updates."""

from .naturalistic import NaturalStyle, simulate_natural_speech
from .simulator import simulate_speech

__all__ = ["NaturalStyle", "simulate_natural_speech", "simulate_speech"]
