"""How a voice agent is set up: its settings (:class:`VoiceConfig`) and its loaded speech
models (:class:`VoiceEngines`), apart from the agent's loop so each reads on its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from .asr import WHISPER_LOG_PROB_THRESHOLD, WhisperAsr
from .tts import PiperTts
from .turn_end import TurnEndConfig
from .vad import EndpointConfig, SileroVad

__all__ = ["VoiceConfig", "VoiceEngines"]


@dataclass(frozen=True)
class VoiceConfig:
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    partial_every_s: float = 1.0
    """Partial re-transcription period (used only by policies that stream partial speech)."""
    playback_chunk_s: float = 0.04
    """Audio handed to the speaker at a time: barge-in silences the agent within one."""
    clause_words: int = 5
    """Speak a clause ending in , ; : once it has this many words (else whole sentences)."""
    first_words: int | None = 4
    """Cut an answer's first piece after this many words if no sentence or clause has ended
    by then, so its audio starts before the sentence is written (None: never)."""
    turn_end: TurnEndConfig = field(default_factory=TurnEndConfig)
    """End-of-turn silence by how complete the words so far look."""
    preempt: bool = True
    """Start the reply when the words look complete, held until the end of turn is confirmed."""
    vocabulary: bool | str = True
    """Tell Whisper the words the tools deal in (their names) before each pass; a string adds
    the words your users say that Whisper should expect (names, places)."""
    small_talk: bool = True
    """Tell the model that a request no tool serves gets an answer at once
    (:data:`~specagent.agent.prompt.SMALL_TALK_RULE`): the default 1.5B model otherwise calls
    tools for most small talk (docs/voice.md, "Small talk"). SmolLM2-135M stalls with it."""
    unclear_below: float | None = WHISPER_LOG_PROB_THRESHOLD
    """Ask the user to repeat, and act on nothing, when Whisper's mean token log-probability
    of their words is below this (Whisper's own failed-decode line, -1.0); None: never."""
    barge_in: bool = True
    tail_s: float = 120.0
    """After the input ends, time allowed to finish the turn, playback and sub-agents."""
    sub_agents: bool = False
    """Give the agent the ``start_task`` tool (fork/spawn a sub-agent)."""


@dataclass
class VoiceEngines:
    """The loaded speech models (load once, reuse across conversations)."""

    asr: WhisperAsr
    tts: PiperTts
    vad: SileroVad

    @classmethod
    def load(cls, *, asr_threads: int = 2) -> VoiceEngines:
        return cls(WhisperAsr(cpu_threads=asr_threads), PiperTts(), SileroVad())
