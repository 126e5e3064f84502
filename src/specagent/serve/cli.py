"""``specagent serve``: the command that starts the server (mounted by :mod:`specagent.cli`).

Imports the server's packages only when the command runs, so the rest of the command line works
without the ``serve`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..models.registry import DEFAULT_MODEL

__all__ = ["serve"]

err = Console(stderr=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    model: Annotated[
        str,
        typer.Option(help="Registry name, openai:MODEL@BASE_URL, or 'scripted' (a test stand-in)."),
    ] = DEFAULT_MODEL,
    policy: Annotated[
        str, typer.Option(help="Policy of a new conversation: sync, async or speculative.")
    ] = "speculative",
    profile: Annotated[str, typer.Option(help="Latency profile of the model.")] = "measured",
    store: Annotated[
        Path | None, typer.Option(help="SQLite file keeping every conversation (resumable).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="SPECAGENT_TOKEN",
            help="Clients must present it (?token= or Authorization: Bearer). "
            "Required to listen beyond 127.0.0.1.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the example tools' latencies.")] = 0,
    audio: Annotated[
        str,
        typer.Option(
            help="Hear clients' microphones: auto (when the voice extra and its models are "
            "installed), on, or off."
        ),
    ] = "auto",
) -> None:
    """Serve conversations over WebSocket (/ws) and a live page (/)."""
    try:
        from ..agent import Policy
        from ..models.base import ModelError
        from .app import BindError, Hub, ServeConfig, ServerClock, check_bind, example_tools
        from .app import stored_until
        from .models import load_provider
        from .server import run
    except ImportError as exc:
        err.print(
            f"[red]error:[/red] {exc.name} is missing: install the serve extra "
            "(pip install -e '.[serve]')"
        )
        raise typer.Exit(2) from None
    try:
        check_bind(host, token)
        config = ServeConfig(policy=Policy.parse(policy), token=token, store_path=store)
    except (BindError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    clock = ServerClock(stored_until(store))
    try:
        provider = load_provider(model, clock, profile)
    except (ModelError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if audio not in ("auto", "on", "off"):
        err.print(f"[red]error:[/red] --audio must be auto, on or off, not {audio!r}")
        raise typer.Exit(2)
    engines = None
    if audio != "off":
        try:
            from .audio import AudioEngines

            engines = AudioEngines(clock)
        except (ImportError, RuntimeError, OSError) as exc:  # the voice extra or its models
            if audio == "on":
                err.print(f"[red]error:[/red] cannot hear audio: {exc}")
                raise typer.Exit(2) from None
            err.print(f"[dim]no microphone input: {exc}[/dim]")
    hub = Hub(config, provider, example_tools(seed), clock, audio=engines)
    err.print(f"specagent serve: http://{host}:{port}/  (model {provider.name}, policy {policy})")
    run(hub, host=host, port=port)
