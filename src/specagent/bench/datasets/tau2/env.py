"""The environment of one tau2 run: the domain's tools over a fresh DB, and tau2's checker.

The checker (:meth:`Tau2Env.check`) follows tau2's evaluator for the task's reward basis (all
tasks here use tau2's default, ``DB`` and ``COMMUNICATE``, which need no LLM): replay the run's
committed, executed calls on a fresh DB and compare its hash with that of a fresh DB after the
task's ground-truth actions; and every ``communicate_info`` string must appear
(case-insensitive, commas dropped) in one of the agent's answers. A run that ended a turn by
context overflow, generation limit or protocol errors scores 0, as tau2 does for a simulation
that stops early. ``ACTION`` is checked too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from ....events import EndReason
from ....sandbox import StateCell
from ....tools import Tool, Toolset
from ...episode import Check, EpisodeEnv, TurnRecord, committed_calls
from .domains import DomainData, domain_data, fingerprint, run_tool, tau2_modules
from .effects import EFFECT_TABLES

__all__ = ["Tau2Env"]

# Turn endings after which tau2 would have stopped the simulation early (max steps, too many
# errors): such runs score 0 whatever the DB holds.
_PREMATURE_ENDINGS: frozenset[EndReason] = frozenset(
    {"context_full", "generation_limit", "too_many_protocol_errors"}
)


class _World:
    """The live toolkit of one run, its DB loaded on first use.

    A sandbox copy of a world that was never used stays unloaded (it is the initial DB).
    """

    def __init__(self, domain: DomainData) -> None:
        self._domain = domain
        self._toolkit: Any = None

    @property
    def toolkit(self) -> Any:
        if self._toolkit is None:
            self._toolkit = self._domain.fresh_toolkit()
        return self._toolkit

    def __deepcopy__(self, memo: dict[int, Any]) -> _World:
        twin = _World(self._domain)
        twin._toolkit = copy.deepcopy(self._toolkit, memo)
        return twin


class Tau2Env(EpisodeEnv):
    """One run of a tau2 task: the domain's tools over a fresh DB, and tau2's checker."""

    def __init__(self, domain: str, task_id: str) -> None:
        self._domain = domain_data(domain)
        if task_id not in self._domain.tasks:
            raise ValueError(f"no tau2 {domain} task {task_id!r}")
        self._task = self._domain.tasks[task_id]
        self._task_id = task_id
        self._cell: StateCell[_World] = StateCell(_World(self._domain))
        effects = EFFECT_TABLES[domain]
        tools = []
        for name, schema in self._domain.schemas.items():
            spec = effects[name]  # KeyError here means the table needs a review
            tools.append(
                Tool(  # schemas were checked once, when the domain was read
                    name=name,
                    description=schema.get("description", ""),
                    parameters=schema["parameters"],
                    fn=_tool_fn(self._cell, name),
                    effect=spec.effect,
                    state=self._cell if spec.sandboxable else None,
                    sandboxable=spec.sandboxable,
                )
            )
        self._toolset = Toolset(tools)

    @property
    def toolset(self) -> Toolset:
        return self._toolset

    def context(self) -> str:
        return self._domain.policy

    def committed_state(self) -> Any:
        return {"db": fingerprint(self._cell.real.toolkit)}

    def check(self, turns: Sequence[TurnRecord]) -> Check:
        criteria = self._task.evaluation_criteria
        if criteria is None:
            return Check(True, "task has no evaluation criteria")
        premature = sorted({t.ended for t in turns} & _PREMATURE_ENDINGS)
        if premature:
            return Check(False, f"conversation ended early ({', '.join(premature)})")
        bases = {b.value for b in criteria.reward_basis}
        # Only calls that ran and whose effect stands: a call that failed before running
        # (bad arguments, timeout, dependency) never touched the DB. Tool refusals are
        # results ("Error: ..."), so they are here and are replayed like tau2 replays them.
        executed = [(c.name, c.arguments) for c in committed_calls(turns) if c.status == "done"]
        parts: list[str] = []
        passed = True
        if "DB" in bases:
            db_ok = self._domain.db_matches_gold(self._task_id, executed)
            parts.append("DB matches" if db_ok else "DB differs from ground truth")
            passed &= db_ok
        if "COMMUNICATE" in bases:
            infos = list(criteria.communicate_info or [])
            answers = [t.answer.lower().replace(",", "") for t in turns if t.answer]
            missing = [i for i in infos if not any(i.lower() in a for a in answers)]
            parts.append(f"communicated {len(infos) - len(missing)}/{len(infos)}")
            if missing:
                parts.append("missing " + ", ".join(repr(m) for m in missing))
            passed &= not missing
        if "ACTION" in bases:
            tool_call = tau2_modules().ToolCall
            made = [tool_call(name=n, arguments=dict(a)) for n, a in executed]
            gold = list(criteria.actions or [])
            found = sum(any(g.compare_with_tool_call(m) for m in made) for g in gold)
            parts.append(f"actions {found}/{len(gold)}")
            passed &= found == len(gold)
        return Check(passed, "; ".join(parts))


def _tool_fn(cell: StateCell[_World], name: str) -> Callable[..., Any]:
    async def call(**arguments: Any) -> Any:
        return run_tool(cell.get().toolkit, name, arguments)

    call.__name__ = name
    return call
