"""ToolTalk as episodes: its conversations, its simulated APIs over its own databases.

What comes from the ``nvidia-tooltalk`` package: the conversations (50 in ``tooltalk/``, the
benchmark proper, and 28 in ``easy/``), the JSON databases, and the API classes themselves
(their ``call`` code runs the tools and their ``check_api_call_correctness`` judges calls).
The package's ``apis`` module imports torch and transformers at import time only to embed
text with DistilBERT when *comparing* free text; the weights cannot be fetched here. So the
API modules are loaded under a private package name next to a light ``utils`` module that
takes the two format checks (phone, email) from the real ``utils.py`` source and replaces
``semantic_str_compare`` with :func:`text_similarity` (see below). The real ``tooltalk.apis``
package is never imported or altered.

* **Split** (ToolTalk defines none): ``test`` is the 50 ToolTalk conversations, ``train`` the
  28 easy ones, in file-name order.
* **User turns**: the conversation's user messages in order, one per turn, each played after
  the agent's own answers to the earlier turns (the agent's history is its own run, not
  ToolTalk's gold history). Consecutive user messages are merged into one turn; user messages
  after the last assistant message are dropped (ToolTalk never asks for a reply to them).
* **Tools**: all 28 APIs (ToolTalk's default ``api_mode=all``), executed against fresh copies
  of the databases, with ToolTalk's session handling (the conversation's user starts logged in
  when the data says so; login, register, logout and delete-account change the session; the
  session token is added to every call that needs one). A call returns ToolTalk's own
  ``{"response": ..., "exception": ...}``, which is what ToolTalk shows its model.
* **Effects** (:data:`TOOLTALK_EFFECTS`): ToolTalk's ``is_action`` decides: actions are
  irreversible, the rest read-only. Actions that only change the simulated databases are
  sandboxable; sending an email, a message or a verification code reaches another person,
  so those are never run early.
* **Checker**: ToolTalk's ``evaluate_predictions``: each committed call is matched greedily
  against the not-yet-matched ground-truth calls of the whole conversation with the API's own
  ``check_api_call_correctness``; a successful action that matches nothing is a bad action.
  Success = every ground-truth call matched and no bad action.
* **Free-text comparison**: ToolTalk compares message and email bodies, event names and the
  like by DistilBERT [CLS] cosine (thresholds 0.8 or 0.9). Here the same thresholds apply to
  the cosine of word-count vectors (lower-cased words and numbers): deterministic, offline,
  and stricter than the original for paraphrases.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import importlib.util
import inspect
import json
import math
import re
import sys
import threading
import types
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

from ...agent.records import ToolCallReport
from ...sandbox import StateCell
from ...tools import Effect, Tool, Toolset
from ..episode import Check, Episode, EpisodeEnv, TurnRecord, committed_calls
from . import DatasetUnavailable

__all__ = [
    "SPLITS",
    "TOOLTALK_EFFECTS",
    "ToolEffect",
    "ToolTalkEnv",
    "ToolTalkMetrics",
    "load",
    "text_similarity",
    "tooltalk_metrics",
]

SPLITS = {"test": "tooltalk", "train": "easy"}
"""Split name to the package's data folder."""


@dataclass(frozen=True)
class ToolEffect:
    """One row of the effect table: the class, whether it may run on a state copy, and why."""

    effect: Effect
    sandboxable: bool
    why: str


def _read(why: str) -> ToolEffect:
    return ToolEffect(Effect.READ_ONLY, False, why)


def _db_action(why: str) -> ToolEffect:
    return ToolEffect(Effect.IRREVERSIBLE, True, why)


def _outbound(why: str) -> ToolEffect:
    return ToolEffect(Effect.IRREVERSIBLE, False, why)


TOOLTALK_EFFECTS: dict[str, ToolEffect] = {
    # Account
    "ChangePassword": _db_action("changes the account's password"),
    "DeleteAccount": _db_action("deletes the account and ends the session"),
    "GetAccountInformation": _read("reads the logged-in account"),
    "LogoutUser": _db_action("ends the session"),
    "QueryUser": _read("looks up another user"),
    "RegisterUser": _db_action("creates an account and a session"),
    "ResetPassword": _db_action("sets a new password with a verification code"),
    "SendVerificationCode": _outbound("emails a code to the user (and stores it)"),
    "UpdateAccountInformation": _db_action("changes the account's details"),
    "UserLogin": _db_action("starts a session"),
    # Alarm
    "AddAlarm": _db_action("adds an alarm"),
    "DeleteAlarm": _db_action("deletes an alarm"),
    "FindAlarms": _read("lists alarms"),
    # Calendar
    "CreateEvent": _db_action("adds a calendar event"),
    "DeleteEvent": _db_action("deletes a calendar event"),
    "ModifyEvent": _db_action("changes a calendar event"),
    "QueryCalendar": _read("lists events in a time range"),
    # Email
    "SearchInbox": _read("searches the inbox"),
    "SendEmail": _outbound("sends an email to other people"),
    # Messages
    "SearchMessages": _read("searches messages"),
    "SendMessage": _outbound("sends a text message to another user"),
    # Reminder
    "AddReminder": _db_action("adds a reminder"),
    "CompleteReminder": _db_action("marks a reminder done"),
    "DeleteReminder": _db_action("deletes a reminder"),
    "GetReminders": _read("lists reminders"),
    # Weather
    "CurrentWeather": _read("reads the weather"),
    "ForecastWeather": _read("reads the forecast"),
    "HistoricWeather": _read("reads past weather"),
}
"""All 28 ToolTalk APIs. The tests check the classes against ToolTalk's own ``is_action``."""

_ACCOUNT_DB = "Account"
_LOGIN_APIS = frozenset({"UserLogin", "RegisterUser"})
_LOGOUT_APIS = frozenset({"LogoutUser", "DeleteAccount"})
_API_MODULES = ("account", "alarm", "calendar", "email", "message", "reminder", "weather")
_PRIVATE_PACKAGE = "_specagent_tooltalk_apis"


# -- free-text similarity ---------------------------------------------------------------------


def text_similarity(prediction: str | None, ground_truth: str | None) -> float:
    """Cosine of word-count vectors: 1.0 for the same words, 0.0 for none in common.

    Stands in for ToolTalk's DistilBERT comparison (``semantic_str_compare``), whose weights
    are not available offline. ``None`` scores 0, as in ToolTalk.
    """
    if prediction is None or ground_truth is None:
        return 0.0
    a = Counter(re.findall(r"[a-z0-9]+", str(prediction).lower()))
    b = Counter(re.findall(r"[a-z0-9]+", str(ground_truth).lower()))
    if not a or not b:
        return 1.0 if a == b else 0.0
    dot = sum(n * b[w] for w, n in a.items())
    return dot / math.sqrt(sum(n * n for n in a.values()) * sum(n * n for n in b.values()))


# -- loading the API classes without torch -----------------------------------------------------

_load_lock = threading.Lock()


@dataclass(frozen=True)
class _Package:
    data_dir: Path
    apis: dict[str, type]
    """API classes by name, in ToolTalk's suite order."""


@functools.cache
def _package() -> _Package:
    with _load_lock:
        spec = importlib.util.find_spec("tooltalk")
        if spec is None or not spec.submodule_search_locations:
            raise DatasetUnavailable(
                "ToolTalk needs nvidia-tooltalk==26.3 (install with --no-deps)"
            )
        root = Path(next(iter(spec.submodule_search_locations)))
        apis_dir = root / "apis"
        if not (apis_dir / "api.py").is_file() or not (root / "data").is_dir():
            raise DatasetUnavailable(f"ToolTalk's APIs or data are missing under {root}")
        package = sys.modules.get(_PRIVATE_PACKAGE)
        if package is None:
            package = types.ModuleType(_PRIVATE_PACKAGE)
            package.__path__ = [str(apis_dir)]
            package.__package__ = _PRIVATE_PACKAGE
            sys.modules[_PRIVATE_PACKAGE] = package
            utils = _light_utils(apis_dir / "utils.py")
            sys.modules[utils.__name__] = utils
            package.utils = utils  # type: ignore[attr-defined]
        base = importlib.import_module(f"{_PRIVATE_PACKAGE}.api").API
        found: dict[str, type] = {}
        for module_name in _API_MODULES:
            module = importlib.import_module(f"{_PRIVATE_PACKAGE}.{module_name}")
            for name, obj in vars(module).items():
                if (
                    isinstance(obj, type)
                    and issubclass(obj, base)
                    and obj.__module__ == module.__name__
                    and not inspect.isabstract(obj)
                ):
                    found[name] = obj
    return _Package(data_dir=root / "data", apis=found)


def _light_utils(path: Path) -> types.ModuleType:
    """ToolTalk's ``apis/utils`` without torch: its format checks, our text comparison.

    The two format checks are compiled from the package's own source, so they are exactly
    ToolTalk's; the DistilBERT vectoriser is left out.
    """
    module = types.ModuleType(f"{_PRIVATE_PACKAGE}.utils")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    wanted = {"verify_phone_format", "verify_email_format"}
    body: list[ast.stmt] = [ast.Import(names=[ast.alias(name="re")])]
    body += [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    if {n.name for n in body if isinstance(n, ast.FunctionDef)} != wanted:
        raise DatasetUnavailable(f"ToolTalk's {path} no longer defines {sorted(wanted)}")
    code = compile(
        ast.fix_missing_locations(ast.Module(body=body, type_ignores=[])), str(path), "exec"
    )
    exec(code, module.__dict__)  # noqa: S102 - the package's own functions, nothing else
    module.semantic_str_compare = text_similarity  # type: ignore[attr-defined]
    return module


def _schema(api: type) -> dict[str, Any]:
    """The API's parameters as a JSON Schema object (``required`` inside, where it belongs)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, attributes in api.parameters.items():  # type: ignore[attr-defined]
        attrs = {k: v for k, v in attributes.items() if k != "required"}
        if api.__name__ == "CreateEvent" and name == "name":
            # ToolTalk's schema gives the event *name* the enum meant for event_type;
            # no ground-truth call satisfies it, and ToolTalk never validates against it.
            attrs.pop("enum", None)
        properties[name] = attrs
        if attributes.get("required"):
            required.append(name)
    schema = {"type": "object", "properties": properties, "required": required}
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


# -- the world and its tools -------------------------------------------------------------------


@dataclass
class ToolTalkWorld:
    """What ToolTalk's ToolExecutor keeps for one conversation: databases, clock, session."""

    databases: dict[str, Any]
    now: datetime
    session_token: str | None
    apis: dict[str, Any] = field(default_factory=dict)
    """API objects made on first use (they keep a seeded random generator for new ids)."""

    def execute(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Run one API call the way ToolTalk's executor does; never raises."""
        classes = _package().apis
        if name not in classes:
            return {"response": None, "exception": f"API {name} not found"}
        api = self._api(name, classes[name])
        parameters = dict(arguments)
        if api.requires_auth:
            if self.session_token is None:
                return {"response": None, "exception": "User is not logged in"}
            parameters["session_token"] = self.session_token
        if name in _LOGIN_APIS and self.session_token is not None:
            username = api.check_session_token(self.session_token)["username"]
            return {
                "response": None,
                "exception": f"Only one user can be logged in at a time. "
                f"Current user is {username}.",
            }
        outcome = api(**parameters)
        if outcome["exception"] is None:
            if name in _LOGIN_APIS:
                self.session_token = outcome["response"]["session_token"]
            elif name in _LOGOUT_APIS:
                self.session_token = None
        return {"response": outcome["response"], "exception": outcome["exception"]}

    def _api(self, name: str, cls: type) -> Any:
        api = self.apis.get(name)
        if api is None:
            kwargs: dict[str, Any] = {
                "account_database": self.databases.get(_ACCOUNT_DB),
                "now_timestamp": self.now,
            }
            if cls.database_name is not None:  # type: ignore[attr-defined]
                kwargs["api_database"] = self.databases.get(cls.database_name)  # type: ignore[attr-defined]
            api = self.apis[name] = cls(**kwargs)
        return api


@dataclass(frozen=True)
class _Conversation:
    name: str
    split: str
    data: dict[str, Any] = field(repr=False)

    @property
    def user(self) -> dict[str, Any]:
        return self.data.get("user") or {}

    @property
    def metadata(self) -> dict[str, Any]:
        return self.data["metadata"]

    def turns(self) -> list[str]:
        """User turns: consecutive user messages merged, trailing ones dropped."""
        turns: list[str] = []
        pending: list[str] = []
        for message in self.data["conversation"]:
            if message["role"] == "user":
                pending.append(message["text"])
            elif message["role"] == "assistant":
                if pending:
                    turns.append(" ".join(pending))
                    pending = []
            else:
                raise ValueError(f"ToolTalk {self.name}: unknown role {message['role']!r}")
        return turns

    def ground_truth(self) -> list[dict[str, Any]]:
        return [
            api
            for message in self.data["conversation"]
            if message["role"] == "assistant"
            for api in message.get("apis", [])
        ]

    def fresh_world(self) -> ToolTalkWorld:
        """ToolTalk's ``init_conversation_state`` before the first turn."""
        databases = copy.deepcopy(_databases())
        user = self.user
        token = None
        if "session_token" in user:
            token = user["session_token"]
            databases[_ACCOUNT_DB][user["username"]]["session_token"] = token
        if "verification_code" in user:
            databases[_ACCOUNT_DB][user["username"]]["verification_code"] = user[
                "verification_code"
            ]
        now = datetime.strptime(self.metadata["timestamp"], "%Y-%m-%d %H:%M:%S")
        return ToolTalkWorld(databases=databases, now=now, session_token=token)


@functools.cache
def _databases() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted((_package().data_dir / "databases").glob("*.json")):
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    if _ACCOUNT_DB not in out:
        raise DatasetUnavailable(f"ToolTalk's {_ACCOUNT_DB} database is missing")
    return out


@functools.cache
def _conversations(split: str) -> tuple[_Conversation, ...]:
    folder = _package().data_dir / SPLITS[split]
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise DatasetUnavailable(f"no ToolTalk conversations in {folder}")
    return tuple(
        _Conversation(p.stem, split, json.loads(p.read_text(encoding="utf-8"))) for p in paths
    )


def _conversation(split: str, name: str) -> _Conversation:
    for conversation in _conversations(split):
        if conversation.name == name:
            return conversation
    raise ValueError(f"no ToolTalk conversation {name!r} in split {split!r}")


class ToolTalkEnv(EpisodeEnv):
    """One run of a ToolTalk conversation: its APIs over fresh databases, ToolTalk's checker."""

    def __init__(self, split: str, name: str) -> None:
        self._conversation = _conversation(split, name)
        self._cell: StateCell[ToolTalkWorld] = StateCell(self._conversation.fresh_world())
        classes = _package().apis
        if set(classes) != set(TOOLTALK_EFFECTS):
            raise RuntimeError(
                "ToolTalk's APIs and the effect table disagree: "
                f"{sorted(set(classes) ^ set(TOOLTALK_EFFECTS))}"
            )
        tools = []
        for name_, cls in classes.items():
            spec = TOOLTALK_EFFECTS[name_]
            tools.append(
                Tool(
                    name=name_,
                    description=cls.description,  # type: ignore[attr-defined]
                    parameters=_schemas()[name_],
                    fn=_tool_fn(self._cell, name_),
                    effect=spec.effect,
                    state=self._cell if spec.effect.changes_state else None,
                    sandboxable=spec.sandboxable,
                )
            )
        self._toolset = Toolset(tools)

    @property
    def toolset(self) -> Toolset:
        return self._toolset

    def context(self) -> str:
        meta = self._conversation.metadata
        return (
            "User data: "
            f"location {meta.get('location')}; "
            f"current time {meta.get('timestamp')}; "
            f"logged-in username {meta.get('username') or 'none (not logged in)'}."
        )

    def committed_state(self) -> Any:
        world = self._cell.real
        return copy.deepcopy({"databases": world.databases, "session_token": world.session_token})

    def check(self, turns: Sequence[TurnRecord]) -> Check:
        metrics = tooltalk_metrics(self._conversation, committed_calls(turns))
        return Check(metrics.success, metrics.describe())


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {name: _schema(cls) for name, cls in _package().apis.items()}


def _tool_fn(cell: StateCell[ToolTalkWorld], name: str) -> Callable[..., Any]:
    async def call(**arguments: Any) -> Any:
        return cell.get().execute(name, arguments)

    call.__name__ = name
    return call


# -- ToolTalk's metrics ------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolTalkMetrics:
    """ToolTalk's per-conversation counts and rates (``evaluate_predictions``)."""

    predictions: int
    ground_truths: int
    matches: int
    actions: int
    valid_actions: int
    bad_actions: int

    @property
    def precision(self) -> float:
        return self.matches / self.predictions if self.predictions else 0.0

    @property
    def recall(self) -> float:
        return self.matches / self.ground_truths if self.ground_truths else 1.0

    @property
    def action_precision(self) -> float:
        return self.valid_actions / self.actions if self.actions else 1.0

    @property
    def bad_action_rate(self) -> float:
        return self.bad_actions / self.actions if self.actions else 0.0

    @property
    def success(self) -> bool:
        return self.recall == 1.0 and self.bad_action_rate == 0.0

    @property
    def soft_success(self) -> float:
        return self.recall * (1.0 - self.bad_action_rate)

    def describe(self) -> str:
        return (
            f"recall {self.matches}/{self.ground_truths}, "
            f"bad actions {self.bad_actions}/{self.actions}, "
            f"predictions {self.predictions}"
        )


def tooltalk_metrics(
    conversation: _Conversation, calls: Sequence[ToolCallReport]
) -> ToolTalkMetrics:
    """Match committed calls against the conversation's ground truth, as ToolTalk does."""
    classes = _package().apis
    remaining = list(conversation.ground_truth())
    predictions = _as_predictions(conversation, calls)
    matches = actions = valid_actions = bad_actions = 0
    for prediction in predictions:
        name = prediction["request"]["api_name"]
        matched = None
        for i, truth in enumerate(remaining):
            if _same_call(classes, prediction, truth):
                matched = i
                break
        if matched is not None:
            del remaining[matched]
        is_action = name in classes and bool(classes[name].is_action)  # type: ignore[attr-defined]
        matches += matched is not None
        actions += is_action
        valid_actions += is_action and matched is not None
        bad_actions += is_action and matched is None and prediction["exception"] is None
    return ToolTalkMetrics(
        predictions=len(predictions),
        ground_truths=len(conversation.ground_truth()),
        matches=matches,
        actions=actions,
        valid_actions=valid_actions,
        bad_actions=bad_actions,
    )


def _as_predictions(
    conversation: _Conversation, calls: Sequence[ToolCallReport]
) -> list[dict[str, Any]]:
    """Calls in ToolTalk's prediction form, with the session token the executor added.

    The token is followed through the committed calls in order (starting from the
    conversation's user, changed by successful login/register and logout/delete calls),
    which is how ToolTalk's executor tracks it.
    """
    classes = _package().apis
    token = conversation.user.get("session_token")
    out = []
    for call in calls:
        parameters = dict(call.arguments)
        cls = classes.get(call.name)
        if cls is not None and cls.requires_auth and token is not None:  # type: ignore[attr-defined]
            parameters["session_token"] = token
        result = call.result
        if call.status == "done" and isinstance(result, Mapping) and "exception" in result:
            response, exception = result.get("response"), result["exception"]
        else:  # never reached the API (bad arguments, timeout): a failed prediction
            response, exception = None, call.error or f"call {call.status}"
        out.append(
            {
                "request": {"api_name": call.name, "parameters": parameters},
                "response": response,
                "exception": exception,
            }
        )
        if exception is None and call.name in _LOGIN_APIS and isinstance(response, Mapping):
            token = response.get("session_token", token)
        elif exception is None and call.name in _LOGOUT_APIS:
            token = None
    return out


def _same_call(
    classes: Mapping[str, type], prediction: dict[str, Any], truth: dict[str, Any]
) -> bool:
    name = prediction["request"]["api_name"]
    if name != truth["request"]["api_name"] or name not in classes:
        return False
    try:
        return bool(classes[name].check_api_call_correctness(prediction, truth))  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError, AttributeError):
        return False  # a malformed prediction (missing key, bad date) matches nothing


# -- loading -----------------------------------------------------------------------------------


def load(variant: str, split: str = "test") -> list[Episode]:
    """ToolTalk's conversations of one split, in file-name order."""
    if variant != "tooltalk":
        raise ValueError(f"unknown ToolTalk variant {variant!r}; the only one is 'tooltalk'")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for ToolTalk; choose train or test")
    episodes = []
    for conversation in _conversations(split):
        turns = conversation.turns()
        if not turns:
            raise ValueError(f"ToolTalk {conversation.name} has no user turn to play")
        episodes.append(
            Episode(
                id=conversation.name,
                dataset="tooltalk",
                turns=tuple(turns),
                make_env=functools.partial(ToolTalkEnv, split, conversation.name),
                split=split,
                meta={
                    "conversation_id": conversation.data.get("conversation_id"),
                    "suites_used": list(conversation.data.get("suites_used", [])),
                    "timestamp": conversation.metadata.get("timestamp"),
                    "location": conversation.metadata.get("location"),
                    "logged_in": "session_token" in conversation.user,
                },
            )
        )
    return episodes
