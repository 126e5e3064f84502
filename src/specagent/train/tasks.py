"""What the trace generator practises on: tasks with a script of when each call becomes known.

A benchmark episode (:class:`~specagent.bench.episode.Episode`) says what the user says and
how a run is checked, but a teacher also needs the *ground truth*: which calls the request
asks for and, since the request arrives word by word, from which word on each call is
determined. :class:`TrainTask` carries exactly that, whatever dataset it came from:

* ``request``: the user's words (one turn);
* ``calls``: :class:`ScriptCall` s in the order an expert would make them, each with the
  versions of its arguments as more words arrive (an early guess that later words revise),
  the results it needs first, and, for a call the user takes back, the word that retracts it;
* ``make_toolset``: the real tools, bound to fresh state;
* ``answer``: the reply once every result is in.

Where tasks come from is ``sources.py`` (:func:`~specagent.train.sources.load_tasks`); each
source yields tasks of one split. Training data is only ever made from ``train`` tasks:
``load_tasks`` refuses a source that mixes splits and :func:`require_train` guards every
entry point (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecagentError
from ..tools import Toolset

__all__ = [
    "ArgsFn",
    "Results",
    "ScriptCall",
    "TestSplitError",
    "TrainTask",
    "names_in",
    "require_train",
]

Results = Mapping[str, Any]
"""Results of earlier script calls, by key."""

ArgsFn = Callable[[Results], dict[str, Any]]
"""The arguments of a call, given the results of the calls it needs."""


class TestSplitError(SpecagentError, ValueError):
    """A test-split task was offered for training data; it must never enter it."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class ScriptCall:
    """One call an expert makes for a task.

    ``versions``: ``(word_count, args)`` pairs in increasing word count. Once the user has said
    ``word_count`` words, the call's arguments are ``args(results)``; the first pair is when the
    call first becomes worth making (possibly an early, incomplete guess), the last is its final
    form. ``needs``: keys of calls whose results ``args`` reads. ``removed_at``: the word count
    at which the user takes the call back (it is then withdrawn and is not part of the gold).
    """

    key: str
    name: str
    versions: tuple[tuple[int, ArgsFn], ...]
    needs: tuple[str, ...] = ()
    removed_at: int | None = None
    why: str = ""
    """A few words on what the call is for, used in the teacher's reasoning."""

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError(f"script call {self.key!r} has no versions")
        counts = [w for w, _ in self.versions]
        if counts != sorted(counts):
            raise ValueError(f"script call {self.key!r}: versions must be in word order")

    @property
    def known_at(self) -> int:
        return self.versions[0][0]

    @property
    def gold(self) -> bool:
        return self.removed_at is None

    def args_at(self, heard: int, results: Results) -> dict[str, Any]:
        """The arguments wanted once ``heard`` words have been said."""
        chosen = self.versions[0][1]
        for count, fn in self.versions:
            if count <= heard:
                chosen = fn
        return chosen(results)

    def final_args(self, results: Results) -> dict[str, Any]:
        return self.versions[-1][1](results)

    def all_args(self, results: Results) -> list[dict[str, Any]]:
        return [fn(results) for _, fn in self.versions]


@dataclass(frozen=True)
class TrainTask:
    """One single-turn task with its expert script."""

    id: str
    source: str
    split: str
    request: str
    calls: tuple[ScriptCall, ...]
    make_toolset: Callable[[], Toolset] = field(repr=False, compare=False)
    answer: Callable[[Results], str] = field(repr=False, compare=False)
    family: str = ""

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"task {self.id!r}: split must be 'train' or 'test'")
        keys = [c.key for c in self.calls]
        if len(set(keys)) != len(keys):
            raise ValueError(f"task {self.id!r}: duplicate call keys")
        words = len(self.request.split())
        for call in self.calls:
            if call.versions[-1][0] > words:
                raise ValueError(
                    f"task {self.id!r}: call {call.key!r} known after the request ends"
                )
            unknown = [n for n in call.needs if n not in keys]
            if unknown:
                raise ValueError(f"task {self.id!r}: call {call.key!r} needs unknown {unknown}")

    @property
    def words(self) -> int:
        return len(self.request.split())

    def gold_calls(self, results: Results) -> list[tuple[str, dict[str, Any]]]:
        """The calls the request asks for (name, final arguments), given the results."""
        return [(c.name, c.final_args(results)) for c in self.calls if c.gold]


def require_train(task: TrainTask) -> TrainTask:
    """Return ``task`` if it may be used for training data; raise :class:`TestSplitError`."""
    if task.split != "train":
        raise TestSplitError(
            f"task {task.id!r} from {task.source!r} is in the {task.split!r} split; "
            "training data is made from train splits only"
        )
    return task


def names_in(tasks: Sequence[TrainTask]) -> set[str]:
    return {t.id for t in tasks}
