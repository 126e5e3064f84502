"""The ``results.json`` document of a benchmark run, read into typed records.

:class:`RunReport` is what the HTML page (:mod:`.html`) and the plots (:mod:`.plots`) draw
from, so a stored run can be redrawn; it carries no drawing code and imports nothing heavy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import SpecagentError
from .metrics import Interval, PolicyMetrics
from .outcome import EpisodeOutcome

__all__ = [
    "LATENCY_CDF_PNG",
    "POLICY_COLOURS",
    "SCHEMA",
    "SPEEDUP_PNG",
    "DatasetSection",
    "ResultsError",
    "RunReport",
    "load_results",
    "policy_colour",
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


class ResultsError(SpecagentError, ValueError):
    """The document is not a ``results.json`` this version can read."""


# -- reading results.json ---------------------------------------------------------------------


def _interval(value: Any) -> Interval | None:
    return None if value is None else Interval(low=value["low"], high=value["high"])


def _metrics(data: Mapping[str, Any]) -> PolicyMetrics:
    # a field added later (with a default) may be missing from an older document
    values = {
        f.name: data[f.name]
        for f in fields(PolicyMetrics)
        if f.name in data or (f.default is MISSING and f.default_factory is MISSING)
    }
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
