"""``specagent actions``: run the speculative-actions environments from the command line.

Three commands, each with a progress bar (on stderr), a summary table and ``--json`` for one
machine-readable object on stdout: ``chess`` (Stockfish against itself, sequential against
speculative per k), ``retail`` (tau2 retail, next-API-call speculation) and ``tuning`` (lossy
speculation on a simulated queue, against the Actor alone).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Speculative actions: a fast Speculator guesses what a slow Actor will do.",
)
_err = Console(stderr=True)


def _ks(text: str) -> list[int]:
    try:
        ks = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from None
    if not ks or any(k < 1 for k in ks):
        raise typer.BadParameter("every k must be >= 1", param_hint="--k")
    return ks


def _pct(x: float) -> str:
    return f"{x:.1%}"


@contextmanager
def _progress(total: int, label: str, quiet: bool) -> Iterator[Callable[[], None]]:
    if quiet:
        yield lambda: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def _emit(payload: dict[str, Any]) -> None:
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _fail(message: str) -> NoReturn:
    _err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


@app.command()
def chess(
    games: Annotated[int, typer.Option(help="Games (one per opening, at most 24).")] = 20,
    k: Annotated[
        str, typer.Option(help="Guesses per move, comma-separated: one run each.")
    ] = "1,2,3",
    depth: Annotated[int, typer.Option(help="Levels of speculation.")] = 1,
    engines: Annotated[
        int | None, typer.Option(help="Simulated engine instances (default: one per search).")
    ] = None,
    actor_nodes: Annotated[int, typer.Option(help="Actor search size (nodes).")] = 100_000,
    speculator_nodes: Annotated[int, typer.Option(help="Speculator search size.")] = 5_000,
    max_plies: Annotated[int, typer.Option(help="Plies per game after the opening.")] = 60,
    timing: Annotated[str, typer.Option(help="nodes (n/nps, deterministic) or wall.")] = "nodes",
    nps: Annotated[float | None, typer.Option(help="Nodes per second (default: measure).")] = None,
    stockfish: Annotated[str | None, typer.Option(help="Stockfish binary.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Stockfish plays itself; speculative games must equal the sequential ones move for move."""
    from .chess_env import ChessConfig, ChessConfigError, Timing
    from .chess_match import ChessVariant, run_chess
    from .openings import OPENINGS
    from .uci import UciError

    if timing not in ("nodes", "wall"):
        _fail(f"--timing must be nodes or wall, got {timing!r}")
    try:
        config = ChessConfig(
            actor_nodes=actor_nodes,
            speculator_nodes=speculator_nodes,
            max_plies=max_plies,
            timing=Timing(timing),
        )
        variants = [ChessVariant(k=kk, depth=depth, engines=engines) for kk in _ks(k)]
    except (ValueError, ChessConfigError) as exc:
        _fail(str(exc))
    if not 1 <= games <= len(OPENINGS):
        _fail(f"--games must be between 1 and {len(OPENINGS)}")
    total = games * max_plies * (1 + len(variants))
    try:
        with _progress(total, "plies", as_json) as tick:
            report = run_chess(
                config,
                variants,
                games=games,
                nps=nps,
                stockfish=stockfish,
                on_ply=lambda _label: tick(),
            )
    except UciError as exc:
        _fail(str(exc))
    data = report.to_json()
    if as_json:
        _emit(data)
        return
    out = Console()
    table = Table(
        title=f"chess: {games} games, Actor {actor_nodes:,} nodes, Speculator "
        f"{speculator_nodes:,} nodes ({report.engine}, {report.nps:,.0f} nodes/s, timing {timing})"
    )
    for col in (
        "variant",
        "plies",
        "guessed in time",
        "top-1",
        "top-k",
        "time saved",
        "lossless",
        "extra engine time",
    ):
        table.add_column(col)
    for v in data["variants"]:
        table.add_row(
            v["label"],
            str(v["plies"]),
            _pct(v["guessed_in_time"]),
            _pct(v["hit_rate_top1"]),
            _pct(v["hit_rate_topk"]),
            _pct(v["time_saved"]),
            f"{v['lossless_games']}/{v['games']}",
            _pct(v["extra_compute_vs_sequential"]),
        )
    out.print(table)
    acc = ", ".join(
        f"k={a['k']}: top-1 {_pct(a['top1'])}, top-k {_pct(a['topk'])}" for a in data["accuracy"]
    )
    out.print(f"Speculator accuracy on every sequential position: {acc}")


@app.command()
def retail(
    split: Annotated[str, typer.Option(help="tau2 retail split: test, train or base.")] = "test",
    k: Annotated[str, typer.Option(help="Guesses per call, comma-separated.")] = "1,2,3",
    next_step: Annotated[
        bool, typer.Option(help="Also start the agent's next step on a pre-launched result.")
    ] = True,
    profile: Annotated[
        str, typer.Option(help="Agent latency profile (modelled).")
    ] = "qwen0.5b-cpu2",
    seed: Annotated[int, typer.Option(help="Seed of tool latencies.")] = 0,
    limit: Annotated[int | None, typer.Option(help="Only the first N tasks.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Replay tau2 retail agent trajectories; guess each next API call, pre-launch lookups."""
    from .retail import (
        RetailTiming,
        RetailUnavailable,
        RetailVariant,
        load_retail_tasks,
        run_retail,
    )

    try:
        timing = RetailTiming(profile=profile)
        ks = _ks(k)
        tasks = load_retail_tasks(split)[:limit]
    except (ValueError, RetailUnavailable) as exc:
        _fail(str(exc))
    variants = [RetailVariant(k=kk) for kk in ks]
    if next_step:
        variants += [RetailVariant(k=kk, prelaunch_actor=True) for kk in ks]
    with _progress(len(tasks), "tasks", as_json) as tick:
        report = run_retail(
            variants,
            split=split,
            timing=timing,
            seed=seed,
            limit=limit,
            on_task=lambda _t: tick(),
        )
    data = report.to_json()
    if as_json:
        _emit(data)
        return
    out = Console()
    table = Table(
        title=f"tau2 retail ({split}): {report.tasks} tasks, {report.calls} agent API calls "
        f"({_pct(data['read_only_share'])} read-only); Actor = ground-truth replay, "
        f"agent latency {profile}"
    )
    for col in (
        "variant",
        "calls predicted (top-1)",
        "(top-k)",
        "pre-launched hits",
        "time saved",
        "lossless",
        "extra tool calls",
    ):
        table.add_column(col)
    for v in data["variants"]:
        table.add_row(
            v["label"],
            _pct(v["predicted_top1"]),
            _pct(v["predicted_topk"]),
            _pct(v["prelaunched_hits"]),
            _pct(v["time_saved"]),
            f"{v['lossless_tasks']}/{v['tasks']}",
            str(v["extra_tool_calls"]),
        )
    out.print(table)


@app.command()
def tuning(
    seeds: Annotated[int, typer.Option(help="Seeds (arrival streams).")] = 10,
    actor_think: Annotated[float, typer.Option(help="Actor decision time, s.")] = 15.0,
    actor_window: Annotated[float, typer.Option(help="Actor estimation window, s.")] = 30.0,
    speculator_window: Annotated[float, typer.Option(help="Speculator window, s.")] = 15.0,
    speculator_interval: Annotated[float, typer.Option(help="Speculator period, s.")] = 5.0,
    deadband: Annotated[int, typer.Option(help="Smallest change the Speculator makes.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Lossy speculation: staff a simulated queue through load shifts; compare to the Actor alone."""
    import dataclasses

    from .tuning import TuningConfig, TuningConfigError, run_tuning_study

    if seeds < 1:
        _fail("--seeds must be >= 1")
    try:
        cfg = TuningConfig(
            actor_think_s=actor_think,
            actor_window_s=actor_window,
            speculator_window_s=speculator_window,
            speculator_interval_s=speculator_interval,
            deadband=deadband,
        )
    except TuningConfigError as exc:
        _fail(str(exc))
    with _progress(2 * seeds, "runs", as_json) as tick:
        base, spec, _runs = run_tuning_study(cfg, range(seeds), on_run=lambda _r: tick())
    data = {
        "config": dataclasses.asdict(cfg),
        "actor_only": base.to_json(),
        "speculative": spec.to_json(),
    }
    if as_json:
        _emit(data)
        return
    out = Console()
    table = Table(
        title=f"lossy tuning of an M/M/c queue: {seeds} seeds x {base.shifts // seeds} load shifts"
    )
    for col in (
        "mode",
        "time to converge (mean)",
        "(median)",
        "settling (mean)",
        "excess cost",
        "speculator writes",
        "actor overwrites",
    ):
        table.add_column(col)
    for row in (data["actor_only"], data["speculative"]):
        table.add_row(
            row["mode"],
            f"{row['mean_time_to_converge_s']:.1f} s",
            f"{row['median_time_to_converge_s']:.1f} s",
            f"{row['mean_settling_s']:.1f} s",
            _pct(row["mean_excess_cost"]),
            str(row["speculator_writes"]),
            str(row["actor_overwrites"]),
        )
    out.print(table)
