"""What the trace generator practises on: tasks with a script of when each call becomes known.

A benchmark episode (:class:`~specagent.bench.episode.Episode`) says what the user says and
how a run is checked, but a teacher also needs the *ground truth*: which calls the request
asks for and, since the request arrives word by word, from which word on each call is
determined. :class:`TrainTask` carries exactly that, whatever dataset it came from:

* ``request``: the user's words (the first turn);
* ``calls``: :class:`ScriptCall` s in the order an expert would make them, each with the
  versions of its arguments as more words arrive (an early guess that later words revise),
  the results it needs first, and, for a call the user takes back, the word that retracts it;
* ``make_toolset``: the real tools, bound to fresh state;
* ``answer``: the reply once every result is in;
* ``followups``: later turns of the same conversation (:class:`TaskTurn`), each with its own
  words, calls and answer, played on the same ledger and the same tools;
* ``context``: what the benchmark adds to the system prompt (today's date), which also counts
  as said for the runtime's grounding checks;
* ``make_world``: optionally, the tools together with the benchmark's own checker of the
  world they leave behind (:class:`TaskWorld`), so a trace is also judged as the benchmark
  judges a run.

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
    "TaskTurn",
    "TaskWorld",
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
class TaskTurn:
    """One thing the user says, the calls it asks for and the reply once their results are in.

    ``answer`` gets the results of every call made so far in the conversation, by key.
    """

    request: str
    calls: tuple[ScriptCall, ...]
    answer: Callable[[Results], str] = field(repr=False, compare=False)

    @property
    def words(self) -> int:
        return len(self.request.split())


@dataclass(frozen=True)
class TaskWorld:
    """The tools of one trace and the benchmark's judgement of what they were left with.

    ``check(answers)`` returns the problems the benchmark's checker finds with the committed
    state and the answers given (one per turn); an empty list means the run passes.
    """

    toolset: Toolset
    check: Callable[[Sequence[str | None]], list[str]]


@dataclass(frozen=True)
class TrainTask:
    """One task with its expert script: a first turn, and possibly follow-up turns."""

    id: str
    source: str
    split: str
    request: str
    calls: tuple[ScriptCall, ...]
    make_toolset: Callable[[], Toolset] = field(repr=False, compare=False)
    answer: Callable[[Results], str] = field(repr=False, compare=False)
    family: str = ""
    followups: tuple[TaskTurn, ...] = ()
    context: str = ""
    make_world: Callable[[], TaskWorld] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"task {self.id!r}: split must be 'train' or 'test'")
        keys = [c.key for turn in self.turns for c in turn.calls]
        if len(set(keys)) != len(keys):
            raise ValueError(f"task {self.id!r}: duplicate call keys")
        for turn in self.turns:
            here = {c.key for c in turn.calls}
            for call in turn.calls:
                if call.versions[-1][0] > turn.words:
                    raise ValueError(
                        f"task {self.id!r}: call {call.key!r} known after the request ends"
                    )
                unknown = [n for n in call.needs if n not in here]
                if unknown:
                    raise ValueError(
                        f"task {self.id!r}: call {call.key!r} needs unknown {unknown} "
                        "(a call may need only calls of its own turn)"
                    )

    @property
    def turns(self) -> tuple[TaskTurn, ...]:
        """Every turn in order: the first (``request``, ``calls``, ``answer``), then the rest."""
        return (TaskTurn(self.request, self.calls, self.answer), *self.followups)

    @property
    def words(self) -> int:
        return len(self.request.split())

    def gold_calls(self, results: Results) -> list[tuple[str, dict[str, Any]]]:
        """The calls the first turn asks for (name, final arguments), given the results."""
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
