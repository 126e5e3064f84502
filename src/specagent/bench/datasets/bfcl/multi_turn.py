"""BFCL multi-turn episodes: the real backends as tools, and BFCL's state and response checks.

A BFCL multi-turn entry names the backend classes it involves (a file system, a trading bot,
a travel agency, ...) and their initial state. :class:`BfclMultiTurnEnv` instantiates those
classes from ``bfcl_eval`` itself (plain in-memory Python objects), loads the entry's scenario
into them and exposes each public method as a tool, with the JSON Schema of BFCL's function doc
and the effect class of :mod:`.multi_turn_effects`. Each backend instance sits in its own
:class:`~specagent.sandbox.StateCell`, so a state-changing call can run early on a copy.

The checker follows BFCL's ``multi_turn_checker`` (bfcl-eval 2026.3.23), turn by turn:

1. The run must have as many turns as the entry (BFCL fails a force-terminated run).
2. The ground-truth calls of the turn run on fresh backends kept across turns. The model's
   committed calls of the turn (``disposition == "committed"``; cancelled and compensated
   calls never count) are replayed, in issue order, on another set of fresh backends.
3. A turn whose ground truth is empty is not checked (its calls still run). Otherwise the
   turn needs at least one committed call; every backend's public attributes (names without a
   leading ``_``) must equal the ground truth's (**state check**); and every ground-truth
   result of the turn must appear among the results of the model's committed calls so far,
   counted with multiplicity, in any order (**response check**). Results are compared as BFCL
   prints them: a string as is, a dict as JSON, anything else through ``str``.
4. Beyond BFCL: after the last turn the live backends the agent actually used must hold the
   same public state as the replay of its committed calls. A difference means an effect that
   was not committed leaked into the world (or a committed one was lost), and fails the run.

The response check uses the results the agent was shown (``ToolCallReport.result``), which is
what BFCL compares too (its inference and its checker run the same calls in the same order).

Two deliberate differences from BFCL's execution: a parameter whose default is a mutable list
or dict gets a fresh copy on every call (``TwitterAPI.post_tweet`` mutates its shared default
list in BFCL, leaking mentions from one tweet, entry or process-wide run into the next); and a
call is made with keyword arguments from the model's JSON instead of ``eval`` of a string.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import inspect
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ....errors import SpecagentError
from ....sandbox import StateCell
from ....tools import Tool, Toolset
from ...episode import Check, EpisodeEnv, TurnRecord
from .multi_turn_effects import multi_turn_effect
from .schema import AnyArguments, to_json_schema

__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "BfclMultiTurnEnv",
    "GroundTruthCall",
    "MultiTurnEntry",
    "backend_class",
    "format_result",
    "invoke",
    "parse_call",
    "public_state",
]

_SOURCE = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"


@dataclass(frozen=True)
class Backend:
    module: str
    func_doc: str
    stateless: bool = False


BACKENDS: dict[str, Backend] = {
    "GorillaFileSystem": Backend(f"{_SOURCE}.gorilla_file_system", "gorilla_file_system.json"),
    "MathAPI": Backend(f"{_SOURCE}.math_api", "math_api.json", stateless=True),
    "MessageAPI": Backend(f"{_SOURCE}.message_api", "message_api.json"),
    "TwitterAPI": Backend(f"{_SOURCE}.posting_api", "posting_api.json"),
    "TicketAPI": Backend(f"{_SOURCE}.ticket_api", "ticket_api.json"),
    "TradingBot": Backend(f"{_SOURCE}.trading_bot", "trading_bot.json"),
    "TravelAPI": Backend(f"{_SOURCE}.travel_booking", "travel_booking.json"),
    "VehicleControlAPI": Backend(f"{_SOURCE}.vehicle_control", "vehicle_control.json"),
}
"""The multi-turn backend classes: where BFCL keeps each one and its function docs."""


class BackendUnavailable(SpecagentError, RuntimeError):
    """A BFCL backend class cannot be imported (a missing dependency, an unknown class)."""


@dataclass(frozen=True)
class GroundTruthCall:
    """One ground-truth call as keyword arguments (positional ones bound by the signature)."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class MultiTurnEntry:
    """One BFCL multi-turn entry, parsed."""

    id: str
    category: str
    turns: tuple[str, ...]
    system: str
    initial_config: Mapping[str, Any]
    involved_classes: tuple[str, ...]
    ground_truth: tuple[tuple[GroundTruthCall, ...], ...]
    func_docs: Mapping[str, tuple[Mapping[str, Any], ...]]
    """Per involved class, BFCL's function docs of its methods."""

    @property
    def long_context(self) -> bool:
        return "long_context" in self.category


@functools.cache
def backend_class(name: str) -> type:
    """The BFCL backend class ``name`` (imported on first use)."""
    backend = BACKENDS.get(name)
    if backend is None:
        raise BackendUnavailable(
            f"BFCL backend {name!r} is not supported; known: {', '.join(BACKENDS)}"
        )
    try:
        module = importlib.import_module(backend.module)
    except ImportError as exc:
        hint = " (pip install mpmath==1.3.0)" if exc.name == "mpmath" else ""
        raise BackendUnavailable(
            f"cannot import BFCL backend {name} from {backend.module}: {exc}{hint}"
        ) from exc
    return getattr(module, name)


def _new_instance(name: str, config: Mapping[str, Any], long_context: bool) -> Any:
    instance = backend_class(name)()
    if not BACKENDS[name].stateless:
        instance._load_scenario(
            copy.deepcopy(dict(config.get(name, {}))), long_context=long_context
        )
    return instance


def _fresh_defaults(method: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(kwargs)
    for pname, param in inspect.signature(method).parameters.items():
        if pname not in out and isinstance(param.default, (list, dict, set)):
            out[pname] = copy.deepcopy(param.default)
    return out


def invoke(instance: Any, method: str, arguments: Mapping[str, Any]) -> Any:
    """Call a backend method the way BFCL's executor does: an exception becomes its message.

    The result is a deep copy, so a later call cannot change what an earlier one returned.
    """
    bound = getattr(instance, method)
    fresh = copy.deepcopy(dict(arguments))  # a backend may keep (and later change) an argument
    try:
        result = bound(**_fresh_defaults(bound, fresh))
    except Exception as exc:  # noqa: BLE001 - BFCL shows the model the error text, never raises
        return f"Error during execution: {exc}"
    return copy.deepcopy(result)


def format_result(result: Any) -> str:
    """A result as BFCL compares it: strings as is, dicts as JSON, anything else ``str``."""
    if type(result) is str:
        return result
    if type(result) is dict:
        try:
            return json.dumps(result)
        except (TypeError, ValueError):
            return str(result)
    return str(result)


def parse_call(text: str, classes: Sequence[str]) -> GroundTruthCall:
    """Parse a ground-truth call string (``cd(folder='x')``, ``sort('f.txt')``)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"unreadable BFCL ground-truth call {text!r}: {exc}") from None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        message = f"BFCL ground-truth call {text!r} is not a plain function call"
        raise ValueError(message)  # noqa: TRY004 - bad data, not a bad argument type
    name = node.func.id
    owner = next((c for c in classes if hasattr(backend_class(c), name)), None)
    if owner is None:
        raise ValueError(f"BFCL ground-truth call {text!r}: no involved class has {name!r}")
    args = [ast.literal_eval(a) for a in node.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
    signature = inspect.signature(getattr(backend_class(owner), name))
    bound = signature.bind(None, *args, **kwargs)  # None stands for self
    arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
    return GroundTruthCall(name, arguments)


def public_state(instance: Any) -> dict[str, Any]:
    """The attributes BFCL's state check compares (names without a leading underscore)."""
    return {k: v for k, v in vars(instance).items() if not k.startswith("_")}


def _differences(model: Any, truth: Any) -> list[str]:
    want = public_state(truth)
    got = public_state(model)
    return [attr for attr, value in want.items() if got.get(attr, _MISSING) != value]


_MISSING = object()


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(value: Any, path: tuple[int, ...] = ()) -> Any:
    """A JSON-able picture of backend state (objects become their public attributes)."""
    if id(value) in path:
        return "<cycle>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    inner = (*path, id(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v, inner) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, inner) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v, inner) for v in value), key=repr)
    if hasattr(value, "__dict__"):
        return {
            k: _plain(v, inner)
            for k, v in vars(value).items()
            if not k.startswith("_") and id(v) not in inner
        }
    return repr(value)


class BfclMultiTurnEnv(EpisodeEnv):
    """One run's backends (fresh from the entry's scenario), their tools and the checker."""

    def __init__(self, entry: MultiTurnEntry) -> None:
        self.entry = entry
        self._instances: dict[str, Any] = {}
        self._cells: dict[str, StateCell[Any]] = {}
        self._owner: dict[str, str] = {}
        tools: list[Tool] = []
        for class_name in entry.involved_classes:
            instance = _new_instance(class_name, entry.initial_config, entry.long_context)
            cell: StateCell[Any] = StateCell(instance)
            self._instances[class_name] = instance
            self._cells[class_name] = cell
            for doc in entry.func_docs[class_name]:
                name = doc["name"]
                if name in self._owner:
                    raise ValueError(
                        f"BFCL entry {entry.id}: method {name!r} is in both "
                        f"{self._owner[name]} and {class_name}"
                    )
                self._owner[name] = class_name
                tools.append(self._make_tool(class_name, cell, doc))
        self._toolset = Toolset(tools)

    @staticmethod
    def _make_tool(class_name: str, cell: StateCell[Any], doc: Mapping[str, Any]) -> Tool:
        name = doc["name"]
        effect = multi_turn_effect(class_name, name)

        async def run(**arguments: Any) -> Any:
            return invoke(cell.get(), name, arguments)

        return Tool(  # the schema was checked once by to_json_schema
            name=name,
            description=doc.get("description", ""),
            parameters=to_json_schema(doc.get("parameters", {}), function=name),
            fn=run,
            args_model=AnyArguments,
            effect=effect.effect,
            state=cell,
            sandboxable=effect.sandboxable,
            timeout_s=10.0,
        )

    @property
    def toolset(self) -> Toolset:
        return self._toolset

    @property
    def instances(self) -> Mapping[str, Any]:
        """The live backends the tools act on (by class name)."""
        return dict(self._instances)

    def context(self) -> str:
        return self.entry.system

    def committed_state(self) -> dict[str, Any]:
        return {name: _plain(public_state(inst)) for name, inst in self._instances.items()}

    def _fresh(self) -> dict[str, Any]:
        e = self.entry
        return {c: _new_instance(c, e.initial_config, e.long_context) for c in e.involved_classes}

    def check(self, turns: Sequence[TurnRecord]) -> Check:
        truth = self.entry.ground_truth
        if len(turns) != len(truth):
            return Check(
                False,
                f"the run has {len(turns)} turns, the entry {len(truth)} "
                "(BFCL fails a run that ended early)",
            )
        replay = self._fresh()
        expected = self._fresh()
        shown: list[str] = []
        for index, (turn, truth_calls) in enumerate(zip(turns, truth)):
            committed = [
                c
                for c in turn.calls
                if c.disposition == "committed" and c.status in ("done", "failed")
            ]
            for call in committed:
                owner = self._owner.get(call.name)
                if call.status == "done" and owner is not None:
                    invoke(replay[owner], call.name, call.arguments)
                    shown.append(format_result(call.result))
                else:
                    shown.append(f"Error during execution: {call.error}")
            truth_results = [
                format_result(invoke(expected[self._owner[c.name]], c.name, c.arguments))
                for c in truth_calls
            ]
            if not truth_calls:
                continue
            if not committed:
                return Check(False, f"turn {index}: no committed call, {len(truth_calls)} expected")
            for class_name in self.entry.involved_classes:
                diff = _differences(replay[class_name], expected[class_name])
                if diff:
                    attr = diff[0]
                    return Check(
                        False,
                        f"turn {index}: {class_name} state differs in {', '.join(diff)} "
                        f"(model {_short(getattr(replay[class_name], attr, None))}, "
                        f"expected {_short(getattr(expected[class_name], attr))})",
                    )
            missing = Counter(truth_results) - Counter(shown)
            if missing:
                return Check(
                    False,
                    f"turn {index}: {sum(missing.values())} expected result(s) never obtained, "
                    f"e.g. {_short(next(iter(missing)))}",
                )
        for class_name in self.entry.involved_classes:
            diff = _differences(self._instances[class_name], replay[class_name])
            if diff:
                return Check(
                    False,
                    f"live {class_name} state differs from its committed calls in "
                    f"{', '.join(diff)}: an uncommitted effect leaked or a committed one was lost",
                )
        return Check(True, f"{len(truth)} turns match BFCL's state and response checks")


def load_func_docs(data_dir: Path, class_name: str) -> tuple[Mapping[str, Any], ...]:
    """BFCL's function docs of one backend class (one JSON object a line)."""
    path = data_dir / "multi_turn_func_doc" / BACKENDS[class_name].func_doc
    with path.open(encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f if line.strip())
