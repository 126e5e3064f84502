"""The shipped trained model: a pinned LoRA adapter on a registry base, loadable by name."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from specagent.clock import VirtualClock
from specagent.models.base import ChatMessage, GenerationRequest, ModelNotInstalledError
from specagent.models.loader import load_backend, spec_help
from specagent.profiles import MeasuredProfile
from specagent.train import trained
from specagent.train.trained import TRAINED_MODELS, trained_model_files


def test_the_trained_model_is_offered_by_name() -> None:
    assert "smollm2-135m-async" in TRAINED_MODELS
    assert "smollm2-135m-async" in spec_help()
    with pytest.raises(ValueError, match="unknown trained model"):
        trained_model_files("no-such-model")


def test_a_missing_or_altered_adapter_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(trained, "ADAPTER_DIR", tmp_path)
    with pytest.raises(ModelNotInstalledError, match="missing"):
        trained_model_files("smollm2-135m-async")
    (tmp_path / TRAINED_MODELS["smollm2-135m-async"].adapter).write_bytes(b"GGUF tampered")
    with pytest.raises(ModelNotInstalledError, match="differs from the pinned"):
        trained_model_files("smollm2-135m-async")


@pytest.mark.real_model
def test_the_trained_model_loads_with_its_adapter_and_writes_the_protocol() -> None:
    clock = VirtualClock()
    backend = load_backend("smollm2-135m-async", clock, MeasuredProfile())
    assert backend.name == "smollm2-135m-async"
    assert backend.lora_path is not None and backend.lora_path.name.endswith(".lora.gguf")
    messages = [
        ChatMessage("system", "Answer with exactly one action: <tool_call>, <pause/> or <answer>."),
        ChatMessage("user", '<user final="true">Thank you, that is all.</user>'),
    ]

    async def main() -> str:
        async with contextlib.aclosing(
            backend.stream(GenerationRequest.of(messages, max_tokens=40))
        ) as pieces:
            text = "".join([piece async for piece in pieces])
        await backend.aclose()
        return text

    text = clock.run(main())
    assert text.lstrip().startswith("<")  # a protocol tag, not prose (the base model writes prose)


def test_specagent_models_lists_the_trained_model() -> None:
    from typer.testing import CliRunner

    from specagent.cli import app

    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "smollm2-135m-async" in result.output and "LoRA adapter" in result.output


def test_an_adapter_of_ones_own_is_named_base_plus_file(tmp_path: Path) -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match="LoRA adapter in llama.cpp's GGUF format"):
        load_backend("smollm2-135m+adapter.safetensors", clock, MeasuredProfile())
    with pytest.raises(ModelNotInstalledError, match="does not exist"):
        load_backend(f"smollm2-135m+{tmp_path / 'none.gguf'}", clock, MeasuredProfile())
    with pytest.raises(ModelNotInstalledError, match="does not exist"):
        load_backend(str(tmp_path / "merged.gguf"), clock, MeasuredProfile())
    with pytest.raises(ValueError, match="unknown model"):  # the base must be a registry model
        load_backend(f"gpt-17+{tmp_path / 'a.gguf'}", clock, MeasuredProfile())
    assert "<local model>+<adapter.gguf>" in spec_help()


@pytest.mark.real_model
def test_a_base_plus_adapter_spec_applies_the_adapter() -> None:
    adapter = trained.ADAPTER_DIR / TRAINED_MODELS["smollm2-135m-async"].adapter
    clock = VirtualClock()
    backend = load_backend(f"smollm2-135m+{adapter}", clock, MeasuredProfile())
    assert backend.lora_path == adapter
    assert backend.name == f"smollm2-135m+{adapter.name}"
    clock.run(backend.aclose())
