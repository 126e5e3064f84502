"""Turn a model spec string from the command line or a config into a backend.

Five forms:

* a registry name, e.g. ``qwen2.5-coder-0.5b``: run in-process with llama.cpp;
* a trained model shipped with the package, e.g. ``smollm2-135m-async``: its registry base
  model with its LoRA adapter applied (see :mod:`specagent.train.trained`);
* ``<registry name>+<adapter.gguf>``, e.g. ``qwen2.5-coder-0.5b+run/export/x.lora.gguf``: a
  LoRA adapter of one's own (a training checkpoint, say) on a registry base model; nothing
  pins the adapter's hash, so this form is for trying a model, not for shipping one;
* a path to a ``.gguf`` file, e.g. an exported merged model;
* ``openai:<model>@<base_url>``, e.g. ``openai:qwen@http://127.0.0.1:8000/v1``: stream from an
  OpenAI-compatible server.
"""

from __future__ import annotations

from pathlib import Path

from ..clock import Clock
from ..profiles import LatencyProfile
from .base import ModelBackend
from .registry import MODELS

__all__ = ["ADAPTER_SEPARATOR", "OPENAI_PREFIX", "load_backend", "spec_help"]

OPENAI_PREFIX = "openai:"
ADAPTER_SEPARATOR = "+"


def spec_help() -> str:
    """The accepted forms, for error messages and --help texts."""
    from ..train.trained import TRAINED_MODELS

    return (
        f"a local model ({', '.join([*MODELS, *TRAINED_MODELS])}), "
        f"'<local model>{ADAPTER_SEPARATOR}<adapter.gguf>', a path to a .gguf file, or "
        f"'{OPENAI_PREFIX}<model>@<base_url>' (e.g. openai:qwen@http://127.0.0.1:8000/v1)"
    )


def load_backend(spec: str, clock: Clock, profile: LatencyProfile) -> ModelBackend:
    """Build the backend ``spec`` names; :class:`ValueError` if it names nothing known."""
    if spec.startswith(OPENAI_PREFIX):
        model, sep, base_url = spec[len(OPENAI_PREFIX) :].partition("@")
        if not sep or not model or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"malformed model spec {spec!r}; expected {spec_help()}")
        from .openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(base_url, model, clock, profile=profile)
    if spec in MODELS:
        from .llamacpp import LlamaCppBackend

        return LlamaCppBackend.from_registry(spec, clock, profile)
    from ..train.trained import TRAINED_MODELS, trained_model_files

    if spec in TRAINED_MODELS:
        from .llamacpp import LlamaCppBackend

        base, adapter = trained_model_files(spec)
        backend = LlamaCppBackend(base, clock, profile, lora_path=adapter)
        backend.name = spec
        return backend
    base, sep, adapter = spec.partition(ADAPTER_SEPARATOR)
    if sep and base in MODELS:
        return _with_adapter(spec, base, Path(adapter), clock, profile)
    if sep and not Path(spec).is_file():
        raise ValueError(
            f"unknown model {base!r} before '{ADAPTER_SEPARATOR}' in {spec!r}; "
            f"an adapter goes on one of: {', '.join(MODELS)}"
        )
    if spec.endswith(".gguf"):
        from .llamacpp import LlamaCppBackend

        return LlamaCppBackend(Path(spec), clock, profile)
    raise ValueError(f"unknown model {spec!r}; use {spec_help()}")


def _with_adapter(
    spec: str, base: str, adapter: Path, clock: Clock, profile: LatencyProfile
) -> ModelBackend:
    from .base import ModelNotInstalledError
    from .llamacpp import LlamaCppBackend
    from .registry import ensure_model

    if adapter.suffix != ".gguf":
        raise ValueError(
            f"malformed model spec {spec!r}: after '{ADAPTER_SEPARATOR}' comes a LoRA adapter "
            "in llama.cpp's GGUF format (a .gguf file, as `specagent export` writes)"
        )
    if not adapter.is_file():
        raise ModelNotInstalledError(f"adapter {adapter} in model spec {spec!r} does not exist")
    backend = LlamaCppBackend(ensure_model(base), clock, profile, lora_path=adapter)
    backend.name = f"{base}{ADAPTER_SEPARATOR}{adapter.name}"
    return backend
