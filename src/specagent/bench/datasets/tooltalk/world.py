"""A ToolTalk conversation and the world its APIs run in: databases, clock, session.

* **Split** (ToolTalk defines none): ``test`` is the 50 ToolTalk conversations, ``train`` the
  28 easy ones, in file-name order.
* **User turns**: the conversation's user messages in order, one per turn. Consecutive user
  messages are merged into one turn; user messages after the last assistant message are
  dropped (ToolTalk never asks for a reply to them).
* **World**: fresh copies of the databases, with ToolTalk's session handling (the
  conversation's user starts logged in when the data says so; login, register, logout and
  delete-account change the session; the session token is added to every call that needs
  one). A call returns ToolTalk's own ``{"response": ..., "exception": ...}``.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import DatasetUnavailable
from .apis import tooltalk_package

__all__ = [
    "LOGIN_APIS",
    "LOGOUT_APIS",
    "SPLITS",
    "Conversation",
    "ToolTalkWorld",
    "conversations",
    "find_conversation",
    "initial_databases",
]

SPLITS = {"test": "tooltalk", "train": "easy"}
"""Split name to the package's data folder."""

_ACCOUNT_DB = "Account"
# Calls that start a session (the token is kept) and that end one.
LOGIN_APIS = frozenset({"UserLogin", "RegisterUser"})
LOGOUT_APIS = frozenset({"LogoutUser", "DeleteAccount"})


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
        classes = tooltalk_package().apis
        if name not in classes:
            return {"response": None, "exception": f"API {name} not found"}
        api = self._api(name, classes[name])
        parameters = dict(arguments)
        if api.requires_auth:
            if self.session_token is None:
                return {"response": None, "exception": "User is not logged in"}
            parameters["session_token"] = self.session_token
        if name in LOGIN_APIS and self.session_token is not None:
            username = api.check_session_token(self.session_token)["username"]
            return {
                "response": None,
                "exception": f"Only one user can be logged in at a time. "
                f"Current user is {username}.",
            }
        outcome = api(**parameters)
        if outcome["exception"] is None:
            if name in LOGIN_APIS:
                self.session_token = outcome["response"]["session_token"]
            elif name in LOGOUT_APIS:
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
class Conversation:
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
        databases = copy.deepcopy(initial_databases())
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
def initial_databases() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted((tooltalk_package().data_dir / "databases").glob("*.json")):
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    if _ACCOUNT_DB not in out:
        raise DatasetUnavailable(f"ToolTalk's {_ACCOUNT_DB} database is missing")
    return out


@functools.cache
def conversations(split: str) -> tuple[Conversation, ...]:
    folder = tooltalk_package().data_dir / SPLITS[split]
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise DatasetUnavailable(f"no ToolTalk conversations in {folder}")
    return tuple(
        Conversation(p.stem, split, json.loads(p.read_text(encoding="utf-8"))) for p in paths
    )


def find_conversation(split: str, name: str) -> Conversation:
    for conversation in conversations(split):
        if conversation.name == name:
            return conversation
    raise ValueError(f"no ToolTalk conversation {name!r} in split {split!r}")
