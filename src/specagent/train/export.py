"""Export a trained adapter: merged weights, a GGUF for llama.cpp, and a GGUF LoRA adapter.

* **adapter**: the PEFT LoRA directory ``sft.train`` saved (a few MB);
* **merged**: base + adapter folded into one Hugging Face checkpoint (safetensors);
* **GGUF**: the merged checkpoint converted for llama.cpp (``q8_0`` by default), loadable by
  :class:`~specagent.models.llamacpp.LlamaCppBackend` as any local model;
* **LoRA GGUF**: the adapter alone in llama.cpp's LoRA format (q8_0), to apply on top of the
  registry's own base GGUF. This is the small file the repository can ship.

The converters (``convert_hf_to_gguf.py``, ``convert_lora_to_gguf.py`` and their ``gguf-py``
and ``conversion`` packages) come from the llama.cpp sources vendored in the pinned
``llama-cpp-python`` sdist on PyPI. They are fetched with pip into the cache directory the
first time (:func:`converter_dir`), never copied into this repository.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import SpecagentError
from ..extras import require

__all__ = [
    "ExportError",
    "ExportReport",
    "converter_dir",
    "export_all",
    "lora_to_gguf",
    "merge_adapter",
    "sha256_of",
    "to_gguf",
]  # fmt: skip

LLAMA_CPP_SDIST = "llama-cpp-python==0.3.36"
_VENDOR = "vendor/llama.cpp/"
_WANTED = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/")


class ExportError(SpecagentError, RuntimeError):
    """An export step failed; the message says which and why."""


@dataclass(frozen=True)
class ExportReport:
    adapter_dir: str
    merged_dir: str
    gguf: str
    gguf_sha256: str
    gguf_bytes: int
    lora_gguf: str
    lora_sha256: str
    lora_bytes: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def converter_dir() -> Path:
    """Where llama.cpp's Python converters are, fetching the pinned sdist from PyPI once."""
    from ..models.registry import cache_dir

    target = cache_dir().parent / "llama.cpp-converters" / LLAMA_CPP_SDIST.replace("==", "-")
    if (target / "convert_hf_to_gguf.py").is_file() and (target / "gguf-py").is_dir():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             LLAMA_CPP_SDIST, "-d", tmp],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        archives = list(Path(tmp).glob("*.tar.gz"))
        if done.returncode != 0 or not archives:
            raise ExportError(
                f"could not fetch {LLAMA_CPP_SDIST} from PyPI for its GGUF converters: "
                f"{done.stderr.strip()[-400:]}"
            )
        staging = Path(tempfile.mkdtemp(dir=target.parent if target.parent.exists() else None))
        with tarfile.open(archives[0]) as tar:
            for member in tar.getmembers():
                _, _, inner = member.name.partition("/")
                if not inner.startswith(_VENDOR):
                    continue
                rel = inner[len(_VENDOR) :]
                if not any(rel == w or (w.endswith("/") and rel.startswith(w)) for w in _WANTED):
                    continue
                if not (member.isfile() or member.isdir()):
                    continue
                member.name = rel
                tar.extract(member, staging, filter="data")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        return target
    os.replace(staging, target)
    return target


def _run_converter(script: str, args: list[str]) -> None:
    tools = converter_dir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tools / "gguf-py"), str(tools)]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.setdefault("HF_HUB_OFFLINE", "1")
    done = subprocess.run(
        [sys.executable, str(tools / script), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise ExportError(f"{script} failed: {done.stderr.strip()[-800:]}")


def merge_adapter(adapter_dir: Path, model: str, out_dir: Path) -> Path:
    """Fold the LoRA adapter into the base weights and save a Hugging Face checkpoint."""
    from .sft import load_base, require_stack

    require_stack()
    PeftModel = require("peft", extra="train", feature="merging an adapter").PeftModel

    base, tokenizer = load_base(model)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    return out_dir


def to_gguf(merged_dir: Path, out_file: Path, outtype: str = "q8_0") -> Path:
    out_file.parent.mkdir(parents=True, exist_ok=True)
    _run_converter(
        "convert_hf_to_gguf.py", [str(merged_dir), "--outfile", str(out_file), "--outtype", outtype]
    )
    return out_file


def lora_to_gguf(
    adapter_dir: Path, base_config_dir: Path, out_file: Path, outtype: str = "f16"
) -> Path:
    """The adapter alone in llama.cpp's LoRA format (``base_config_dir``: config + tokenizer).

    f16 by default, keeping the adapter's weights as trained: a q8_0 export applied to the
    base gave different greedy output from the merged model on a training context
    (docs/training.md).
    """
    out_file.parent.mkdir(parents=True, exist_ok=True)
    _run_converter(
        "convert_lora_to_gguf.py",
        [str(adapter_dir), "--base", str(base_config_dir), "--outfile", str(out_file),
         "--outtype", outtype],
    )  # fmt: skip
    return out_file


def export_all(adapter_dir: Path, out_dir: Path, model: str, name: str) -> ExportReport:
    """Merged checkpoint, merged GGUF and LoRA GGUF for ``adapter_dir``, under ``out_dir``."""
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ExportError(f"{adapter_dir} holds no PEFT adapter (adapter_config.json missing)")
    merged = merge_adapter(adapter_dir, model, out_dir / "merged")
    gguf = to_gguf(merged, out_dir / f"{name}.q8_0.gguf")
    lora = lora_to_gguf(adapter_dir, merged, out_dir / f"{name}.lora.gguf")
    return ExportReport(
        adapter_dir=str(adapter_dir),
        merged_dir=str(merged),
        gguf=str(gguf),
        gguf_sha256=sha256_of(gguf),
        gguf_bytes=gguf.stat().st_size,
        lora_gguf=str(lora),
        lora_sha256=sha256_of(lora),
        lora_bytes=lora.stat().st_size,
    )
