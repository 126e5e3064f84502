"""Turn a model spec string from the command line or a config into a backend.

Three forms:

* a registry name, e.g. ``qwen2.5-coder-0.5b``: run in-process with llama.cpp;
* a trained model shipped with the package, e.g. ``smollm2-135m-async``: its registry base
  model with its LoRA adapter applied (see :mod:`specagent.train.trained`);
* ``openai:<model>@<base_url>``, e.g. ``openai:qwen@http://127.0.0.1:8000/v1``: stream from an
  OpenAI-compatible server.
"""

from __future__ import annotations

from ..clock import Clock
from ..profiles import LatencyProfile
from .base import ModelBackend
from .registry import MODELS

__all__ = ["OPENAI_PREFIX", "load_backend", "spec_help"]

OPENAI_PREFIX = "openai:"


def spec_help() -> str:
    """The accepted forms, for error messages and --help texts."""
    from ..train.trained import TRAINED_MODELS

    return (
        f"a local model ({', '.join([*MODELS, *TRAINED_MODELS])}) or "
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
    raise ValueError(f"unknown model {spec!r}; use {spec_help()}")
