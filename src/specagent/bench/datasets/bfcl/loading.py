"""Reading a BFCL category into episodes, and the train/test split BFCL itself does not have.

``load(variant, split)`` reads a BFCL category from the data inside the installed ``bfcl_eval``
package (never from the network) and returns its episodes in file order:

* multi-turn categories (``multi_turn_base``, ``multi_turn_long_context``,
  ``multi_turn_miss_param``): one user utterance per turn (a turn's user messages joined by new
  lines), the real backends as tools, BFCL's state and response checks
  (:mod:`.multi_turn`). ``multi_turn_miss_func`` adds functions in the middle of an
  episode, which episodes cannot express: it is refused, and so is any entry of another
  category that has ``missed_function``.
* single-turn categories (``simple_python``, ``multiple``, ``parallel``, ``parallel_multiple``,
  ``live_simple``, ``live_multiple``, ``live_parallel``, ``live_parallel_multiple``): one user
  turn, acknowledging tools, BFCL's call matching (:mod:`.single_turn`). A ``system``
  message of an entry becomes the environment's :meth:`~EpisodeEnv.context`.

**Split.** BFCL has no training split, so one is defined here, deterministically: an entry goes
to ``train`` when the first 32 bits of ``sha256("bfcl-split-v1|" + key)`` fall below 20 % of
their range, else to ``test``. The key is what makes two entries the same task: for multi-turn
the scenario number (``multi_turn_base_7`` and ``multi_turn_long_context_7`` share one
scenario, so they share a split); for single-turn the user's words, lower-cased with spaces
collapsed (96 questions of ``simple_python`` reappear in ``multiple``). Training data must use
``split="train"`` only.

Each episode's ``meta`` holds ``category``, ``split_key`` and ``ground_truth``: per turn, the
reference calls as ``{"name", "arguments"}`` dicts (multi-turn: BFCL's answer with positional
arguments bound to names; single-turn: the first acceptable value of every parameter).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ....errors import SpecagentError
from ...episode import Episode
from .. import DATASETS, DatasetUnavailable
from .ast_checker import mode_for
from .multi_turn import (
    BackendUnavailable,
    BfclMultiTurnEnv,
    MultiTurnEntry,
    backend_class,
    load_func_docs,
    parse_call,
)
from .single_turn import BfclSingleTurnEnv, SingleTurnEntry, first_choice_calls

__all__ = [
    "MULTI_TURN",
    "SINGLE_TURN",
    "TRAIN_FRACTION",
    "UnsupportedVariant",
    "data_dir",
    "load",
    "split_of",
]

BFCL_PIN = "bfcl-eval==2026.3.23"
MULTI_TURN = ("multi_turn_base", "multi_turn_long_context", "multi_turn_miss_param")
SINGLE_TURN = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)
TRAIN_FRACTION = 0.2
_SPLIT_SALT = "bfcl-split-v1|"
_REFUSED = {
    "multi_turn_miss_func": "it adds functions in the middle of an episode",
    "irrelevance": "it has no answer to check calls against",
    "live_irrelevance": "it has no answer to check calls against",
    "live_relevance": "it has no answer to check calls against",
    "simple_java": "its functions are Java, checked with Java types",
    "simple_javascript": "its functions are JavaScript, checked with JavaScript types",
}


class UnsupportedVariant(SpecagentError, ValueError):
    """A BFCL category this adapter does not turn into episodes."""

    def __init__(self, variant: str) -> None:
        reason = _REFUSED.get(variant)
        known = ", ".join((*MULTI_TURN, *SINGLE_TURN))
        why = f" ({reason})" if reason else ""
        super().__init__(f"BFCL category {variant!r} is not supported{why}; choose one of {known}")


def data_dir() -> Path:
    """Where the installed ``bfcl_eval`` package keeps its data (without importing it)."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable(
            f"BFCL data needs the bfcl-eval package: pip install --no-deps {BFCL_PIN}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not path.is_dir():
        raise DatasetUnavailable(f"bfcl_eval is installed but has no data folder at {path}")
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError as exc:
        raise DatasetUnavailable(f"cannot read BFCL file {path}: {exc}") from exc


def _words(question: Sequence[Sequence[Mapping[str, Any]]]) -> tuple[list[str], str]:
    """Per turn, the user's messages joined; and every system message, joined."""
    turns = []
    system = []
    for turn in question:
        turns.append("\n".join(m["content"] for m in turn if m.get("role") == "user"))
        system.extend(m["content"] for m in turn if m.get("role") == "system")
    return turns, "\n".join(system)


_SCENARIO = re.compile(r"^multi_turn_[a-z_]+?_(\d+)$")
_SPACES = re.compile(r"\s+")


def _split_key(entry_id: str, turns: Sequence[str]) -> str:
    match = _SCENARIO.match(entry_id)
    if match:
        return f"multi_turn:{match.group(1)}"
    return "text:" + _SPACES.sub(" ", " ".join(turns)).strip().lower()


def split_of(key: str) -> str:
    """``train`` or ``test`` for a split key (see the module docstring)."""
    digest = hashlib.sha256((_SPLIT_SALT + key).encode("utf-8")).digest()
    return "train" if int.from_bytes(digest[:4], "big") < TRAIN_FRACTION * 2**32 else "test"


def _dataset_name(variant: str) -> str:
    for info in DATASETS.values():
        if info.module == "bfcl" and info.variant == variant:
            return info.name
    return "bfcl-" + variant.replace("_", "-")


@functools.cache
def _multi_turn_entries(variant: str) -> tuple[MultiTurnEntry, ...]:
    root = data_dir()
    rows = _read_jsonl(root / f"BFCL_v4_{variant}.json")
    answers = {
        a["id"]: a["ground_truth"]
        for a in _read_jsonl(root / "possible_answer" / f"BFCL_v4_{variant}.json")
    }
    classes = sorted({c for row in rows for c in row["involved_classes"]})
    try:
        for name in classes:
            backend_class(name)
    except BackendUnavailable as exc:
        raise DatasetUnavailable(str(exc)) from exc
    docs = {name: load_func_docs(root, name) for name in classes}
    entries = []
    for row in rows:
        if row.get("missed_function"):
            continue
        turns, system = _words(row["question"])
        involved = tuple(row["involved_classes"])
        truth = answers.get(row["id"])
        if truth is None or len(truth) != len(turns):
            raise DatasetUnavailable(f"BFCL entry {row['id']} has no matching ground truth")
        entries.append(
            MultiTurnEntry(
                id=row["id"],
                category=variant,
                turns=tuple(turns),
                system=system,
                initial_config=row.get("initial_config", {}),
                involved_classes=involved,
                ground_truth=tuple(
                    tuple(parse_call(text, involved) for text in turn) for turn in truth
                ),
                func_docs={c: docs[c] for c in involved},
            )
        )
    return tuple(entries)


@functools.cache
def single_turn_entries(variant: str) -> tuple[SingleTurnEntry, ...]:
    root = data_dir()
    rows = _read_jsonl(root / f"BFCL_v4_{variant}.json")
    answers = {
        a["id"]: a["ground_truth"]
        for a in _read_jsonl(root / "possible_answer" / f"BFCL_v4_{variant}.json")
    }
    mode = mode_for(variant)
    entries = []
    for row in rows:
        turns, system = _words(row["question"])
        truth = answers.get(row["id"])
        if truth is None:
            raise DatasetUnavailable(f"BFCL entry {row['id']} has no matching ground truth")
        entries.append(
            SingleTurnEntry(
                id=row["id"],
                category=variant,
                question="\n".join(turns),
                system=system,
                functions=tuple(row["function"]),
                answers=tuple(truth),
                mode=mode,
            )
        )
    return tuple(entries)


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; BFCL episodes are split into train and test")


def load(variant: str, split: str = "test") -> list[Episode]:
    """The episodes of one BFCL category and split, in the data file's order."""
    _check_split(split)
    dataset = _dataset_name(variant)
    episodes: list[Episode] = []
    if variant in MULTI_TURN:
        for entry in _multi_turn_entries(variant):
            key = _split_key(entry.id, entry.turns)
            if split_of(key) != split:
                continue
            truth = tuple(
                tuple({"name": c.name, "arguments": copy.deepcopy(c.arguments)} for c in turn)
                for turn in entry.ground_truth
            )
            episodes.append(
                Episode(
                    id=entry.id,
                    dataset=dataset,
                    turns=entry.turns,
                    make_env=functools.partial(BfclMultiTurnEnv, entry),
                    split=split,
                    meta={
                        "category": variant,
                        "split_key": key,
                        "involved_classes": list(entry.involved_classes),
                        "ground_truth": truth,
                    },
                )
            )
        return episodes
    if variant in SINGLE_TURN:
        for st_entry in single_turn_entries(variant):
            key = _split_key(st_entry.id, [st_entry.question])
            if split_of(key) != split:
                continue
            calls = tuple(
                {"name": n, "arguments": copy.deepcopy(a)} for n, a in first_choice_calls(st_entry)
            )
            episodes.append(
                Episode(
                    id=st_entry.id,
                    dataset=dataset,
                    turns=(st_entry.question,),
                    make_env=functools.partial(BfclSingleTurnEnv, st_entry),
                    split=split,
                    meta={
                        "category": variant,
                        "split_key": key,
                        "mode": st_entry.mode,
                        "ground_truth": (calls,),
                    },
                )
            )
        return episodes
    raise UnsupportedVariant(variant)
