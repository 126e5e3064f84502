"""PNG figures of a benchmark run: how latency is distributed, and what speed costs in accuracy.

Two figures answer the benchmark's two questions at a glance, drawn from ``results.json`` only
(so a stored run can be redrawn with :func:`redraw`):

* ``latency_cdf.png``: per policy, the share of episodes answered within a given latency
  (one panel per dataset when there are several); a curve that stops below 1 means episodes
  that were never answered.
* ``speedup_accuracy.png``: one point per policy (and per dataset when there are several) at
  its speedup over sync and its accuracy, with bootstrap intervals and the 1.3-2.2x band the
  paper reports.

Figures use matplotlib's object API on the Agg canvas: no pyplot, no global backend switch, no
display needed. Every figure carries the settings that decide its numbers in a caption.
"""

from __future__ import annotations

import statistics
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..extras import require
from .html import LATENCY_CDF_PNG, SPEEDUP_PNG, RunReport, load_results, policy_colour
from .metrics import PolicyMetrics

__all__ = ["PAPER_SPEEDUP_BAND", "draw_plots", "redraw"]

PAPER_SPEEDUP_BAND = (1.3, 2.2)
"""Speedup over a synchronous agent reported by the paper this project follows."""

_FEATURE = "drawing benchmark plots"
FigureCanvasAgg = require(
    "matplotlib.backends.backend_agg", extra="bench", feature=_FEATURE
).FigureCanvasAgg
Figure = require("matplotlib.figure", extra="bench", feature=_FEATURE).Figure

_DATASET_MARKERS = ("s", "^", "D", "v", "P", "X", "<", ">")
_DPI = 120


def _caption(fig: Figure, report: RunReport, note: str = "") -> None:
    text = report.caption() + (f" | {note}" if note else "")
    width = int(fig.get_figwidth() * 17)  # characters of 7.5 pt text per line
    fig.text(0.01, 0.012, "\n".join(textwrap.wrap(text, width)), fontsize=7.5, color="#444")


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=_DPI, metadata={"Software": None})
    return path


def _latency_cdf(report: RunReport, path: Path) -> Path:
    panels: list[tuple[str, list[str] | None]] = [("all episodes", None)]
    if len(report.datasets) > 1:
        panels = [(name, [name]) for name in report.datasets]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(6.4 * cols, 4.2 * rows + 0.6), layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.06 / rows, 1, 1 - 0.06 / rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for index, (title, datasets) in enumerate(panels):
        ax = axes[index // cols][index % cols]
        drawn = False
        for policy in report.policy_names:
            runs = [
                e
                for e in report.episodes
                if e.policy == policy and (datasets is None or e.dataset in datasets)
            ]
            if not runs:
                continue
            latencies = sorted(e.latency_s for e in runs if e.latency_s is not None)
            label = f"{policy}: {len(latencies)}/{len(runs)} answered"
            if latencies:
                median = statistics.median(latencies)
                label += f", median {median:.2f} s"
                xs = [0.0, *latencies]
                ys = [0.0, *(i / len(runs) for i in range(1, len(latencies) + 1))]
                ax.step(
                    xs,
                    ys,
                    where="post",
                    color=policy_colour(policy, report.policy_names),
                    linewidth=1.8,
                    label=label,
                )
                drawn = True
            else:
                ax.plot([], [], color=policy_colour(policy, report.policy_names), label=label)
        if not drawn:
            ax.text(
                0.5,
                0.5,
                "no answered episodes",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="#777",
            )
        ax.set_title(f"Latency to answer: {title}", fontsize=11)
        ax.set_xlabel("latency per episode (s): user's last word to answer complete")
        ax.set_ylabel("share of episodes answered within x")
        ax.set_ylim(0, 1.02)
        ax.set_xlim(left=0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    for index in range(len(panels), rows * cols):
        axes[index // cols][index % cols].set_visible(False)
    _caption(fig, report, "episode latency = mean over its turns")
    return _save(fig, path)


def _interval_err(value: float, interval: Any) -> list[list[float]] | None:
    if interval is None:
        return None
    return [[max(0.0, value - interval.low)], [max(0.0, interval.high - value)]]


def _points(metrics: Mapping[str, PolicyMetrics]) -> list[PolicyMetrics]:
    return [m for m in metrics.values() if m.speedup_vs_sync is not None]


def _speedup_accuracy(report: RunReport, path: Path) -> Path:
    fig = Figure(figsize=(7.8, 5.6), layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.07, 1, 0.93))
    ax = fig.add_subplot()
    low, high = PAPER_SPEEDUP_BAND
    ax.axvspan(low, high, color="#ffd92f", alpha=0.25, label=f"paper: {low}-{high}x speedup")
    ax.axvline(1.0, color="#999", linestyle="--", linewidth=1, label="sync (1x)")
    groups: list[tuple[str | None, Mapping[str, PolicyMetrics]]] = [(None, report.policies)]
    if len(report.datasets) > 1:
        groups += [
            (name, report.by_dataset[name].policies)
            for name in report.datasets
            if name in report.by_dataset
        ]
    speedups = [1.0, high]
    missing = [p for p, m in report.policies.items() if m.speedup_vs_sync is None]
    for group_index, (dataset, metrics) in enumerate(groups):
        marker = "o" if dataset is None else _DATASET_MARKERS[(group_index - 1) % 8]
        for index, m in enumerate(_points(metrics)):
            speed = float(m.speedup_vs_sync)  # type: ignore[arg-type]
            accuracy = 100 * m.accuracy
            speedups.append(speed)
            if m.speedup_vs_sync_ci is not None:
                speedups += [m.speedup_vs_sync_ci.low, m.speedup_vs_sync_ci.high]
            ax.errorbar(
                speed,
                accuracy,
                xerr=_interval_err(speed, m.speedup_vs_sync_ci),
                yerr=(
                    None
                    if m.accuracy_ci is None
                    else [
                        [max(0.0, accuracy - 100 * m.accuracy_ci.low)],
                        [max(0.0, 100 * m.accuracy_ci.high - accuracy)],
                    ]
                ),
                fmt=marker,
                markersize=9 if dataset is None else 6,
                color=policy_colour(m.policy, report.policy_names),
                ecolor=policy_colour(m.policy, report.policy_names),
                elinewidth=1,
                capsize=3,
                alpha=1.0 if dataset is None else 0.75,
            )
            if dataset is None:
                ax.annotate(
                    m.policy,
                    (speed, accuracy),
                    xytext=(6, 6 if index % 2 else -14),
                    textcoords="offset points",
                    fontsize=9,
                )
    for policy in report.policy_names:  # legend entries: one per policy
        if policy in report.policies:
            ax.plot([], [], "o", color=policy_colour(policy, report.policy_names), label=policy)
    if len(groups) > 1:
        ax.plot([], [], "o", color="#555", markersize=9, label="all datasets")
        for group_index, (dataset, _) in enumerate(groups[1:], start=1):
            ax.plot(
                [], [], _DATASET_MARKERS[(group_index - 1) % 8], color="#555", label=str(dataset)
            )
    if not _points(report.policies):
        ax.text(
            0.5,
            0.5,
            "no speedup to draw (needs a sync run of the same episodes)",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="#777",
        )
    ax.set_xlim(min(0.8, min(speedups) - 0.05), max(speedups) * 1.12)
    ax.set_ylim(-2, 104)
    ax.set_xlabel("speedup vs sync (ratio of mean latencies, 95% bootstrap CI)")
    ax.set_ylabel("accuracy (% of episodes passed, 95% bootstrap CI)")
    ax.set_title("Speedup over sync against accuracy", fontsize=12)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    note = f"not drawn (no sync pairing): {', '.join(missing)}" if missing else ""
    _caption(fig, report, note)
    return _save(fig, path)


def _draw(report: RunReport, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        _latency_cdf(report, out_dir / LATENCY_CDF_PNG),
        _speedup_accuracy(report, out_dir / SPEEDUP_PNG),
    ]


def draw_plots(results: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write the run's PNG figures into ``out_dir``; returns their paths.

    Raises :class:`specagent.bench.html.ResultsError` for a document this version cannot read.
    """
    return _draw(RunReport.from_results(results), out_dir)


def redraw(results_path: Path, out_dir: Path | None = None) -> list[Path]:
    """Redraw the figures of a stored ``results.json`` (next to it unless ``out_dir`` is given)."""
    path = Path(results_path)
    return _draw(load_results(path), out_dir if out_dir is not None else path.parent)
