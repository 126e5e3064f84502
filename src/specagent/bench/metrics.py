"""Per-policy measures over a set of episode outcomes, with bootstrap confidence intervals.

One vocabulary (``../shared/DESIGN.md``, "Measures"):

* **accuracy**: share of episodes the benchmark's checker passed;
* **latency**: per episode, the mean over its turns of user's last word -> answer complete;
  mean, median and p90 over the episodes that were answered;
* **speedup vs sync**: ratio of mean latencies (sync / policy) over the episodes both answered,
  and the median of per-episode ratios;
* **oracle gap**: policy mean latency / oracle mean latency, same pairing rule;
* **waste**: calls cancelled or compensated after they ran, and extra model tokens against sync;
* **same pass/fail as sync**: episodes where the policy passes exactly when ``sync`` does;
* **unrequested calls**: committed state-changing calls the episode did not ask for (goal 0),
  where the benchmark can tell.

Confidence intervals are percentile bootstraps over episodes (seeded, so reports are stable).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from .outcome import EpisodeOutcome

__all__ = ["Interval", "PolicyMetrics", "bootstrap", "by_category", "percentile", "summarise"]


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class PolicyMetrics:
    policy: str
    episodes: int
    answered: int
    accuracy: float
    accuracy_ci: Interval | None
    mean_latency_s: float | None
    mean_latency_ci: Interval | None
    median_latency_s: float | None
    p90_latency_s: float | None
    mean_first_token_latency_s: float | None
    speedup_vs_sync: float | None
    """Mean sync latency / mean policy latency over episodes both answered."""
    speedup_vs_sync_ci: Interval | None
    median_speedup_vs_sync: float | None
    """Median over episodes of sync latency / policy latency."""
    paired_episodes: int
    oracle_gap: float | None
    calls_issued: int
    calls_run_early: int
    calls_wasted: int
    calls_compensated: int
    calls_held: int
    tokens_generated: int
    extra_tokens_vs_sync: int | None
    protocol_errors: int
    errors: int
    """Runs that crashed (not checker failures)."""
    draft_tokens: int = 0
    """Draft tokens checked in one batch (``verified`` only)."""
    draft_tokens_kept: int = 0
    """Of those, the tokens kept: ``draft_tokens_kept / draft_tokens`` is the acceptance rate."""
    same_as_sync: int | None = None
    """Episodes where this policy passed exactly when ``sync`` did (``None`` without sync)."""
    same_as_sync_of: int = 0
    """Episodes run under both this policy and ``sync``."""
    unrequested_calls: int | None = None
    """Committed state-changing calls no episode asked for, summed (``None``: not measurable)."""
    passed: int = 0
    """Episodes the checker passed (``accuracy * episodes``, exactly)."""

    def to_json(self) -> dict:
        return asdict(self)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def bootstrap(
    samples: Sequence[object],
    statistic: Callable[[Sequence[object]], float | None],
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval | None:
    """Percentile bootstrap interval of ``statistic`` over ``samples`` (None if too few)."""
    if len(samples) < 2:
        return None
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        draw = [samples[rng.randrange(len(samples))] for _ in samples]
        value = statistic(draw)
        if value is not None:
            values.append(value)
    if not values:
        return None
    tail = (1.0 - level) / 2 * 100
    return Interval(round(percentile(values, tail), 4), round(percentile(values, 100 - tail), 4))


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _ratio_of_means(pairs: Sequence[object]) -> float | None:
    base = [p[0] for p in pairs]  # type: ignore[index]
    other = [p[1] for p in pairs]  # type: ignore[index]
    if not pairs or statistics.fmean(other) <= 0:
        return None
    return statistics.fmean(base) / statistics.fmean(other)


def _pairs(
    outcomes: dict[str, EpisodeOutcome], reference: dict[str, EpisodeOutcome]
) -> list[tuple[float, float]]:
    pairs = []
    for key, run in outcomes.items():
        ref = reference.get(key)
        if ref is not None and ref.latency_s is not None and run.latency_s is not None:
            pairs.append((ref.latency_s, run.latency_s))
    return pairs


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def summarise(outcomes: Sequence[EpisodeOutcome], *, seed: int = 0) -> dict[str, PolicyMetrics]:
    """Metrics per policy (in first-seen order) for outcomes of the same episodes."""
    by_policy: dict[str, dict[str, EpisodeOutcome]] = {}
    for run in outcomes:
        by_policy.setdefault(run.policy, {})[f"{run.dataset}/{run.episode_id}"] = run
    sync = by_policy.get("sync", {})
    oracle = by_policy.get("oracle", {})
    result: dict[str, PolicyMetrics] = {}
    for policy, runs in by_policy.items():
        listed = list(runs.values())
        latencies = [r.latency_s for r in listed if r.latency_s is not None]
        firsts = [r.first_token_latency_s for r in listed if r.first_token_latency_s is not None]
        passed = [1.0 if r.passed else 0.0 for r in listed]
        sync_pairs = _pairs(runs, sync) if sync else []
        oracle_pairs = _pairs(runs, oracle) if oracle else []
        ratios = [base / other for base, other in sync_pairs if other > 0]
        oracle_ratio = (
            _ratio_of_means([(mine, best) for best, mine in oracle_pairs]) if oracle_pairs else None
        )
        extra_tokens = None
        same: int | None = None
        shared: list[str] = []
        if sync:
            shared = [k for k in runs if k in sync]
            extra_tokens = sum(runs[k].tokens_generated - sync[k].tokens_generated for k in shared)
            same = sum(runs[k].passed == sync[k].passed for k in shared)
        counted = [r.unrequested_calls for r in listed if r.unrequested_calls is not None]
        result[policy] = PolicyMetrics(
            policy=policy,
            episodes=len(listed),
            answered=len(latencies),
            accuracy=round(statistics.fmean(passed), 4) if passed else 0.0,
            accuracy_ci=bootstrap(passed, lambda s: statistics.fmean(s), seed=seed),
            mean_latency_s=_round(_mean(latencies)),
            mean_latency_ci=bootstrap(latencies, lambda s: statistics.fmean(s), seed=seed),
            median_latency_s=_round(statistics.median(latencies)) if latencies else None,
            p90_latency_s=_round(percentile(latencies, 90)) if latencies else None,
            mean_first_token_latency_s=_round(_mean(firsts)),
            speedup_vs_sync=_round(_ratio_of_means(sync_pairs)),
            speedup_vs_sync_ci=bootstrap(sync_pairs, _ratio_of_means, seed=seed),
            median_speedup_vs_sync=_round(statistics.median(ratios)) if ratios else None,
            paired_episodes=len(sync_pairs),
            oracle_gap=_round(oracle_ratio),
            calls_issued=sum(r.calls_issued for r in listed),
            calls_run_early=sum(r.calls_run_early for r in listed),
            calls_wasted=sum(r.calls_wasted for r in listed),
            calls_compensated=sum(r.calls_compensated for r in listed),
            calls_held=sum(r.calls_held for r in listed),
            tokens_generated=sum(r.tokens_generated for r in listed),
            extra_tokens_vs_sync=extra_tokens,
            protocol_errors=sum(r.protocol_errors for r in listed),
            errors=sum(r.error is not None for r in listed),
            draft_tokens=sum(r.draft_tokens for r in listed),
            draft_tokens_kept=sum(r.draft_tokens_kept for r in listed),
            same_as_sync=same,
            same_as_sync_of=len(shared),
            unrequested_calls=sum(counted) if counted else None,
            passed=sum(1 for r in listed if r.passed),
        )
    return result


def by_category(outcomes: Sequence[EpisodeOutcome]) -> dict[str, dict[str, dict[str, float | int]]]:
    """Accuracy per episode category and policy: ``{category: {policy: {episodes, passed,
    accuracy}}}`` (episodes without a category are left out)."""
    table: dict[str, dict[str, dict[str, float | int]]] = {}
    for run in outcomes:
        if run.category is None:
            continue
        cell = table.setdefault(run.category, {}).setdefault(
            run.policy, {"episodes": 0, "passed": 0, "accuracy": 0.0}
        )
        cell["episodes"] += 1
        cell["passed"] += int(run.passed)
        cell["accuracy"] = round(cell["passed"] / cell["episodes"], 4)
    return table
