"""What the HTML report shows, as data: call bars, lane geometry, table rows.

Everything here is computed from the structured fields of the runner's timeline rows
(``kind``, ``call``, ``tool``, ``status``, ``start``, ``interrupted``, ``final``, ``answer``; see
:class:`specagent.bench.runner._TimelineRecorder`) and from the session's own call reports,
never from the display text. The markup lives in the Jinja2 templates beside this module
(``templates/report.html``); this module only decides positions, classes and labels.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .metrics import Interval, PolicyMetrics
from .results_doc import LATENCY_CDF_PNG, SPEEDUP_PNG, RunReport, policy_colour
from .runner import EpisodeOutcome

__all__ = [
    "STATUS_COLOURS",
    "CallBar",
    "CallSpan",
    "PageView",
    "call_bars",
    "page_view",
]

STATUS_COLOURS = {
    "issued": "#4e79a7",
    "held": "#f28e2b",
    "started": "#76b7b2",
    "done": "#59a14f",
    "failed": "#e15759",
    "cancelled": "#9d9d9d",
    "compensated": "#b07aa1",
    "removed": "#c9c1bd",
}
"""Fill of a tool call's bar by how it ended (``started``: still running when the run ended)."""

STATUS_LEGEND = {
    "issued": "issued, never started",
    "held": "still held at the end",
    "started": "still running at the end",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "compensated": "compensated (undone)",
    "removed": "removed by the model",
}

_KIND_STATUS = {
    "ToolCallIssued": "issued",
    "ToolCallRevised": "revised",
    "ToolCallRemoved": "removed",
    "ToolCallHeld": "held",
    "ToolCallStarted": "started",
    "ToolCallFinished": "done",
    "ToolCallFailed": "failed",
    "ToolCallCancelled": "cancelled",
    "ToolCallCommitted": "committed",
    "ToolCallCompensated": "compensated",
}
"""A row's call status from its event kind, for rows stored before ``status`` was recorded."""


# -- tool calls from timeline rows ------------------------------------------------------------


def _row_status(row: Mapping[str, Any]) -> str | None:
    status = row.get("status")
    if isinstance(status, str):
        return status
    return _KIND_STATUS.get(str(row.get("kind", "")))


@dataclass
class CallSpan:
    """One version of a call (a revision starts a new one under the same id)."""

    issued: float | None = None
    held: float | None = None
    started: float | None = None
    ended: float | None = None
    """When it first stopped running (done, failed, cancelled, removed)."""
    status: str = "issued"


@dataclass
class CallBar:
    """One tool call's life on the timeline (times relative to the episode's first event)."""

    call: int
    name: str = ""
    spans: list[CallSpan] = field(default_factory=list)
    committed: float | None = None
    marks: list[tuple[float, str]] = field(default_factory=list)
    """Later changes of an ended call, e.g. undone by compensation or cancelled at session end."""
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.spans[-1].status if self.spans else "issued"

    def current(self) -> CallSpan:
        if not self.spans:
            self.spans.append(CallSpan())
        return self.spans[-1]


def _apply(bar: CallBar, status: str, t: float) -> None:
    if status in ("issued", "revised"):
        if bar.spans and (status == "revised" or bar.current().issued is not None):
            span = bar.current()
            if span.ended is None:
                span.ended, span.status = t, "cancelled"
            bar.spans.append(CallSpan())
        bar.current().issued = t
        return
    span = bar.current()
    if status == "held":
        span.held = t if span.held is None else span.held
        if span.status == "issued":
            span.status = "held"
    elif status == "started":
        span.started, span.status = t, "started"
    elif status == "committed":
        bar.committed = t
    elif span.ended is None:
        span.ended, span.status = t, status
    else:  # it had already stopped: an undo recolours it, anything else is only marked
        if status == "compensated":
            span.status = status
        bar.marks.append((t, status))


def call_bars(outcome: EpisodeOutcome) -> list[CallBar]:
    """The tool calls of a run, in issue order, each with its versions and how they ended."""
    bars: dict[int, CallBar] = {}
    for row in outcome.timeline:
        if row.get("call") is None:
            continue
        status = _row_status(row)
        if status is None:
            continue
        t = float(row["t"])
        bar = bars.setdefault(int(row["call"]), CallBar(call=int(row["call"])))
        if row.get("tool"):
            bar.name = str(row["tool"])
        bar.notes.append(f"{t:.2f}s {row.get('text', status)}")
        _apply(bar, status, t)
    for turn in outcome.turns:  # the session's own account settles what rows cannot say
        for report in turn.calls:
            call_id = report.get("id", report.get("call_id"))
            bar = bars.get(int(call_id)) if call_id is not None else None
            if bar is None or not bar.spans:
                continue
            bar.name = bar.name or str(report.get("name", ""))
            bar.notes.append(
                f"session report: status {report.get('status')}, "
                f"disposition {report.get('disposition')}"
            )
            span = bar.spans[-1]
            if report.get("disposition") == "compensated":
                span.status = "compensated"
            elif report.get("status") in ("failed", "cancelled", "done") and span.status in (
                "issued",
                "held",
                "started",
            ):
                span.status = str(report["status"])

    def first_seen(call: int) -> tuple[float, int]:
        times = [s.issued for s in bars[call].spans if s.issued is not None]
        return (min(times) if times else 0.0, call)

    return [bars[k] for k in sorted(bars, key=first_seen)]


# -- rows read as what they record --------------------------------------------------------------


def _is_final(row: Mapping[str, Any]) -> bool:
    if "final" in row:
        return bool(row["final"])
    return str(row.get("text", "")).startswith("[final]")  # rows stored before ``final``


def _is_interrupted(row: Mapping[str, Any]) -> bool:
    if "interrupted" in row:
        return bool(row["interrupted"])
    return " (interrupted)  [" in str(row.get("text", ""))  # rows stored before the field


def _answer_step(row: Mapping[str, Any]) -> str:
    if "answer" in row:
        return str(row["answer"])
    return {"AnswerStarted": "started", "AnswerCompleted": "completed"}.get(
        str(row.get("kind", "")), "suppressed"
    )


# -- shapes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One SVG element: its tag, class, geometry attributes, hover text and call data."""

    tag: str
    cls: str
    attrs: tuple[tuple[str, str], ...]
    title: str = ""
    call: int | None = None
    status: str | None = None


def _f(value: float) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _rect(cls: str, x: float, y: float, w: float, h: float, title: str = "", **data: Any) -> Shape:
    attrs = (("x", _num(x)), ("y", _num(y)), ("width", _f(w)), ("height", _num(h)))
    return Shape("rect", cls, attrs, title, data.get("call"), data.get("status"))


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


_LABEL_W = 150
_PLOT_W = 820
_ROW_H = 18


def _tick_step(span: float) -> float:
    raw = span / 8
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


@dataclass(frozen=True)
class LanesView:
    """The lane drawing of one run: user, model, a lane per call, answer, control."""

    policy: str
    width: int
    height: int
    labels: list[tuple[int, str, int]]
    """(y, label, background parity) per lane."""
    ticks: list[tuple[float, str]]
    axis_y: int
    shapes: list[Shape]


def _call_shapes(
    bar: CallBar, lane_y: int, run_end: float, x: Callable[[float], float]
) -> list[Shape]:
    title = "\n".join([f"#{bar.call} {bar.name}: {bar.status}", *bar.notes])
    shapes = [  # marks under the spans: a version may end at the same time
        _rect(f"mark st-{status}", x(t) - 1, lane_y, 2.0, _ROW_H, title)
        for t, status in bar.marks
    ]
    for span in bar.spans:
        issued = span.issued if span.issued is not None else (span.started or 0.0)
        end = span.ended if span.ended is not None else run_end
        first_run = span.started if span.started is not None else end
        if first_run > issued:
            cls = "wait held" if span.held is not None else "wait"
            width = max(1.0, x(first_run) - x(issued))
            shapes.append(_rect(cls, x(issued), lane_y + 6, width, _ROW_H - 12))
        data = {"call": bar.call, "status": span.status}
        if span.started is not None or span.ended is None:
            run_from = span.started if span.started is not None else issued
            width = max(3.0, x(end) - x(run_from))
            shapes.append(
                _rect(f"call st-{span.status}", x(run_from), lane_y + 2, width, _ROW_H - 4,
                      title, **data)
            )
        else:  # ended without running (removed, cancelled or failed before it started)
            shapes.append(
                _rect(f"call st-{span.status}", x(end) - 1.5, lane_y + 2, 3.0, _ROW_H - 4,
                      title, **data)
            )
    if bar.committed is not None:
        cx = _num(x(bar.committed))
        attrs = (("x1", cx), ("x2", cx), ("y1", str(lane_y)), ("y2", str(lane_y + _ROW_H)))
        shapes.append(Shape("line", "commit", attrs))
    return shapes


def lanes_view(outcome: EpisodeOutcome, t_max: float) -> LanesView:
    bars = call_bars(outcome)
    rows = outcome.timeline
    run_end = max([float(r.get("t", 0.0)) for r in rows] + [0.0])
    labels = ["user", "model"] + [f"#{b.call} {b.name or 'call'}" for b in bars]
    labels += ["answer", "control"]
    scale = _PLOT_W / t_max

    def x(t: float) -> float:
        return round(_LABEL_W + max(0.0, t) * scale, 1)

    def y(lane: int) -> int:
        return lane * _ROW_H

    ticks: list[tuple[float, str]] = []
    step, tick = _tick_step(t_max), 0.0
    while tick <= t_max + 1e-9:
        ticks.append((x(tick), f"{tick:g}s"))
        tick += step
    answer_lane, control_lane = len(labels) - 2, len(labels) - 1
    shapes: list[Shape] = []
    last_final: float | None = None
    for row in rows:
        lane, t, text = row.get("lane"), float(row.get("t", 0.0)), str(row.get("text", ""))
        title = f"{t:.2f}s {lane}: {text}"
        if lane == "user":
            final = _is_final(row)
            if final:
                last_final = t
            cls = "user final" if final else "user"
            shapes.append(_rect(cls, x(t) - 2, y(0) + 3, 4.0, _ROW_H - 6, title))
        elif lane == "model":
            start = float(row.get("start", t))
            cls = "gen interrupted" if _is_interrupted(row) else "gen"
            width = max(1.5, x(t) - x(start))
            shapes.append(_rect(cls, x(start), y(1) + 3, width, _ROW_H - 6, title))
        elif lane == "answer":
            done = _answer_step(row) == "completed"
            if done and last_final is not None and t >= last_final:
                width = max(1.0, x(t) - x(last_final))
                latency = f"latency {t - last_final:.2f}s (last word to answer)"
                shapes.append(
                    _rect("latency", x(last_final), y(answer_lane) + 5, width, _ROW_H - 10,
                          latency)
                )
                last_final = None
            cy = _num(y(answer_lane) + _ROW_H / 2)
            attrs = (("cx", _num(x(t))), ("cy", cy), ("r", "4"))
            shapes.append(Shape("circle", "answer done" if done else "answer mark", attrs, title))
        elif lane in ("control", "error"):
            top = y(control_lane) + 3
            path = (("d", f"M{_num(x(t))} {top} l4 6 l-4 6 l-4 -6 z"),)
            shapes.append(Shape("path", "err" if lane == "error" else "ctl", path, title))
    for i, bar in enumerate(bars):
        shapes.extend(_call_shapes(bar, y(2 + i), run_end, x))
    return LanesView(
        policy=outcome.policy,
        width=_LABEL_W + _PLOT_W + 10,
        height=_ROW_H * len(labels) + 24,
        labels=[(y(i), label[:22], i % 2) for i, label in enumerate(labels)],
        ticks=ticks,
        axis_y=y(len(labels)),
        shapes=shapes,
    )


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


def episode_view(key: tuple[str, str], runs: list[EpisodeOutcome], order: Sequence[str]) -> EpisodeView:
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
