"""``specagent bench``: run policies over benchmark episodes and write the reports.

Kept apart from :mod:`specagent.cli` (which mounts it) so the benchmark's options and their
checks live with the harness they drive.

With no options it runs the main job: the fixed ``assistant-quick`` subset of the assistant
benchmark's test split under ``sync``, ``verified`` and ``speculative`` on the default model,
and prints one table and a one-line verdict per policy.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..agent import Policy
from ..agent.records import session_config
from ..mcptools.cli import MCP_HELP, TOOL_EFFECT_HELP, McpOptions
from ..mcptools.errors import McpError
from ..models.base import ModelError
from ..models.registry import DEFAULT_MODEL
from ..profiles import PROFILES
from ..tracing import TracingError, use_trace_option
from .datasets import DATASETS, DatasetUnavailable, UnknownDataset
from .html import write_html
from .metrics import summarise
from .report import build_results, print_summary, print_table, verdicts, write_csv, write_results
from .runner import BenchSettings
from .store import ResultStore, code_version, git_describe
from .suite import BenchProgress, plan_runs, run_bench

__all__ = ["MAIN_JOB_POLICIES", "QUICK_SUITE", "SPLITS", "bench"]

QUICK_SUITE = ("assistant-quick",)
"""What ``specagent bench`` runs with no ``--dataset``: minutes on two CPU cores."""
MAIN_JOB_POLICIES = "sync,verified,speculative"
"""The main job's policies: the baseline, the lossless one and the streaming one."""
SPLITS = ("test", "train")

err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    """One line on stderr, exit status 2 (bad input is never a traceback)."""
    one_line = " ".join(str(message).split())
    err.print(f"[red]error:[/red] {one_line}", highlight=False, soft_wrap=True, markup=True)
    return typer.Exit(2)


def _parse_policies(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise _fail("give at least one policy with --policies")
    for name in names:
        try:
            Policy.parse(name)
        except ValueError as exc:
            raise _fail(str(exc)) from None
    if len(set(names)) != len(names):
        raise _fail("a policy is listed twice in --policies")
    return names


def _parse_latency(text: str) -> tuple[float, float]:
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not 0 <= parts[0] <= parts[1]:
        raise _fail("--tool-latency expects LOW,HIGH seconds with 0 <= LOW <= HIGH (or one value)")
    return parts[0], parts[1]


def bench(
    dataset: Annotated[
        str,
        typer.Option(
            help="Comma-separated datasets ("
            + ", ".join(DATASETS)
            + ", or jsonl:PATH). Default: the main job's assistant-quick."
        ),
    ] = ",".join(QUICK_SUITE),
    policies: Annotated[
        str,
        typer.Option(
            help="Comma-separated: sync, async, speculative, oracle, verified, sync-draft "
            "(sync-draft needs --draft-model)."
        ),
    ] = MAIN_JOB_POLICIES,
    limit: Annotated[
        int | None, typer.Option(min=1, help="First N episodes of each dataset.")
    ] = None,
    split: Annotated[str, typer.Option(help="test or train.")] = "test",
    episode: Annotated[
        list[str] | None,
        typer.Option(help="Only this episode id (repeatable), e.g. to rerun a few."),
    ] = None,
    model: Annotated[str, typer.Option(help="Registry name or openai:MODEL@BASE_URL.")] = (
        DEFAULT_MODEL
    ),
    clock: Annotated[str, typer.Option(help="virtual or real.")] = "virtual",
    profile: Annotated[
        str, typer.Option(help=f"Latency profile: {', '.join(PROFILES)}.")
    ] = "measured",
    seed: Annotated[int, typer.Option(help="Seed of tool latencies and speech.")] = 0,
    wpm: Annotated[float, typer.Option(min=1, help="Speaking rate, words per minute.")] = 150.0,
    chunk_words: Annotated[int, typer.Option(min=1, help="Words per partial update.")] = 3,
    speech: Annotated[str, typer.Option(help="plain or naturalistic.")] = "plain",
    tool_latency: Annotated[
        str, typer.Option(help="Tool latency LOW,HIGH seconds (uniform).")
    ] = "0.5,1.0",
    workers: Annotated[int, typer.Option(min=1, help="Local worker processes.")] = 1,
    ray: Annotated[
        str | None,
        typer.Option("--ray", help="Ray cluster address ('local' starts a private one)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("bench-results"),
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Ignore stored results in OUT and run everything.")
    ] = False,
    detail: Annotated[
        bool, typer.Option("--detail", help="Also print the wide table and accuracy by category.")
    ] = False,
    list_datasets: Annotated[
        bool, typer.Option("--list", help="List the datasets and exit.")
    ] = False,
    mcp: Annotated[
        list[str] | None, typer.Option("--mcp", help=MCP_HELP + " jsonl: datasets only.")
    ] = None,
    tool_effect: Annotated[
        list[str] | None, typer.Option("--tool-effect", help=TOOL_EFFECT_HELP)
    ] = None,
    trace: Annotated[
        str | None,
        typer.Option("--trace", help="OpenTelemetry spans: console, otlp or a .jsonl file."),
    ] = None,
    draft_model: Annotated[
        str | None,
        typer.Option(
            "--draft-model",
            help="A faster model: verified's speculator and sync-draft's drafter "
            "(e.g. qwen2.5-coder-0.5b).",
        ),
    ] = None,
    draft_profile: Annotated[
        str | None,
        typer.Option(
            "--draft-profile", help="The draft model's latency profile (default: --profile)."
        ),
    ] = None,
    session_option: Annotated[
        list[str] | None,
        typer.Option(
            "--session-option",
            help="A SessionConfig field, NAME=VALUE (repeatable), e.g. check_claims=false.",
        ),
    ] = None,
) -> None:
    """Benchmark policies on tool-calling episodes: latency, speedup and accuracy, with reports."""
    console = Console()
    if not console.is_terminal:  # a log file: room for the wide table
        console = Console(width=170 if detail else 100)
    if list_datasets:
        for info in DATASETS.values():
            console.print(f"[bold]{info.name:32}[/bold] {info.description}")
        console.print(f"[bold]{'jsonl:PATH':32}[/bold] Your own episodes (docs/bench.md).")
        return
    from . import plots  # noqa: F401 - the bench extra (matplotlib), checked before any run

    names = [d.strip() for d in dataset.split(",") if d.strip()]
    if split not in SPLITS:
        raise _fail(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    if profile not in PROFILES:
        raise _fail(f"unknown latency profile {profile!r}; known: {', '.join(PROFILES)}")
    policy_names = _parse_policies(policies)
    if "sync-draft" in policy_names and draft_model is None:
        raise _fail("the sync-draft policy needs --draft-model (e.g. qwen2.5-coder-0.5b)")
    if draft_profile is not None and draft_profile not in PROFILES:
        raise _fail(f"unknown latency profile {draft_profile!r}; known: {', '.join(PROFILES)}")
    try:
        settings = BenchSettings(
            model=model,
            clock=clock,
            profile=profile,
            seed=seed,
            words_per_minute=wpm,
            chunk_words=chunk_words,
            speech=speech,
            tool_latency_s=_parse_latency(tool_latency),
            mcp=McpOptions.from_cli(mcp, tool_effect).servers,
            tool_effects=tuple(tool_effect or ()),
            draft_model=draft_model,
            draft_profile=draft_profile,
            session=session_config(session_option or ()),
        )
        use_trace_option(trace)
    except (McpError, TracingError, ValueError) as exc:
        raise _fail(escape(str(exc))) from None
    if mcp and not all(name.startswith("jsonl:") for name in names):
        raise _fail("--mcp applies to jsonl: episode files only")
    try:
        runs = plan_runs(names, policy_names, limit=limit, split=split, episode_ids=episode or ())
    except (UnknownDataset, DatasetUnavailable, FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if not runs:
        raise _fail(f"no episodes in {', '.join(names)} (split {split})")
    out.mkdir(parents=True, exist_ok=True)
    db = out / "results.sqlite"
    if fresh and db.exists():
        db.unlink()
    episodes = len(runs) // len(policy_names)
    command = "specagent " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    code = {"hash": code_version(), "git": git_describe()}
    console.print(
        f"[bold]specagent bench[/bold]: {episodes} episodes x {len(policy_names)} policies "
        f"({', '.join(policy_names)}) | {', '.join(names)} ({split}) | model {model} | "
        f"{clock} clock, profile {profile} | seed {seed} | code {code['hash']} | "
        f"results in {out}/",
        highlight=False,
    )
    started = time.perf_counter()
    with ResultStore(db, settings.key(), settings.to_json(), command=command) as store:
        reused = store.reused(runs)
        for rows in reused:
            console.print(
                f"reusing {rows.count} stored result(s) of this code and these settings from run "
                f"#{rows.run_id} ({rows.started}: {rows.command})",
                highlight=False,
            )
        stale = store.other_code_rows(settings.key())
        if stale:
            console.print(
                f"ignoring {stale} stored result(s) of other code versions", highlight=False
            )
        outcomes = _run(console, settings, runs, store, workers, ray, db)
    wall = time.perf_counter() - started
    results = build_results(
        settings,
        names,
        policy_names,
        outcomes,
        command=command,
        wall_s=wall,
        limit=limit,
        split=split,
        code=code,
        reused=[vars(r) for r in reused],
    )
    path = write_results(results, out)
    write_csv(outcomes, out)
    extras = _draw(results, out)
    for name in names:
        metrics = summarise([o for o in outcomes if o.dataset == name], seed=seed)
        title = f"{name} ({results['by_dataset'][name]['episodes']} episodes, profile {profile})"
        print_summary(console, title, metrics)
        if detail:
            print_table(console, title, metrics)
            _print_categories(console, results["by_dataset"][name]["by_category"])
        for line in verdicts(metrics):
            console.print(line, highlight=False)
    if len(names) > 1:
        print_summary(console, "all datasets", summarise(outcomes, seed=seed))
    console.print(f"wrote {path}, {out / 'episodes.csv'}" + "".join(f", {e}" for e in extras))
    console.print(f"wall time {wall:.0f} s")


def _run(
    console: Console, settings: BenchSettings, runs, store: ResultStore, workers: int, ray, db: Path
):
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("episodes", total=len(runs), last="")

        def on_progress(p: BenchProgress) -> None:
            o = p.outcome
            mark = "✓" if o.passed else ("!" if o.error else "✗")
            lat = "-" if o.latency_s is None else f"{o.latency_s:.2f}s"
            note = " (stored)" if p.reused else ""
            line = f"{o.dataset}/{o.episode_id} {o.policy} {mark} {lat}{note}"
            progress.update(task, completed=p.finished, last=line)
            if not console.is_terminal:  # a log file gets one line per run instead of a bar
                console.print(f"[{p.finished}/{p.total}] {line}", highlight=False)

        try:
            return run_bench(
                settings, runs, store, workers=workers, ray_address=ray, on_progress=on_progress
            )
        except ModelError as exc:
            err.print(f"[red]model error:[/red] {exc}\n(results so far are kept in {db})")
            raise typer.Exit(2) from None
        except McpError as exc:
            raise _fail(f"MCP: {escape(str(exc))}") from None


def _print_categories(console: Console, table: dict) -> None:
    for category, cells in table.items():
        parts = [f"{policy} {c['passed']}/{c['episodes']}" for policy, c in cells.items()]
        console.print(f"  {category:12} " + ", ".join(parts), highlight=False)


def _draw(results: dict, out: Path) -> list[Path]:
    """The PNG plots and the HTML page, drawn from ``results`` alone."""
    from .plots import draw_plots  # matplotlib: the bench extra, imported only to draw

    return [*draw_plots(results, out), write_html(results, out)]
