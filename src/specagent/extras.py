"""Optional features and the one place that says which extra to install for each.

``pip install specagent`` gives the runtime (sessions, policies, tools, models through
llama.cpp or an OpenAI-compatible server). Everything else is an extra: ``voice``, ``bench``,
``actions``, ``train``, ``ray``, ``mcp``, ``otel``, ``all``. Code that needs an extra's package
imports it through :func:`require`, so a missing package is one line naming the extra, never a
traceback; the command line prints that line and exits with status 2.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import SpecagentError

__all__ = ["EXTRAS", "MissingExtraError", "require"]

EXTRAS: dict[str, str] = {
    "voice": "speech in and out (faster-whisper, piper, pocketsphinx)",
    "bench": "benchmark reports (matplotlib plots, Jinja2 HTML)",
    "actions": "speculative actions on chess (python-chess)",
    "train": "fine-tuning (torch, transformers, peft, trl, datasets)",
    "ray": "benchmarks across a Ray cluster",
    "mcp": "tools from MCP servers (the mcp SDK)",
    "otel": "OpenTelemetry traces (opentelemetry-sdk, OTLP exporter)",
}
"""What each extra brings; ``all`` is every one of them except ``train`` (see README)."""


class MissingExtraError(SpecagentError, ImportError):
    """Raised when a feature needs a package from an extra that is not installed."""

    def __init__(self, extra: str, module: str, feature: str, hint: str = "") -> None:
        self.extra, self.module, self.feature = extra, module, feature
        super().__init__(
            f"{feature} needs the '{extra}' extra (module {module!r} is not installed): "
            f"pip install 'specagent[{extra}]'" + (f" ({hint})" if hint else "")
        )


def require(module: str, *, extra: str, feature: str, hint: str = "") -> ModuleType:
    """Import ``module`` (dotted names allowed) or raise :class:`MissingExtraError`.

    Only a missing ``module`` (or a missing parent package of it) is reported as a missing
    extra; an installed package that fails on import for another reason keeps its own error.
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module == missing or module.startswith(missing + ".")):
            raise MissingExtraError(extra, module, feature, hint) from None
        raise
