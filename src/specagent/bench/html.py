"""The per-run HTML report: one self-contained page to read a benchmark run episode by episode.

A table says *that* a policy was faster or wrong; the page shows *why*: for every episode and
policy, a lane view over time of the user's speech, the model's generations, each tool call
(coloured by how it ended) and the answer. It is drawn from the ``results.json`` document
alone (:func:`specagent.bench.report.build_results`), so a stored run can be redrawn, and it
loads nothing from the network: styles, script, drawings and plots are all inline.

Everything shown comes from model output or benchmark data, so all text is escaped, and a
Content-Security-Policy allows only the page's own script (by hash) as a second line of defence.

This module also holds :class:`RunReport`, the typed reading of ``results.json`` that
:mod:`specagent.bench.plots` shares (it stays free of plotting imports).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .metrics import Interval, PolicyMetrics
from .runner import EpisodeOutcome

__all__ = [
    "LATENCY_CDF_PNG",
    "POLICY_COLOURS",
    "SPEEDUP_PNG",
    "STATUS_COLOURS",
    "CallBar",
    "CallSpan",
    "DatasetSection",
    "ResultsError",
    "RunReport",
    "call_bars",
    "load_results",
    "policy_colour",
    "write_html",
]

SCHEMA = "specagent.bench/1"
LATENCY_CDF_PNG = "latency_cdf.png"
SPEEDUP_PNG = "speedup_accuracy.png"

POLICY_COLOURS = {
    "sync": "#6b6b6b",
    "async": "#1f77b4",
    "speculative": "#2ca02c",
    "oracle": "#9467bd",
    "verified": "#d62728",
}
_SPARE_COLOURS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22")

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

_STATUS_LEGEND = {
    "issued": "issued, never started",
    "held": "still held at the end",
    "started": "still running at the end",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "compensated": "compensated (undone)",
    "removed": "removed by the model",
}


class ResultsError(ValueError):
    """The document is not a ``results.json`` this version can read."""


# -- reading results.json ---------------------------------------------------------------------


def _interval(value: Any) -> Interval | None:
    return None if value is None else Interval(low=value["low"], high=value["high"])


def _metrics(data: Mapping[str, Any]) -> PolicyMetrics:
    values = {f.name: data[f.name] for f in fields(PolicyMetrics)}
    for name in ("accuracy_ci", "mean_latency_ci", "speedup_vs_sync_ci"):
        values[name] = _interval(values[name])
    return PolicyMetrics(**values)


@dataclass(frozen=True)
class DatasetSection:
    name: str
    episodes: int
    policies: dict[str, PolicyMetrics]


@dataclass(frozen=True)
class RunReport:
    """The parts of a ``results.json`` document that the reports draw."""

    created: str
    command: str
    settings: dict[str, Any]
    settings_key: str
    datasets: list[str]
    limit: int | None
    machine: dict[str, Any]
    wall_s: float
    policies: dict[str, PolicyMetrics]
    by_dataset: dict[str, DatasetSection]
    episodes: list[EpisodeOutcome]
    policy_names: list[str] = field(default_factory=list)
    """Policies in display order: as requested, then any others found."""

    @classmethod
    def from_results(cls, results: Mapping[str, Any]) -> RunReport:
        if not isinstance(results, Mapping):
            raise ResultsError(f"results must be a JSON object, got {type(results).__name__}")
        if results.get("schema") != SCHEMA:
            raise ResultsError(
                f"unsupported results schema {results.get('schema')!r}; expected {SCHEMA!r}"
            )
        try:
            policies = {p: _metrics(m) for p, m in results["policies"].items()}
            by_dataset = {
                name: DatasetSection(
                    name=name,
                    episodes=int(section["episodes"]),
                    policies={p: _metrics(m) for p, m in section["policies"].items()},
                )
                for name, section in results["by_dataset"].items()
            }
            episodes = [EpisodeOutcome.from_json(e) for e in results["episodes"]]
            requested = [str(p) for p in results.get("policies_requested", [])]
            order = requested + [p for p in policies if p not in requested]
            order += [e.policy for e in episodes if e.policy not in order]
            return cls(
                created=str(results.get("created", "")),
                command=str(results.get("command", "")),
                settings=dict(results["settings"]),
                settings_key=str(results.get("settings_key", "")),
                datasets=[str(d) for d in results["datasets"]],
                limit=results.get("limit"),
                machine=dict(results.get("machine") or {}),
                wall_s=float(results.get("wall_s") or 0.0),
                policies=policies,
                by_dataset=by_dataset,
                episodes=episodes,
                policy_names=list(dict.fromkeys(order)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ResultsError(f"malformed results document: {type(exc).__name__}: {exc}") from exc

    def episode_count(self) -> int:
        return len({(e.dataset, e.episode_id) for e in self.episodes})

    def caption(self) -> str:
        """One line of the settings that decide the numbers (for figures and the page)."""
        s = self.settings
        low, high = s.get("tool_latency_s", (None, None))
        parts = [
            f"model {s.get('model')}",
            f"{s.get('clock')} clock, profile {s.get('profile')}",
            f"seed {s.get('seed')}",
            f"n = {self.episode_count()} episodes ({', '.join(self.datasets)})",
            f"{s.get('speech')} speech {s.get('words_per_minute')} wpm",
            f"tools {low}-{high} s",
        ]
        return " | ".join(parts)


def load_results(path: Path) -> RunReport:
    """Read and check a stored ``results.json``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not JSON: {exc}") from exc
    return RunReport.from_results(data)


def policy_colour(policy: str, order: Sequence[str] = ()) -> str:
    if policy in POLICY_COLOURS:
        return POLICY_COLOURS[policy]
    others = [p for p in order if p not in POLICY_COLOURS]
    index = others.index(policy) if policy in others else len(others)
    return _SPARE_COLOURS[index % len(_SPARE_COLOURS)]


# -- tool calls from timeline rows ------------------------------------------------------------

_STATUS_WORDS = {
    "issued": "issued",
    "issue": "issued",
    "revised": "revised",
    "revise": "revised",
    "removed": "removed",
    "held": "held",
    "started": "started",
    "finished": "done",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "committed": "committed",
    "compensated": "compensated",
}
_TEXT_STATUS = re.compile(
    r"^#(\d+) (issue|revise|removed|held|started|done|FAILED|cancelled|"
    r"committed|compensated)\b"
)
_ISSUE_TEXT = re.compile(r"^#\d+ (?:issue|revise) ([^(]*)\(")


def _row_status(row: Mapping[str, Any]) -> str | None:
    """The call event a tool-lane row records, from its ``kind`` or else its text."""
    kind = re.sub(r"[^a-z]", "", str(row.get("kind", "")).lower())
    for prefix in ("toolcall", "tool", "call"):
        if kind.startswith(prefix):
            kind = kind[len(prefix) :]
            break
    if kind in _STATUS_WORDS:
        return _STATUS_WORDS[kind]
    match = _TEXT_STATUS.match(str(row.get("text", "")))
    return _STATUS_WORDS[match.group(2).lower()] if match else None


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


def _apply(bar: CallBar, status: str, t: float, text: str) -> None:
    if status in ("issued", "revised"):
        match = _ISSUE_TEXT.match(text)
        if match:
            bar.name = match.group(1)
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
        if row.get("lane") != "tool" or row.get("call") is None:
            continue
        status = _row_status(row)
        if status is None:
            continue
        t, text = float(row["t"]), str(row.get("text", ""))
        bar = bars.setdefault(int(row["call"]), CallBar(call=int(row["call"])))
        bar.notes.append(f"{t:.2f}s {text}")
        _apply(bar, status, t, text)
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


# -- drawing ----------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"


def _ci(interval: Interval | None, scale: float = 1.0, digits: int = 2) -> str:
    if interval is None:
        return ""
    return (
        f' <span class="ci">[{interval.low * scale:.{digits}f}, '
        f"{interval.high * scale:.{digits}f}]</span>"
    )


def _tick_step(span: float) -> float:
    raw = span / 8
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


_LABEL_W = 150
_PLOT_W = 820
_ROW_H = 18


def _is_answer_done(row: Mapping[str, Any]) -> bool:
    kind = str(row.get("kind", ""))
    if "Completed" in kind or kind.lower().replace("_", "") == "answercompleted":
        return True
    text = str(row.get("text", ""))
    return not (text == "first answer token" or text.startswith("answer held back:"))


def _span_svg(
    bar: CallBar,
    span: CallSpan,
    lane_y: int,
    run_end: float,
    x: Callable[[float], float],
    title: str,
) -> str:
    """A call version: a thin bar while it waits (amber if held), a full one while it runs,
    coloured by how it ended; a version still open when the run ended reaches the run's end."""
    issued = span.issued if span.issued is not None else (span.started or 0.0)
    end = span.ended if span.ended is not None else run_end
    parts = []
    first_run = span.started if span.started is not None else end
    if first_run > issued:
        cls = "wait held" if span.held is not None else "wait"
        parts.append(
            f'<rect class="{cls}" x="{x(issued)}" y="{lane_y + 6}" '
            f'width="{max(1.0, x(first_run) - x(issued)):.1f}" height="{_ROW_H - 12}"/>'
        )
    attrs = f'class="call st-{span.status}" data-call="{bar.call}" data-status="{span.status}"'
    if span.started is not None or span.ended is None:
        run_from = span.started if span.started is not None else issued
        parts.append(
            f'<rect {attrs} x="{x(run_from)}" y="{lane_y + 2}" '
            f'width="{max(3.0, x(end) - x(run_from)):.1f}" height="{_ROW_H - 4}">{title}</rect>'
        )
    else:  # ended without running (removed, cancelled or failed before it started)
        parts.append(
            f'<rect {attrs} x="{x(end) - 1.5}" y="{lane_y + 2}" width="3" '
            f'height="{_ROW_H - 4}">{title}</rect>'
        )
    return "".join(parts)


def _lanes_svg(outcome: EpisodeOutcome, t_max: float) -> str:
    """An SVG lane view of one run: user, model, one row per tool call, answer, control."""
    bars = call_bars(outcome)
    rows = outcome.timeline
    run_end = max([float(r.get("t", 0.0)) for r in rows] + [0.0])
    labels = ["user", "model"] + [f"#{b.call} {b.name or 'call'}" for b in bars]
    labels += ["answer", "control"]
    height = _ROW_H * len(labels) + 24
    width = _LABEL_W + _PLOT_W + 10
    scale = _PLOT_W / t_max

    def x(t: float) -> float:
        return round(_LABEL_W + max(0.0, t) * scale, 1)

    def y(lane: int) -> int:
        return lane * _ROW_H

    out = [
        (
            f'<svg class="lanes" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="timeline of {_e(outcome.policy)}">'
        )
    ]
    for i, label in enumerate(labels):
        out.append(
            f'<rect class="lane-bg{i % 2}" x="0" y="{y(i)}" width="{width}" height="{_ROW_H}"/>'
            f'<text class="lane-label" x="4" y="{y(i) + 13}">{_e(label[:22])}</text>'
        )
    step = _tick_step(t_max)
    axis_y = y(len(labels))
    tick = 0.0
    while tick <= t_max + 1e-9:
        out.append(
            f'<line class="grid" x1="{x(tick)}" x2="{x(tick)}" y1="0" y2="{axis_y + 4}"/>'
            f'<text class="tick" x="{x(tick)}" y="{axis_y + 16}">{tick:g}s</text>'
        )
        tick += step
    answer_lane, control_lane = len(labels) - 2, len(labels) - 1
    last_final: float | None = None
    for row in rows:
        lane, t, text = row.get("lane"), float(row.get("t", 0.0)), str(row.get("text", ""))
        title = f"<title>{_e(f'{t:.2f}s {lane}: {text}')}</title>"
        if lane == "user":
            final = text.startswith("[final]")
            if final:
                last_final = t
            cls = "user final" if final else "user"
            out.append(
                f'<rect class="{cls}" x="{x(t) - 2}" y="{y(0) + 3}" width="4" '
                f'height="{_ROW_H - 6}">{title}</rect>'
            )
        elif lane == "model":
            start = float(row.get("start", t))
            cls = "gen interrupted" if " (interrupted)  [" in text else "gen"
            out.append(
                f'<rect class="{cls}" x="{x(start)}" y="{y(1) + 3}" '
                f'width="{max(1.5, x(t) - x(start)):.1f}" height="{_ROW_H - 6}">{title}</rect>'
            )
        elif lane == "answer":
            done = _is_answer_done(row)
            if done and last_final is not None and t >= last_final:
                out.append(
                    f'<rect class="latency" x="{x(last_final)}" y="{y(answer_lane) + 5}" '
                    f'width="{max(1.0, x(t) - x(last_final)):.1f}" height="{_ROW_H - 10}">'
                    f"<title>{_e(f'latency {t - last_final:.2f}s (last word to answer)')}</title>"
                    "</rect>"
                )
                last_final = None
            cls = "answer done" if done else "answer mark"
            out.append(
                f'<circle class="{cls}" cx="{x(t)}" cy="{y(answer_lane) + _ROW_H / 2}" r="4">'
                f"{title}</circle>"
            )
        elif lane in ("control", "error"):
            cls = "err" if lane == "error" else "ctl"
            out.append(
                f'<path class="{cls}" d="M{x(t)} {y(control_lane) + 3} l4 6 l-4 6 l-4 -6 z">'
                f"{title}</path>"
            )
    for i, bar in enumerate(bars):
        lane_y = y(2 + i)
        summary = f"#{bar.call} {bar.name}: {bar.status}"
        title = f"<title>{_e(chr(10).join([summary, *bar.notes]))}</title>"
        for t, status in bar.marks:  # under the spans: a version may end at the same time
            out.append(
                f'<rect class="mark st-{status}" x="{x(t) - 1}" y="{lane_y}" width="2" '
                f'height="{_ROW_H}">{title}</rect>'
            )
        for span in bar.spans:
            out.append(_span_svg(bar, span, lane_y, run_end, x, title))
        if bar.committed is not None:
            out.append(
                f'<line class="commit" x1="{x(bar.committed)}" x2="{x(bar.committed)}" '
                f'y1="{lane_y}" y2="{lane_y + _ROW_H}"/>'
            )
    out.append("</svg>")
    return "".join(out)


_METRIC_COLUMNS = (
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


def _metrics_table(metrics: Mapping[str, PolicyMetrics], order: Sequence[str]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in _METRIC_COLUMNS)
    body = []
    for name in [p for p in order if p in metrics] + [p for p in metrics if p not in order]:
        m = metrics[name]
        extra = "–" if m.extra_tokens_vs_sync is None else f"{m.extra_tokens_vs_sync:+d}"
        swatch = f'<span class="swatch" style="background:{policy_colour(name, order)}"></span>'
        calls = (
            f"{m.calls_issued} / {m.calls_run_early} / {m.calls_wasted} / "
            f"{m.calls_compensated} / {m.calls_held}"
        )
        cells = [
            swatch + _e(name),
            f"{100 * m.accuracy:.1f}%{_ci(m.accuracy_ci, 100, 1)}",
            f"{m.answered}/{m.episodes}",
            _num(m.mean_latency_s, " s") + _ci(m.mean_latency_ci),
            _num(m.median_latency_s, " s"),
            _num(m.p90_latency_s, " s"),
            _num(m.mean_first_token_latency_s, " s"),
            _num(m.speedup_vs_sync, "×") + _ci(m.speedup_vs_sync_ci),
            _num(m.median_speedup_vs_sync, "×"),
            _num(m.oracle_gap, "×"),
            calls,
            extra,
            f"{m.draft_tokens_kept} / {m.draft_tokens}" if m.draft_tokens else "–",
            str(m.protocol_errors),
            str(m.errors),
        ]
        body.append(
            f'<tr class="policy-row" data-policy="{_e(name)}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    return (
        f'<div class="scroll"><table class="metrics"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _run_block(outcome: EpisodeOutcome, t_max: float, order: Sequence[str]) -> str:
    verdict = "pass" if outcome.passed else ("error" if outcome.error else "fail")
    turns = "".join(
        "<tr>"
        f"<td>{i + 1}</td><td>{_e(turn.user)}</td>"
        f'<td class="answer-text">{_e(turn.answer) if turn.answer is not None else "<em>none</em>"}</td>'
        f"<td>{_e(turn.ended)}</td><td>{_num(turn.latency_s, ' s')}</td>"
        f"<td>{_e(', '.join(str(c.get('name', '')) for c in turn.calls)) or '–'}</td>"
        "</tr>"
        for i, turn in enumerate(outcome.turns)
    )
    events = "".join(
        f"<tr><td>{float(r.get('t', 0.0)):.3f}</td><td>{_e(r.get('lane', ''))}</td>"
        f"<td>{_e(r.get('text', ''))}</td></tr>"
        for r in outcome.timeline
    )
    error = f'<p class="run-error">run error: {_e(outcome.error)}</p>' if outcome.error else ""
    colour = policy_colour(outcome.policy, order)
    return (
        f'<section class="run {verdict}" data-policy="{_e(outcome.policy)}">'
        f'<h4><span class="swatch" style="background:{colour}"></span>{_e(outcome.policy)} '
        f'<span class="badge {verdict}">{verdict.upper()}</span> '
        f"latency {_num(outcome.latency_s, ' s')} · first token "
        f"{_num(outcome.first_token_latency_s, ' s')} · calls {outcome.calls_issued} issued, "
        f"{outcome.calls_run_early} early, {outcome.calls_wasted} wasted, "
        f"{outcome.calls_compensated} compensated, {outcome.calls_held} held · "
        f"{outcome.tokens_generated} tokens</h4>"
        f"{error}"
        f'<div class="svgwrap">{_lanes_svg(outcome, t_max)}</div>'
        f'<table class="turns"><thead><tr><th>turn</th><th>user</th><th>answer</th>'
        f"<th>ended</th><th>latency</th><th>calls</th></tr></thead><tbody>{turns}</tbody></table>"
        f'<p class="check">checker: {_e(outcome.check_detail) or "–"}</p>'
        f'<details class="events"><summary>event log ({len(outcome.timeline)} rows)</summary>'
        f'<table class="log"><thead><tr><th>t (s)</th><th>lane</th><th>text</th></tr></thead>'
        f"<tbody>{events}</tbody></table></details>"
        "</section>"
    )


def _episode_block(key: tuple[str, str], runs: list[EpisodeOutcome], order: Sequence[str]) -> str:
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
    badges = "".join(
        f'<span class="badge {"pass" if r.passed else ("error" if r.error else "fail")}" '
        f'title="{_e(r.policy)}">{_e(r.policy)} {"✓" if r.passed else "✗"} '
        f"{_num(r.latency_s, ' s')}</span>"
        for r in runs
    )
    short = first_user if len(first_user) <= 110 else first_user[:109] + "…"
    return (
        f'<details class="episode" data-search="{_e(" ".join(words).lower())}" '
        f'data-states="{" ".join(states)}">'
        f'<summary><span class="eid">{_e(dataset)} / {_e(episode_id)}</span> {badges} '
        f'<span class="first-user">{_e(short)}</span></summary>'
        + "".join(_run_block(r, t_max, order) for r in runs)
        + "</details>"
    )


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.5em;margin:0 0 .3em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
code,.log td,.caption{font-family:ui-monospace,monospace;font-size:12px}
table{border-collapse:collapse;margin:.4em 0} th,td{border:1px solid #ddd;padding:2px 6px;
vertical-align:top} th{background:#f4f4f4;text-align:left} .metrics td{text-align:right;
white-space:nowrap} .metrics td:first-child{text-align:left} .ci{color:#777;font-size:11px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
.settings{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:2px 16px}
.settings div{overflow-wrap:anywhere} .scroll{overflow-x:auto} .metrics{font-size:13px}
.plots img{display:block;max-width:100%;height:auto;margin:6px 0;border:1px solid #eee}
details.episode{border:1px solid #ddd;border-radius:4px;margin:4px 0;padding:2px 8px}
details.episode>summary{cursor:pointer} .eid{font-weight:600;margin-right:6px}
.first-user{color:#666;margin-left:6px}
.badge{display:inline-block;border-radius:3px;padding:0 5px;margin:0 2px;font-size:12px}
.badge.pass{background:#dff0d8;color:#255625} .badge.fail{background:#f8d7da;color:#7a1c24}
.badge.error{background:#fff3cd;color:#7a5b00}
.run{margin:10px 0 16px;border-top:1px dashed #ccc;padding-top:4px} .run h4{margin:.3em 0;
font-weight:500} .run-error{color:#7a1c24} .svgwrap{overflow-x:auto}
.turns td{max-width:420px} .answer-text{white-space:pre-wrap} .check{color:#555;margin:.2em 0}
.legend span{display:inline-block;margin-right:12px} .legend i{display:inline-block;width:14px;
height:10px;margin-right:4px;vertical-align:middle}
#controls{position:sticky;top:0;background:#fff;padding:6px 0;z-index:1}
#controls input{width:22em} .hidden{display:none}
svg.lanes{font:11px system-ui,sans-serif;display:block}
.lane-bg0{fill:#fafafa} .lane-bg1{fill:#f1f1f1} .lane-label{fill:#444}
.grid{stroke:#ddd} .tick{fill:#777;text-anchor:middle;font-size:10px}
.user{fill:#9ecae1} .user.final{fill:#08519c} .gen{fill:#fdd0a2;stroke:#e6550d;stroke-width:.6}
.gen.interrupted{fill:#fee6ce;stroke-dasharray:2 2}
.wait{fill:#c6dbef} .wait.held{fill:#fdd49e}
.commit{stroke:#111;stroke-width:2} .latency{fill:#fcbba1;opacity:.8}
.answer.done{fill:#31a354} .answer.mark{fill:#bdbdbd} .ctl{fill:#636363} .err{fill:#de2d26}
"""


def _status_css() -> str:
    return "".join(f".st-{name}{{fill:{colour}}}" for name, colour in STATUS_COLOURS.items())


_SCRIPT = """
(function(){
  var box=document.getElementById('filter'), sel=document.getElementById('state'),
      count=document.getElementById('shown'), eps=document.querySelectorAll('details.episode');
  function apply(){
    var q=box.value.trim().toLowerCase(), s=sel.value, n=0;
    eps.forEach(function(d){
      var ok=(!q||d.dataset.search.indexOf(q)>=0)&&
             (!s||(' '+d.dataset.states+' ').indexOf(' '+s+' ')>=0);
      d.classList.toggle('hidden',!ok); if(ok)n++;
    });
    count.textContent=n+' of '+eps.length+' episodes shown';
  }
  box.addEventListener('input',apply); sel.addEventListener('change',apply);
  document.getElementById('open-all').addEventListener('click',function(){
    eps.forEach(function(d){if(!d.classList.contains('hidden'))d.open=true;});});
  document.getElementById('close-all').addEventListener('click',function(){
    eps.forEach(function(d){d.open=false;});});
  apply();
})();
"""


def _legend() -> str:
    items = [("user", "#9ecae1", "user speech chunk"), ("user final", "#08519c", "last words")]
    items += [("gen", "#fdd0a2", "model generation"), ("wait", "#c6dbef", "call waiting")]
    items += [("wait held", "#fdd49e", "held for commit point")]
    items += [(f"st-{k}", v, f"call {_STATUS_LEGEND[k]}") for k, v in STATUS_COLOURS.items()]
    items += [("latency", "#fcbba1", "last word → answer"), ("answer", "#31a354", "answer done")]
    return (
        '<p class="legend">'
        + "".join(
            f'<span><i style="background:{colour}"></i>{_e(text)}</span>'
            for _, colour, text in items
        )
        + " <span>| black tick: call committed</span></p>"
    )


def _plots(out_dir: Path) -> str:
    images = []
    for name, alt in ((LATENCY_CDF_PNG, "latency CDF"), (SPEEDUP_PNG, "speedup vs accuracy")):
        path = out_dir / name
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            images.append(f'<img alt="{alt}" src="data:image/png;base64,{data}">')
    if not images:
        return "<p>No plots in this directory (draw them with specagent.bench.plots).</p>"
    return '<div class="plots">' + "".join(images) + "</div>"


def _settings_table(report: RunReport) -> str:
    rows = [("created", report.created)]
    rows += [(k, json.dumps(v, default=str)) for k, v in report.settings.items()]
    rows += [("settings key", report.settings_key), ("datasets", ", ".join(report.datasets))]
    rows += [("limit", report.limit), ("wall time", f"{report.wall_s:.1f} s")]
    rows += [(f"machine {k}", v) for k, v in report.machine.items()]
    return (
        f'<p class="command">command: <code>{_e(report.command)}</code></p>'
        '<div class="settings">'
        + "".join(f"<div><b>{_e(k)}</b> <code>{_e(v)}</code></div>" for k, v in rows)
        + "</div>"
    )


def render_html(report: RunReport, out_dir: Path) -> str:
    """The page as a string (``out_dir`` is where plots are looked for)."""
    order = report.policy_names
    episodes: dict[tuple[str, str], list[EpisodeOutcome]] = {}
    for outcome in report.episodes:
        episodes.setdefault((outcome.dataset, outcome.episode_id), []).append(outcome)
    sections = [
        f"<h3>{_e(name)} ({section.episodes} episodes)</h3>"
        + _metrics_table(section.policies, order)
        for name, section in report.by_dataset.items()
    ]
    css = _CSS + _status_css()
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<link rel="icon" href="data:,">'
        f"<title>specagent bench: {_e(', '.join(report.datasets))}</title>"
        f"<style>{css}</style></head><body>"
        "<h1>specagent bench report</h1>"
        f'<p class="caption">{_e(report.caption())}</p>'
        "<h2>Settings</h2>"
        + _settings_table(report)
        + "<h2>Results: all episodes</h2>"
        + _metrics_table(report.policies, order)
        + "".join(sections)
        + "<p>Latency: user's last word to answer complete, mean over an episode's turns. Speedup:"
        " sync ÷ policy over episodes both answered (ratio of means; median of per-episode"
        " ratios). Oracle gap: policy ÷ oracle. Intervals: 95% bootstrap over episodes.</p>"
        "<h2>Plots</h2>"
        + _plots(out_dir)
        + f"<h2>Episodes ({len(episodes)})</h2>"
        + _legend()
        + '<div id="controls"><input id="filter" type="search" placeholder="filter: id, dataset,'
        ' words…"> <select id="state"><option value="">all episodes</option>'
        '<option value="fail-any">a policy failed</option>'
        '<option value="disagree">policies disagree</option>'
        '<option value="error">a run crashed</option></select> '
        '<button id="open-all" type="button">expand shown</button> '
        '<button id="close-all" type="button">collapse all</button> '
        '<span id="shown"></span></div>'
        + "".join(_episode_block(k, runs, order) for k, runs in episodes.items())
        + f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_html(results: Mapping[str, Any], out_dir: Path) -> Path:
    """Write ``report.html`` for a results document into ``out_dir``; returns its path."""
    report = RunReport.from_results(results)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(render_html(report, out_dir), encoding="utf-8")
    return path
