"""Speech as a session hears it: simulators turn text into timed partial updates, and
:class:`LiveSpeech` carries words that arrive while a session runs."""

from .live import LiveSpeech
from .naturalistic import NaturalStyle, simulate_natural_speech
from .simulator import simulate_speech

__all__ = ["LiveSpeech", "NaturalStyle", "simulate_natural_speech", "simulate_speech"]
