"""The episodes of a tau2 domain and split, refusing tasks this adapter cannot check offline."""

from __future__ import annotations

import functools
from typing import Any

from ....errors import SpecagentError
from ...episode import Episode
from .domains import DOMAINS, SPLITS, domain_data
from .env import Tau2Env
from .user import Tau2ScriptedUser, UserScenario, script_for

__all__ = ["UnsupportedTask", "load"]


class UnsupportedTask(SpecagentError, ValueError):
    """A task needs something this adapter cannot do offline (an LLM judge, initial state)."""


_SUPPORTED_BASES = frozenset({"DB", "COMMUNICATE", "ACTION"})


def load(variant: str, split: str = "test") -> list[Episode]:
    """The episodes of one domain (``airline`` or ``retail``) and split, in task-id order."""
    if variant not in DOMAINS:
        raise ValueError(f"unknown tau2 domain {variant!r}; choose one of {', '.join(DOMAINS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for tau2-{variant}; choose train or test")
    domain = domain_data(variant)
    episodes = []
    for task_id in sorted(domain.splits[split], key=_task_order):
        task = domain.tasks[task_id]
        _refuse_unsupported(variant, task)
        scenario = UserScenario.from_task(task)
        episodes.append(
            Episode(
                id=f"{variant}-{task_id}",
                dataset=f"tau2-{variant}",
                turns=tuple(script_for(scenario)),
                make_env=functools.partial(Tau2Env, variant, task_id),
                split=split,
                meta={
                    "domain": variant,
                    "task_id": task_id,
                    "reward_basis": sorted(b.value for b in task.evaluation_criteria.reward_basis)
                    if task.evaluation_criteria is not None
                    else [],
                    "user": "scripted",
                },
                make_user=functools.partial(Tau2ScriptedUser, scenario),
            )
        )
    return episodes


def _task_order(task_id: str) -> tuple[int, str]:
    return (int(task_id), task_id) if task_id.isdigit() else (1 << 30, task_id)


def _refuse_unsupported(domain: str, task: Any) -> None:
    where = f"tau2 {domain} task {task.id}"
    if task.initial_state is not None:
        raise UnsupportedTask(f"{where} sets an initial state, which this adapter does not apply")
    criteria = task.evaluation_criteria
    if criteria is None:
        return
    bases = {b.value for b in criteria.reward_basis}
    if bases - _SUPPORTED_BASES:
        raise UnsupportedTask(
            f"{where} is judged on {sorted(bases - _SUPPORTED_BASES)}, which needs an LLM "
            f"or state this adapter does not check"
        )
    if any(a.requestor != "assistant" for a in criteria.actions or []):
        raise UnsupportedTask(f"{where} has user-side actions (no user tools here)")
