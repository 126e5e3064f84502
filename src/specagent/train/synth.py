"""Clock-based trace synthesis: play train tasks through the real runtime, keep valid traces.

Each trace is one train task played by the real :class:`~specagent.agent.session.Session` on a
:class:`~specagent.clock.VirtualClock`, with the :class:`~specagent.train.teacher.Teacher` as the
model. Everything timed comes from the runtime itself: the request is streamed as partial
updates at a speaking rate (:func:`~specagent.speech.simulator.simulate_speech`), tool results
arrive after their simulated latencies, a generation an event arrives during is cut and closed
with ``</think_interrupted>``, state-changing calls wait for their commit point. What the model
saw is the ledger rendered by :func:`~specagent.protocol.render_messages`, which is the
training example.

Variation per trace (all drawn from one seeded RNG, so a run is reproducible): policy
(mostly ``speculative``/``async``, some ``sync`` so the model also knows the baseline's
context), speaking rate, words per update, the model's speed, tool latency seed.

A task of several turns is played as the benchmark runner plays a conversation: one session
per turn on one shared ledger, so later turns see the earlier ones. A task that carries its
benchmark's checker (:class:`~specagent.train.tasks.TaskWorld`) has the world it left behind
and its answers judged by that checker too (``benchmark_check``).

Every trace is validated (:mod:`.validate`) and invalid ones are counted by reason and
dropped. Output: chat-format JSONL (``messages`` with ``role``, ``content`` and ``train``,
False for context, for interrupted generations and for most pauses, see
:data:`PAUSE_LEARN_FRACTION`), loadable by Hugging Face ``datasets``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..agent.policies import Policy
from ..agent.prompt import system_prompt
from ..agent.records import SessionConfig, SessionResult
from ..agent.session import Session
from ..clock import VirtualClock
from ..envs.assistant import tool_latency
from ..ledger import Ledger
from ..models.base import ModelError
from ..models.scripted import ScriptedBackend
from ..protocol import ChatMessage, render_messages
from ..speech.simulator import simulate_speech
from ..tools import Toolset
from .tasks import TrainTask, require_train
from .teacher import Teacher, TeacherError
from .validate import TraceInvalid, validate_trace

__all__ = [
    "SynthReport",
    "Trace",
    "TraceSettings",
    "draw_settings",
    "play_task",
    "synthesize",
    "task_prompt",
    "write_jsonl",
]

PAUSE_LEARN_FRACTION = 0.35
"""Share of the teacher's pauses the model learns from. Pauses are about half of all turns;
learnt in full, a briefly trained small model settles on pausing everywhere (measured: the
first recorded run paused through every held-out task). The other pauses stay in the
context."""

_BEHAVIOURS = (
    "calls",
    "revisions",
    "removals",
    "pauses",
    "interrupted",
    "early_calls",
    "cancelled",
)

_POLICY_WEIGHTS = ((Policy.SPECULATIVE, 0.55), (Policy.ASYNC, 0.3), (Policy.SYNC, 0.15))


@dataclass(frozen=True)
class TraceSettings:
    """How one trace is played."""

    seed: int
    policy: str
    words_per_minute: float
    chunk_words: int
    ttft_s: float
    token_s: float
    latency_seed: int


@dataclass(frozen=True)
class Trace:
    """One validated trace: the chat messages the model saw, with what to learn from."""

    id: str
    task_id: str
    source: str
    family: str
    settings: TraceSettings
    messages: tuple[ChatMessage, ...]
    train_mask: tuple[bool, ...]
    """Per message: learn from it (the model's own complete generations only)."""
    stats: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task_id": self.task_id,
            "source": self.source,
            "family": self.family,
            "split": "train",
            "settings": asdict(self.settings),
            "messages": [
                {"role": m.role, "content": m.content, "train": t}
                for m, t in zip(self.messages, self.train_mask)
            ],
            "stats": self.stats,
        }


@dataclass
class SynthReport:
    """What a synthesis run produced and rejected."""

    requested: int = 0
    written: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    by_family: Counter[str] = field(default_factory=Counter)
    by_policy: Counter[str] = field(default_factory=Counter)
    behaviours: Counter[str] = field(default_factory=Counter)
    """Total count of each behaviour over the written traces."""
    traces_with: Counter[str] = field(default_factory=Counter)
    """How many written traces show each behaviour at least once."""

    def to_json(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "written": self.written,
            "rejected": dict(sorted(self.rejected.items())),
            "by_family": dict(sorted(self.by_family.items())),
            "by_policy": dict(sorted(self.by_policy.items())),
            "behaviours": dict(sorted(self.behaviours.items())),
            "traces_with": dict(sorted(self.traces_with.items())),
        }


def draw_settings(rng: random.Random) -> TraceSettings:
    r = rng.random()
    policy = _POLICY_WEIGHTS[-1][0]
    for candidate, weight in _POLICY_WEIGHTS:
        if r < weight:
            policy = candidate
            break
        r -= weight
    return TraceSettings(
        seed=rng.randrange(2**31),
        policy=policy.value,
        words_per_minute=rng.choice([130.0, 150.0, 150.0, 170.0]),
        chunk_words=rng.choice([3, 4, 4, 5]),
        ttft_s=rng.choice([0.05, 0.1, 0.2]),
        token_s=rng.choice([0.005, 0.01, 0.02]),
        latency_seed=rng.randrange(2**31),
    )


def task_prompt(task: TrainTask, toolset: Toolset) -> str:
    """The system prompt of a task's sessions: the runtime's, plus the task's context (as the
    benchmark runner builds it, so the model trains on the prompt it is evaluated with)."""
    prompt = system_prompt(toolset.schemas())
    return f"{prompt}\n\n{task.context}" if task.context else prompt


@dataclass
class _Played:
    results: list[SessionResult]
    messages: list[ChatMessage]
    backend: ScriptedBackend
    problems: list[str]
    """What the task's own checker (if any) found wrong with the world and the answers."""


def _run(task: TrainTask, settings: TraceSettings) -> _Played:
    """Play every turn of ``task`` as sessions on one ledger (as the benchmark runner does)."""
    clock = VirtualClock()
    teacher = Teacher(task, settings.seed)
    backend = ScriptedBackend(clock, teacher, ttft_s=settings.ttft_s, token_s=settings.token_s)
    world = task.make_world() if task.make_world is not None else None
    toolset = world.toolset if world is not None else task.make_toolset()
    prompt = task_prompt(task, toolset)
    ledger = Ledger()
    latency = tool_latency(settings.latency_seed)
    results: list[SessionResult] = []
    for turn in task.turns:
        session = Session(
            backend,
            toolset,
            clock,
            Policy(settings.policy),
            ledger=ledger,
            latency=latency,
            config=SessionConfig(),
            prompt=prompt,
            known=task.context,
        )
        speech = simulate_speech(
            turn.request,
            words_per_minute=settings.words_per_minute,
            chunk_words=settings.chunk_words,
        )
        result = clock.run(session.run(speech))
        results.append(result)
        if result.ended != "answered":
            break  # the next turn would follow an unanswered one; the trace is rejected
    messages = render_messages(ledger.events, prompt)
    problems = world.check([r.answer for r in results]) if world is not None else []
    return _Played(results, messages, backend, problems)


def play_task(task: TrainTask, settings: TraceSettings, trace_id: str) -> Trace:
    """Play one train task and return its validated trace, or raise :class:`TraceInvalid`."""
    require_train(task)
    try:
        played = _run(task, settings)
    except TeacherError as exc:
        raise TraceInvalid("teacher_error", str(exc)) from exc
    except ModelError as exc:
        raise TraceInvalid("model_error", str(exc)) from exc
    messages = played.messages
    report = validate_trace(task, messages, played.results, played.backend.contexts)
    if played.problems:
        raise TraceInvalid("benchmark_check", "; ".join(played.problems))
    keep = random.Random(f"{settings.seed}|pauses")
    mask = tuple(
        m.role == "assistant"
        and not m.content.endswith("</think_interrupted>")
        and (not m.content.endswith("<pause/>") or keep.random() < PAUSE_LEARN_FRACTION)
        for m in messages
    )
    return Trace(
        id=trace_id,
        task_id=task.id,
        source=task.source,
        family=task.family,
        settings=settings,
        messages=tuple(messages),
        train_mask=mask,
        stats=report,
    )


def _cycle(tasks: Sequence[TrainTask], rng: random.Random) -> Iterator[TrainTask]:
    """Tasks in a fresh shuffled order each pass (every task once before any repeats)."""
    while True:
        order = list(tasks)
        rng.shuffle(order)
        yield from order


def synthesize(
    tasks: Sequence[TrainTask],
    count: int,
    *,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Trace], SynthReport]:
    """Play ``count`` traces over ``tasks`` (train split only); deterministic for ``seed``."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if not tasks:
        raise ValueError("no tasks to synthesize from")
    for task in tasks:
        require_train(task)
    rng = random.Random(f"synth|{seed}")
    report = SynthReport(requested=count)
    traces: list[Trace] = []
    order = _cycle(tasks, rng)
    for n in range(count):
        task = next(order)
        settings = draw_settings(rng)
        try:
            trace = play_task(task, settings, f"{task.id}-{seed}-{n}")
        except TraceInvalid as exc:
            report.rejected[exc.reason] += 1
        else:
            traces.append(trace)
            report.written += 1
            report.by_family[task.family] += 1
            report.by_policy[settings.policy] += 1
            if len(task.turns) > 1:
                report.traces_with["multi_turn"] += 1
            for name, value in trace.stats.items():
                if name in _BEHAVIOURS and value > 0:
                    report.behaviours[name] += value
                    report.traces_with[name] += 1
        if progress is not None:
            progress(n + 1, count)
    return traces, report


def write_jsonl(traces: Sequence[Trace], path: str | Path) -> Path:
    """Write traces as chat-format JSONL (one object per line)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for trace in traces:
            fh.write(json.dumps(trace.to_record(), ensure_ascii=False) + "\n")
    return out
