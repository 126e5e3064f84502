"""Is the trained model better at the protocol? Held-out tasks through the real runtime.

Each held-out (``test`` split) task is played by a :class:`~specagent.agent.session.Session`
with a real local model (llama.cpp) on a virtual clock charged with the measured compute of
every token, under the ``sync`` baseline and the ``speculative`` policy. Scores:

* **protocol-valid turns**: of the model's complete generations, the share that parse into
  exactly one action with no tolerated liberty (:attr:`ParsedOutput.tolerated` empty), and the
  share that parse at all;
* **tool-call accuracy**: committed calls against the task's gold calls (precision, recall,
  and exact task success: answered, every gold call committed and nothing else);
* **speedup**: sync latency / speculative latency (user's last word to answer complete) over
  the tasks both policies answered: ratio of mean latencies and median per-task ratio.

Never a scripted model here: this is the figure the docs report.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..agent.policies import Policy
from ..agent.records import SessionResult, ToolCallReport
from ..agent.verified import session_for
from ..clock import VirtualClock
from ..envs.assistant import tool_latency
from ..events import ModelOutput
from ..models.base import ModelBackend
from ..profiles import MeasuredProfile
from ..protocol import THINK_INTERRUPTED, ParseError, parse_output
from ..speech.simulator import simulate_speech
from ..tools import ToolError, Toolset
from .sources import load_tasks
from .tasks import TrainTask
from .validate import normalise

__all__ = [
    "EpisodeScore",
    "evaluate_backend",
    "evaluate_model",
    "held_out_tasks",
    "match_gold",
    "score_session",
    "summarize",
]  # fmt: skip


@dataclass(frozen=True)
class EpisodeScore:
    task_id: str
    family: str
    policy: str
    ended: str
    answered: bool
    success: bool
    gold_calls: int
    matched_calls: int
    committed_calls: int
    outputs: int
    valid_strict: int
    parseable: int
    protocol_errors: int
    latency_s: float | None
    generations: int
    answer: str | None


def held_out_tasks(limit: int, source: str = "assistant") -> list[TrainTask]:
    """``limit`` test-split tasks, taken round-robin over families (stable order)."""
    tasks = load_tasks(source, split="test")
    by_family: dict[str, list[TrainTask]] = {}
    for task in tasks:
        by_family.setdefault(task.family, []).append(task)
    out: list[TrainTask] = []
    while len(out) < limit and any(by_family.values()):
        for family in sorted(by_family):
            if by_family[family] and len(out) < limit:
                out.append(by_family[family].pop(0))
    return out


def match_gold(
    task: TrainTask, calls: Sequence[ToolCallReport], toolset: Toolset
) -> tuple[int, int, int]:
    """``(gold, matched, committed)``: how many gold calls the committed calls cover."""
    committed = [c for c in calls if c.disposition == "committed" and c.status == "done"]
    unused = list(committed)
    results: dict[str, Any] = {}
    gold = matched = 0
    for call in task.calls:
        if not call.gold:
            continue
        gold += 1
        if not all(n in results for n in call.needs):
            continue
        try:
            wanted = normalise(toolset[call.name].validate(call.final_args(results)))
        except (ToolError, KeyError, IndexError, TypeError):
            continue
        hit = next(
            (c for c in unused if c.name == call.name and normalise(c.arguments) == wanted), None
        )
        if hit is not None:
            unused.remove(hit)
            results[call.key] = hit.result
            matched += 1
    return gold, matched, len(committed)


def score_session(task: TrainTask, policy: str, result: SessionResult) -> EpisodeScore:
    outputs = strict = parseable = 0
    next_id = 1
    for event in result.ledger.events:
        if not isinstance(event, ModelOutput) or event.text.endswith(THINK_INTERRUPTED):
            continue
        outputs += 1
        try:
            parsed = parse_output(event.text, next_id)
        except ParseError:
            continue
        parseable += 1
        strict += not parsed.tolerated
        call_id = getattr(parsed.action, "call_id", None)
        if isinstance(call_id, int):
            next_id = max(next_id, call_id + 1)
    gold, matched, committed = match_gold(task, result.tool_calls, task.make_toolset())
    answered = result.ended == "answered"
    return EpisodeScore(
        task_id=task.id,
        family=task.family,
        policy=policy,
        ended=result.ended,
        answered=answered,
        success=answered and matched == gold and committed == gold,
        gold_calls=gold,
        matched_calls=matched,
        committed_calls=committed,
        outputs=outputs,
        valid_strict=strict,
        parseable=parseable,
        protocol_errors=result.protocol_errors,
        latency_s=result.latency_s,
        generations=result.generations,
        answer=result.answer,
    )


def _play(backend: Any, task: TrainTask, policy: Policy, seed: int) -> SessionResult:
    clock = VirtualClock()
    backend.rebind(clock, MeasuredProfile())
    toolset = task.make_toolset()
    session = session_for(
        policy,
        backend,
        toolset,
        clock,
        latency=tool_latency(seed),
        speculator_latency=tool_latency(seed),
    )
    return clock.run(session.run(simulate_speech(task.request)))


def evaluate_backend(
    backend: ModelBackend,
    tasks: Sequence[TrainTask],
    policies: Sequence[str],
    *,
    seed: int = 0,
    progress: Any = None,
) -> list[EpisodeScore]:
    scores = []
    for task in tasks:
        for name in policies:
            result = _play(backend, task, Policy.parse(name), seed)
            scores.append(score_session(task, name, result))
            if progress is not None:
                progress(scores[-1])
    return scores


def _ratio(a: float, b: float) -> float | None:
    return None if b <= 0 else round(a / b, 3)


def summarize(scores: Sequence[EpisodeScore]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for policy in sorted({s.policy for s in scores}):
        mine = [s for s in scores if s.policy == policy]
        outputs = sum(s.outputs for s in mine)
        gold = sum(s.gold_calls for s in mine)
        committed = sum(s.committed_calls for s in mine)
        matched = sum(s.matched_calls for s in mine)
        latencies = [s.latency_s for s in mine if s.latency_s is not None]
        out[policy] = {
            "tasks": len(mine),
            "answered": sum(s.answered for s in mine),
            "task_success": sum(s.success for s in mine),
            "task_success_pct": round(100 * sum(s.success for s in mine) / len(mine), 1),
            "model_turns": outputs,
            "protocol_valid_pct": round(100 * sum(s.valid_strict for s in mine) / outputs, 1)
            if outputs
            else None,
            "parseable_pct": round(100 * sum(s.parseable for s in mine) / outputs, 1)
            if outputs
            else None,
            "protocol_errors": sum(s.protocol_errors for s in mine),
            "call_recall_pct": round(100 * matched / gold, 1) if gold else None,
            "call_precision_pct": round(100 * matched / committed, 1) if committed else None,
            "mean_latency_s": round(statistics.mean(latencies), 3) if latencies else None,
            "ended": dict(Counter(s.ended for s in mine)),
        }
    sync = {s.task_id: s for s in scores if s.policy == "sync" and s.latency_s is not None}
    for policy in [p for p in out if p != "sync"] if sync else []:
        other = {s.task_id: s for s in scores if s.policy == policy and s.latency_s is not None}
        both = sorted(set(sync) & set(other))
        ok = [t for t in both if sync[t].success and other[t].success]
        # the speculative policy keeps its historical keys; others are suffixed with their name
        suffix = "" if policy == "speculative" else f"_{policy}"
        for label, ids in (("answered_by_both", both), ("correct_under_both", ok)):
            if not ids:
                out[f"speedup_{label}{suffix}"] = None
                continue
            a = [sync[t].latency_s or 0.0 for t in ids]
            b = [other[t].latency_s or 0.0 for t in ids]
            per = [x / y for x, y in zip(a, b) if y > 0]
            out[f"speedup_{label}{suffix}"] = {
                "tasks": len(ids),
                "sync_mean_s": round(statistics.mean(a), 3),
                f"{policy}_mean_s": round(statistics.mean(b), 3),
                "ratio_of_means": _ratio(statistics.mean(a), statistics.mean(b)),
                "median_ratio": round(statistics.median(per), 3) if per else None,
            }
    return out


def load_eval_backend(model: str, clock: VirtualClock) -> ModelBackend:
    """Any spec :func:`~specagent.models.loader.load_backend` takes (a GGUF path included)."""
    from ..models.loader import load_backend

    return load_backend(model, clock, MeasuredProfile())


def evaluate_model(
    model: str, *, limit: int = 20, policies: Sequence[str] = ("sync", "speculative"), seed: int = 0
) -> dict[str, Any]:
    """Score ``model`` on ``limit`` held-out tasks; ``{"summary", "episodes", "settings"}``."""
    import asyncio

    tasks = held_out_tasks(limit)
    clock = VirtualClock()
    backend = load_eval_backend(model, clock)
    try:
        scores = evaluate_backend(backend, tasks, policies, seed=seed)
    finally:
        closer = getattr(backend, "aclose", None)
        if closer is not None:
            asyncio.run(closer())
    return {
        "settings": {"model": model, "limit": limit, "policies": list(policies), "seed": seed,
                     "profile": "measured", "speech": "150 wpm, 3 words per update"},
        "summary": summarize(scores),
        "episodes": [asdict(s) for s in scores],
    }  # fmt: skip
