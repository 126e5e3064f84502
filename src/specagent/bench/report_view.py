"""What the HTML report shows, as data: the page, its tables, and each episode's runs.

Everything here is computed from the results document and from the structured fields of the
runner's timeline rows (``kind``, ``call``, ``tool``, ``status``, ``start``, ``interrupted``,
``final``, ``answer``; see :class:`specagent.bench.timeline_rows.TimelineRecorder`) and the
session's own call reports, never from the display text: call bars in :mod:`.report_calls`,
each run's lane drawing in :mod:`.report_lanes`, the tables and sections of the page here. The
markup lives in the Jinja2 templates beside this module (``templates/report.html``); these
modules only decide positions, classes and labels.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .metrics import Interval, PolicyMetrics
from .outcome import EpisodeOutcome
from .report_calls import STATUS_COLOURS, STATUS_LEGEND, CallBar, CallSpan, call_bars
from .report_lanes import LanesView, lanes_view
from .results_doc import LATENCY_CDF_PNG, SPEEDUP_PNG, RunReport, policy_colour

__all__ = [
    "STATUS_COLOURS",
    "CallBar",
    "CallSpan",
    "PageView",
    "call_bars",
    "page_view",
]

# -- tables and sections --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    ci: str = ""


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"


def _ci(interval: Interval | None, scale: float = 1.0, digits: int = 2) -> str:
    if interval is None:
        return ""
    return f"[{interval.low * scale:.{digits}f}, {interval.high * scale:.{digits}f}]"


METRIC_COLUMNS = (
    "policy",
    "accuracy [95% CI]",
    "answered",
    "mean latency [95% CI]",
    "median",
    "p90",
    "first token",
    "speedup (means) [95% CI]",
    "speedup (median)",
    "oracle gap",
    "calls: issued / early / wasted / comp. / held",
    "extra tokens vs sync",
    "draft tokens kept / checked",
    "protocol errors",
    "crashed",
)


@dataclass(frozen=True)
class MetricRow:
    policy: str
    colour: str
    cells: list[Cell]


def metric_rows(metrics: Mapping[str, PolicyMetrics], order: Sequence[str]) -> list[MetricRow]:
    rows = []
    for name in [p for p in order if p in metrics] + [p for p in metrics if p not in order]:
        m = metrics[name]
        extra = "–" if m.extra_tokens_vs_sync is None else f"{m.extra_tokens_vs_sync:+d}"
        calls = (
            f"{m.calls_issued} / {m.calls_run_early} / {m.calls_wasted} / "
            f"{m.calls_compensated} / {m.calls_held}"
        )
        cells = [
            Cell(f"{100 * m.accuracy:.1f}%", _ci(m.accuracy_ci, 100, 1)),
            Cell(f"{m.answered}/{m.episodes}"),
            Cell(_fmt(m.mean_latency_s, " s"), _ci(m.mean_latency_ci)),
            Cell(_fmt(m.median_latency_s, " s")),
            Cell(_fmt(m.p90_latency_s, " s")),
            Cell(_fmt(m.mean_first_token_latency_s, " s")),
            Cell(_fmt(m.speedup_vs_sync, "×"), _ci(m.speedup_vs_sync_ci)),
            Cell(_fmt(m.median_speedup_vs_sync, "×")),
            Cell(_fmt(m.oracle_gap, "×")),
            Cell(calls),
            Cell(extra),
            Cell(f"{m.draft_tokens_kept} / {m.draft_tokens}" if m.draft_tokens else "–"),
            Cell(str(m.protocol_errors)),
            Cell(str(m.errors)),
        ]
        rows.append(MetricRow(name, policy_colour(name, order), cells))
    return rows


@dataclass(frozen=True)
class RunView:
    outcome: EpisodeOutcome
    verdict: str
    colour: str
    lanes: LanesView
    latency: str
    first_token: str
    turn_latencies: list[str]


@dataclass(frozen=True)
class EpisodeView:
    dataset: str
    episode_id: str
    search: str
    states: str
    badges: list[tuple[str, str, str]]
    """(verdict, policy, label) per run."""
    first_user: str
    runs: list[RunView]


def _verdict(outcome: EpisodeOutcome) -> str:
    return "pass" if outcome.passed else ("error" if outcome.error else "fail")


def episode_view(
    key: tuple[str, str], runs: list[EpisodeOutcome], order: Sequence[str]
) -> EpisodeView:
    dataset, episode_id = key
    runs = sorted(runs, key=lambda r: order.index(r.policy) if r.policy in order else len(order))
    t_max = max([float(row.get("t", 0.0)) for r in runs for row in r.timeline] + [0.1]) * 1.02
    verdicts = {r.passed for r in runs}
    states = []
    if False in verdicts:
        states.append("fail-any")
    if len(verdicts) > 1:
        states.append("disagree")
    if any(r.error for r in runs):
        states.append("error")
    first_user = runs[0].turns[0].user if runs and runs[0].turns else ""
    words = [dataset, episode_id, *(t.user for r in runs[:1] for t in r.turns)]
    words += [r.check_detail for r in runs] + [t.answer or "" for r in runs for t in r.turns]
    badges = [
        (_verdict(r), r.policy, f"{r.policy} {'✓' if r.passed else '✗'} {_fmt(r.latency_s, ' s')}")
        for r in runs
    ]
    views = [
        RunView(
            outcome=r,
            verdict=_verdict(r),
            colour=policy_colour(r.policy, order),
            lanes=lanes_view(r, t_max),
            latency=_fmt(r.latency_s, " s"),
            first_token=_fmt(r.first_token_latency_s, " s"),
            turn_latencies=[_fmt(t.latency_s, " s") for t in r.turns],
        )
        for r in runs
    ]
    short = first_user if len(first_user) <= 110 else first_user[:109] + "…"
    return EpisodeView(
        dataset, episode_id, " ".join(words).lower(), " ".join(states), badges, short, views
    )


@dataclass(frozen=True)
class PageView:
    report: RunReport
    caption: str
    settings: list[tuple[str, str]]
    overall: list[MetricRow]
    datasets: list[tuple[str, int, list[MetricRow]]]
    plots: list[tuple[str, str]]
    """(alt text, data URI) per plot found beside the page."""
    legend: list[tuple[str, str]]
    episodes: list[EpisodeView]
    columns: Sequence[str] = METRIC_COLUMNS


def _plots(out_dir: Path) -> list[tuple[str, str]]:
    images = []
    for name, alt in ((LATENCY_CDF_PNG, "latency CDF"), (SPEEDUP_PNG, "speedup vs accuracy")):
        path = out_dir / name
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            images.append((alt, f"data:image/png;base64,{data}"))
    return images


def _legend() -> list[tuple[str, str]]:
    items = [("#9ecae1", "user speech chunk"), ("#08519c", "last words")]
    items += [("#fdd0a2", "model generation"), ("#c6dbef", "call waiting")]
    items += [("#fdd49e", "held for commit point")]
    items += [(v, f"call {STATUS_LEGEND[k]}") for k, v in STATUS_COLOURS.items()]
    items += [("#fcbba1", "last word → answer"), ("#31a354", "answer done")]
    return items


def page_view(report: RunReport, out_dir: Path) -> PageView:
    order = report.policy_names
    episodes: dict[tuple[str, str], list[EpisodeOutcome]] = {}
    for outcome in report.episodes:
        episodes.setdefault((outcome.dataset, outcome.episode_id), []).append(outcome)
    settings = [("created", report.created)]
    settings += [(k, json.dumps(v, default=str)) for k, v in report.settings.items()]
    settings += [("settings key", report.settings_key), ("datasets", ", ".join(report.datasets))]
    settings += [("limit", str(report.limit)), ("wall time", f"{report.wall_s:.1f} s")]
    settings += [(f"machine {k}", str(v)) for k, v in report.machine.items()]
    return PageView(
        report=report,
        caption=report.caption(),
        settings=settings,
        overall=metric_rows(report.policies, order),
        datasets=[
            (name, section.episodes, metric_rows(section.policies, order))
            for name, section in report.by_dataset.items()
        ],
        plots=_plots(out_dir),
        legend=_legend(),
        episodes=[episode_view(k, runs, order) for k, runs in episodes.items()],
    )
