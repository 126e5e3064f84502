"""A fast Speculator for a tau2 retail agent: guess its next API call from the conversation.

No language model: a next-tool model counted from the *train* split's ground-truth call
sequences (tool-name bigrams, backed off to tool frequencies), and arguments filled from
values already in the conversation: what the customer says (their scenario: name, zip code,
e-mail, order ids, product names) and what earlier calls returned (user ids, a user's orders,
an order's items and status). Each candidate scores ``P(tool | previous tool)`` times a rank
weight for its arguments; the top *k* distinct calls are the guesses. Calls already made are
never guessed again.

The tools whose arguments cannot be read off the conversation (item exchanges, new addresses,
free-text summaries, arithmetic) are never guessed: their calls count as misses.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["START", "ApiCall", "CallPredictor", "NextToolModel"]

START = "<start>"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_ZIP = re.compile(r"\b\d{5}\b")
_ORDER = re.compile(r"#W\d{7}")
_USER_ID = re.compile(r"\b([a-z]+)_([a-z]+)_\d{4}\b")
_NAME = re.compile(r"\b(?:You are|Your name is|You name is)\s+([A-Z][a-z]+)\s+([A-Z][a-z]+)")


@dataclass(frozen=True)
class ApiCall:
    """A tool call with its arguments as canonical JSON (hashable; equal iff same request)."""

    name: str
    arguments_json: str

    @classmethod
    def make(cls, name: str, arguments: Mapping[str, Any]) -> ApiCall:
        return cls(name, json.dumps(dict(arguments), sort_keys=True, separators=(",", ":")))

    @property
    def arguments(self) -> dict[str, Any]:
        return json.loads(self.arguments_json)

    def __str__(self) -> str:
        return f"{self.name}({self.arguments_json})"


class NextToolModel:
    """``P(next tool | previous tool)`` from example sequences, add-one smoothed onto the
    tool frequencies (a tool never seen after ``prev`` keeps a small chance)."""

    def __init__(self, sequences: Iterable[Sequence[str]], *, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.pairs: dict[str, Counter[str]] = defaultdict(Counter)
        self.unigrams: Counter[str] = Counter()
        for seq in sequences:
            prev = START
            for name in seq:
                self.pairs[prev][name] += 1
                self.unigrams[name] += 1
                prev = name
        self.total = sum(self.unigrams.values())

    def p(self, prev: str, name: str) -> float:
        uni = (self.unigrams[name] + 1) / (self.total + len(self.unigrams) + 1)
        row = self.pairs.get(prev)
        n = sum(row.values()) if row else 0
        return ((row[name] if row else 0) + self.alpha * uni) / (n + self.alpha)


def _rank_weight(rank: int) -> float:
    return 1.0 / (1 + rank)


def _dedupe(xs: Iterable[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for x in xs:
        key = json.dumps(x, sort_keys=True) if isinstance(x, (dict, list, tuple)) else x
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out


class CallPredictor:
    """Top-k guesses of the next call, given the customer's words and the calls so far."""

    def __init__(self, model: NextToolModel, customer_text: str) -> None:
        self.model = model
        self.text = customer_text
        self.lower = customer_text.lower()
        names = [(m.group(1), m.group(2)) for m in _NAME.finditer(customer_text)]
        names += [(a.capitalize(), b.capitalize()) for a, b in _USER_ID.findall(customer_text)]
        self.names = _dedupe(names)
        self.zips = _dedupe(_ZIP.findall(customer_text))
        self.emails = _dedupe(e.rstrip(".") for e in _EMAIL.findall(customer_text))
        self.said_orders = _dedupe(_ORDER.findall(customer_text))
        self.said_user_ids = _dedupe(m.group(0) for m in _USER_ID.finditer(customer_text))

    def candidates(self, history: Sequence[tuple[ApiCall, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Argument sets per tool, most plausible first."""
        user_ids = list(self.said_user_ids)
        listed_orders: list[str] = []
        orders: dict[str, Any] = {}
        products: list[tuple[str, str]] = []  # (product_id, item name)
        for call, result in history:
            if (
                call.name.startswith("find_user_id")
                and isinstance(result, str)
                and not result.startswith("Error")
            ):
                user_ids.insert(0, result)
            elif call.name == "get_user_details" and isinstance(result, dict):
                listed_orders += list(result.get("orders", []))
            elif call.name == "get_order_details" and isinstance(result, dict):
                orders[result.get("order_id", "")] = result
                for item in result.get("items", []):
                    products.append((str(item.get("product_id")), str(item.get("name", ""))))
        out: dict[str, list[dict[str, Any]]] = {}
        out["find_user_id_by_name_zip"] = [
            {"first_name": f, "last_name": last, "zip": z}
            for f, last in self.names
            for z in self.zips
        ]
        out["find_user_id_by_email"] = [{"email": e} for e in self.emails]
        out["get_user_details"] = [{"user_id": u} for u in _dedupe(user_ids)]
        order_ids = _dedupe(self.said_orders + listed_orders)
        out["get_order_details"] = [{"order_id": o} for o in order_ids]
        mentioned = [p for p, name in products if name and name.lower() in self.lower]
        others = [p for p, _ in products]
        out["get_product_details"] = [{"product_id": p} for p in _dedupe(mentioned + others)]
        out["list_all_product_types"] = [{}]
        reason = "ordered by mistake" if "mistake" in self.lower else "no longer needed"
        pending = [o for o, r in orders.items() if r.get("status") == "pending"]
        out["cancel_pending_order"] = [{"order_id": o, "reason": reason} for o in pending]
        return out

    def predict(self, history: Sequence[tuple[ApiCall, Any]], k: int) -> list[ApiCall]:
        made = {call for call, _ in history}
        prev = history[-1][0].name if history else START
        scored: list[tuple[float, str, ApiCall]] = []
        for name, arg_sets in self.candidates(history).items():
            p_tool = self.model.p(prev, name)
            rank = 0
            for args in arg_sets:
                call = ApiCall.make(name, args)
                if call in made:
                    continue
                scored.append((p_tool * _rank_weight(rank), call.arguments_json, call))
                rank += 1
        scored.sort(key=lambda s: (-s[0], s[2].name, s[1]))
        return [call for _, _, call in scored[:k]]
