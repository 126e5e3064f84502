"""Benchmark reports: ``results.json`` (schema in ``docs/bench.md``), CSV and the terminal table.

Plots and the HTML page are drawn from the same ``results.json`` by
:mod:`specagent.bench.plots` and :mod:`specagent.bench.html`, so every figure in a report is
traceable to one file.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .metrics import PolicyMetrics, by_category, summarise
from .outcome import EpisodeOutcome
from .settings import BenchSettings

__all__ = [
    "SCHEMA",
    "build_results",
    "print_summary",
    "print_table",
    "verdicts",
    "write_csv",
    "write_results",
]

SCHEMA = "specagent.bench/1"


def build_results(
    settings: BenchSettings,
    datasets: Sequence[str],
    policies: Sequence[str],
    outcomes: Sequence[EpisodeOutcome],
    *,
    command: str,
    wall_s: float,
    limit: int | None,
    split: str | None = None,
    code: dict[str, Any] | None = None,
    reused: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole run as one JSON-able document.

    ``code`` says which code produced the rows (``{"hash", "git"}``) and ``reused`` which
    stored rows of earlier runs of the same code and settings were taken instead of rerun.
    """
    overall = summarise(outcomes, seed=settings.seed)
    by_dataset = {
        name: {
            "episodes": len({o.episode_id for o in outcomes if o.dataset == name}),
            "policies": {
                p: m.to_json()
                for p, m in summarise(
                    [o for o in outcomes if o.dataset == name], seed=settings.seed
                ).items()
            },
            "by_category": by_category([o for o in outcomes if o.dataset == name]),
        }
        for name in datasets
    }
    return {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "settings": settings.to_json(),
        "settings_key": settings.key(),
        "datasets": list(datasets),
        "split": split,
        "policies_requested": list(policies),
        "limit": limit,
        "code_version": code,
        "reused_rows": reused or [],
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "wall_s": round(wall_s, 2),
        "policies": {p: m.to_json() for p, m in overall.items()},
        "by_dataset": by_dataset,
        "episodes": [o.to_json() for o in outcomes],
    }


def write_results(results: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    return path


_CSV_FIELDS = [
    "dataset",
    "episode_id",
    "policy",
    "passed",
    "latency_s",
    "first_token_latency_s",
    "turns",
    "tokens_generated",
    "protocol_errors",
    "calls_issued",
    "calls_run_early",
    "calls_wasted",
    "calls_compensated",
    "calls_held",
    "draft_tokens",
    "draft_tokens_kept",
    "unrequested_calls",
    "category",
    "wall_s",
    "error",
    "check_detail",
]


def write_csv(outcomes: Sequence[EpisodeOutcome], out_dir: Path) -> Path:
    """One row per episode run."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "episodes.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=_CSV_FIELDS)
        writer.writeheader()
        for o in outcomes:
            row = {k: getattr(o, k) for k in _CSV_FIELDS if k != "turns"}
            row["turns"] = len(o.turns)
            writer.writerow(row)
    return path


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def _ci(m: PolicyMetrics) -> str:
    if m.mean_latency_ci is None:
        return ""
    return f" [{m.mean_latency_ci.low:.2f}, {m.mean_latency_ci.high:.2f}]"


def print_table(console: Console, title: str, metrics: dict[str, PolicyMetrics]) -> None:
    table = Table(title=title, title_justify="left")
    for column, justify in [
        ("policy", "left"),
        ("accuracy", "right"),
        ("answered", "right"),
        ("mean latency [95% CI]", "right"),
        ("median", "right"),
        ("p90", "right"),
        ("speedup (means)", "right"),
        ("speedup (median)", "right"),
        ("oracle gap", "right"),
        ("early / wasted / comp.", "right"),
        ("extra tok", "right"),
        ("draft kept", "right"),
        ("unreq. calls", "right"),
        ("proto err", "right"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for m in metrics.values():
        table.add_row(
            m.policy,
            f"{100 * m.accuracy:.1f}%",
            f"{m.answered}/{m.episodes}",
            _fmt(m.mean_latency_s, " s") + _ci(m),
            _fmt(m.median_latency_s, " s"),
            _fmt(m.p90_latency_s, " s"),
            _fmt(m.speedup_vs_sync, "x"),
            _fmt(m.median_speedup_vs_sync, "x"),
            _fmt(m.oracle_gap, "x"),
            f"{m.calls_run_early} / {m.calls_wasted} / {m.calls_compensated}",
            "-" if m.extra_tokens_vs_sync is None else f"{m.extra_tokens_vs_sync:+d}",
            f"{m.draft_tokens_kept}/{m.draft_tokens}" if m.draft_tokens else "-",
            "-" if m.unrequested_calls is None else str(m.unrequested_calls),
            str(m.protocol_errors + m.errors),
        )
    console.print(table)


def _speedup(m: PolicyMetrics) -> str:
    if m.policy == "sync" or m.speedup_vs_sync is None:
        return "-" if m.policy != "sync" else "1.00x"
    return f"{m.speedup_vs_sync:.2f}x"


def print_summary(console: Console, title: str, metrics: dict[str, PolicyMetrics]) -> None:
    """The table a person reads first (fits 100 columns): accuracy, latency, speedup, same
    pass/fail as sync, unrequested calls. The wide table (:func:`print_table`) has the rest."""
    table = Table(title=title, title_justify="left")
    for column, justify in [
        ("policy", "left"),
        ("accuracy", "right"),
        ("mean latency", "right"),
        ("median", "right"),
        ("speedup vs sync", "right"),
        ("same pass/fail as sync", "right"),
        ("unrequested calls", "right"),
    ]:
        table.add_column(column, justify=justify, overflow="fold", max_width=12)  # type: ignore[arg-type]
    for m in metrics.values():
        table.add_row(
            m.policy,
            f"{m.passed}/{m.episodes} ({100 * m.accuracy:.0f}%)",
            _fmt(m.mean_latency_s, " s"),
            _fmt(m.median_latency_s, " s"),
            _speedup(m),
            "-" if m.same_as_sync is None else f"{m.same_as_sync}/{m.same_as_sync_of}",
            "-" if m.unrequested_calls is None else str(m.unrequested_calls),
        )
    console.print(table)


def verdicts(metrics: dict[str, PolicyMetrics]) -> list[str]:
    """One plain sentence per policy: does it answer like sync, and is it faster?"""
    sync = metrics.get("sync")
    lines = []
    for m in metrics.values():
        right = m.passed
        unreq = "" if not m.unrequested_calls else f", {m.unrequested_calls} unrequested call(s)"
        if m.policy == "sync":
            lat = _fmt(m.mean_latency_s, " s")
            lines.append(
                f"sync: the baseline, {right}/{m.episodes} right, mean latency {lat}{unreq}."
            )
            continue
        if sync is None or m.same_as_sync is None:
            lines.append(f"{m.policy}: {right}/{m.episodes} right{unreq} (no sync run to compare).")
            continue
        if m.same_as_sync == m.same_as_sync_of:
            same = f"same answers as sync on {m.same_as_sync}/{m.same_as_sync_of}"
        else:
            sync_right = sync.passed
            same = (
                f"{right}/{m.episodes} right against sync's {sync_right}/{sync.episodes}, "
                f"same pass/fail on {m.same_as_sync}/{m.same_as_sync_of}"
            )
        ratio = None if m.speedup_vs_sync is None else round(m.speedup_vs_sync, 2)
        if ratio is None:
            speed = "no episode answered by both"
        elif ratio == 1.0:
            speed = "as fast (1.00x)"
        elif ratio > 1.0:
            speed = f"{ratio:.2f}x faster"
        else:
            speed = f"{1 / m.speedup_vs_sync:.2f}x slower"
        lines.append(f"{m.policy}: {same}, {speed}{unreq}.")
    return lines
