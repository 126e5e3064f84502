"""Train tasks from the `assistant` benchmark: its requests, its twenty tools, its ground truth.

The source ``assistant-bench`` turns each episode of the benchmark
(:mod:`specagent.bench.datasets.assistant`) into a :class:`~specagent.train.tasks.TrainTask`,
so the model practises on the very tools, prompt and kind of request it is evaluated on, but
only ever on the **train** split (the split is the benchmark's own, by a hash of the id):

* **turns**: every turn of the episode, a multi-turn one included (the follow-ups are
  :class:`~specagent.train.tasks.TaskTurn` s played on the same ledger, as the runner plays
  them);
* **tools**: the real tools over a fresh :class:`~specagent.bench.datasets.assistant.world.World`
  per trace, and the benchmark's own checker of the world and the answers afterwards;
* **prompt**: the runtime's system prompt plus the benchmark's context line (today's date);
* **the expert script**, derived from the ground truth: each call is made once every value
  it needs has been said or read in an earlier result, and the tool's purpose has been named
  (:mod:`.bench_heard`); a value the user corrects ("to Miami, no wait, New York") is first
  called with the value said and then revised, when the wrong value came early enough to be
  called at all; a call with a value nobody says (worked out from results) waits for the end
  of the turn and for every earlier call of it; the answer states the facts the turn asks for,
  each checked to be in the tool results, and what was done.

Dates are written as the user said them ("friday", "tomorrow"), which the tools read; times
as the tools ask (``HH:MM``).

**Separation.** A train episode is left out if any of its turns, or a test turn inside one
of them, is a turn of a test episode (templated conversations reuse some follow-ups, e.g.
"Book that one."), so no test request text can reach a trace:
:func:`skipped_train_episodes` names them and says why.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..bench.datasets.assistant import seed
from ..bench.datasets.assistant.checker import check_run
from ..bench.datasets.assistant.env import CONTEXT, AssistantEnv
from ..bench.datasets.assistant.episodes import all_specs
from ..bench.datasets.assistant.ground_truth import play_ground_truth
from ..bench.datasets.assistant.normalize import times_in
from ..bench.datasets.assistant.spec import EpisodeSpec, Fact, TurnSpec
from ..bench.datasets.assistant.split import split_of
from ..bench.datasets.assistant.tools import assistant_tools
from ..bench.datasets.assistant.world import World
from ..grounding import schema_choices, ungrounded_values
from ..tools import Toolset
from .bench_heard import COMPOSED, content_words, cue_at, date_phrase, in_results, value_said
from .tasks import ArgsFn, Results, ScriptCall, TaskTurn, TaskWorld, TrainTask
from .teacher import TeacherError

__all__ = [
    "SOURCE",
    "SkippedEpisode",
    "bench_tasks",
    "skipped_train_episodes",
    "held_out_turn_texts",
]

SOURCE = "assistant-bench"

_TIME_KEYS = frozenset({"time", "after", "before"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HHMM = re.compile(r"^\d{2}:\d{2}$")
_FIRSTS = {c.first for c in seed.CONTACTS}
_FULL_TO_FIRST = {c.name: c.first for c in seed.CONTACTS} | {
    c.first: c.first for c in seed.CONTACTS
}

_WHY = {
    "find_contact": "the contact", "get_weather": "the forecast",
    "search_flights": "the flights", "book_flight": "the booking",
    "find_restaurants": "the restaurants", "reserve_table": "the table",
    "get_directions": "the route", "get_calendar": "the calendar",
    "find_free_time": "a free slot", "add_calendar_event": "the event",
    "search_emails": "the e-mails", "send_email": "the e-mail", "send_message": "the text",
    "create_reminder": "the reminder", "create_note": "the note",
    "search_notes": "the notes", "search_files": "the file", "share_file": "the share",
    "set_thermostat": "the thermostat", "set_alarm": "the alarm",
}  # fmt: skip


@dataclass(frozen=True)
class SkippedEpisode:
    """A train episode left out of the source, and why."""

    episode_id: str
    reason: str


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


@functools.cache
def held_out_turn_texts() -> frozenset[str]:
    """Every turn of every test episode, lower-cased with single spaces."""
    return frozenset(
        _norm(t.text) for s in all_specs() if split_of(s.id) == "test" for t in s.turns
    )


def _overlap(spec: EpisodeSpec) -> str | None:
    tests = held_out_turn_texts()
    for index, turn in enumerate(spec.turns):
        text = _norm(turn.text)
        if text in tests:
            return f"turn {index + 1} {turn.text!r} is also a test turn"
        inner = [t for t in tests if len(t.split()) >= 3 and t in text]
        if inner:
            return f"turn {index + 1} {turn.text!r} contains the test turn {inner[0]!r}"
    return None


def skipped_train_episodes() -> list[SkippedEpisode]:
    """Train episodes this source leaves out so that no test turn reaches training data."""
    out = []
    for spec in all_specs():
        if split_of(spec.id) == "train":
            reason = _overlap(spec)
            if reason is not None:
                out.append(SkippedEpisode(spec.id, reason))
    return out


# -- the script of one turn ---------------------------------------------------------------


@dataclass
class _TurnContext:
    words: list[str]
    earlier_text: str
    """The words of the conversation's earlier turns."""
    earlier_results: list[Any]
    results: Sequence[Any]
    """Ground-truth results of this turn's calls, in order (to see where a value is read)."""
    tool_defaults: dict[tuple[str, str], Any]

    def heard(self, n: int) -> str:
        return " ".join(self.words[:n])

    @property
    def end(self) -> int:
        return len(self.words)


def _written(key: str, value: Any, ctx: _TurnContext) -> Any:
    """A gold value in the form the expert writes it (a date as the user said it)."""
    if key == "date" and isinstance(value, str) and _ISO_DATE.match(value):
        return date_phrase(value, ctx.heard(ctx.end), ctx.earlier_text) or value
    return value


def _known(
    name: str, key: str, value: Any, ctx: _TurnContext, ready: list[int]
) -> tuple[int | None, set[int]]:
    """After how many words ``value`` of ``key`` is known, and which earlier calls of the turn
    it is read from (``None``: never said nor read)."""
    if ctx.tool_defaults.get((name, key), object()) == value:
        return 0, set()  # the tool's own default: nothing to hear
    base_results = json.dumps(ctx.earlier_results, default=str)
    if key in COMPOSED:
        wanted = content_words(str(value))
        base = content_words(ctx.earlier_text) | content_words(base_results)
        for n in range(ctx.end + 1):
            pool = base | content_words(ctx.heard(n))
            used: set[int] = set()
            for j, at in enumerate(ready):
                if at <= n and (wanted - pool):
                    read = content_words(json.dumps(ctx.results[j], default=str))
                    if (wanted - pool) & read:
                        used.add(j)
                        pool |= read
            if wanted <= pool:
                return n, used
        return None, set()
    options: list[tuple[int, set[int]]] = []
    said = next(
        (
            n
            for n in range(ctx.end + 1)
            if value_said(key, value, f"{ctx.earlier_text} {ctx.heard(n)}")
        ),
        None,
    )
    if said is not None:
        options.append((said, set()))
    if ctx.earlier_results and in_results(value, ctx.earlier_results):
        options.append((0, set()))
    for j, at in enumerate(ready):
        if in_results(value, [ctx.results[j]]):
            options.append((at, {j}))
    if not options:
        return None, set()
    return min(options, key=lambda o: (o[0], len(o[1])))


def _timing(
    name: str, args: dict[str, Any], ctx: _TurnContext, ready: list[int], skip: str = ""
) -> tuple[int, set[int]]:
    """When a call with gold ``args`` is known (words) and the calls it needs (indices)."""
    at, needs = 0, set()
    for key, value in args.items():
        if key == skip:
            continue
        known, used = _known(name, key, value, ctx, ready)
        if known is None:  # worked out from earlier results: at the end, after all of them
            at, needs = ctx.end, needs | set(range(len(ready)))
            continue
        at, needs = max(at, known), needs | used
    cue = cue_at(name, ctx.words)
    if cue is not None:
        at = max(at, cue)
    elif at == 0:
        at = ctx.end  # nothing in this turn tells when: wait for its end
    return max(at, 1), needs


def _grounded_at(name: str, args: dict[str, Any], ctx: _TurnContext, needs: set[int]) -> int:
    """The first word count at which the runtime's own grounding rule lets a call with
    ``args`` run before the final words (the end of the turn if never)."""
    tool = _toolset()[name]
    choices = schema_choices(tool.parameters, tool.description)
    seen = " ".join(
        [CONTEXT, ctx.earlier_text]
        + [json.dumps(r, default=str) for r in ctx.earlier_results]
        + [json.dumps(ctx.results[j], default=str) for j in sorted(needs)]
    )
    for n in range(1, ctx.end + 1):
        if not ungrounded_values(args, f"{seen} {ctx.heard(n)}", choices=choices):
            return n
    return ctx.end


def _same_kind(key: str, gold: Any, wrong: Any) -> bool:
    if key == "date":
        return isinstance(wrong, str) and bool(_ISO_DATE.match(wrong))
    if key in _TIME_KEYS:
        return isinstance(wrong, str) and bool(_HHMM.match(wrong))
    if isinstance(gold, bool) or isinstance(wrong, bool):
        return False
    if isinstance(gold, int):
        return isinstance(wrong, int)
    if isinstance(gold, str) and isinstance(wrong, str):
        if gold in seed.CITIES:
            return wrong in seed.CITIES
        if gold in _FIRSTS:
            return wrong in _FULL_TO_FIRST
    return False


def _first_said(key: str, value: Any, ctx: _TurnContext) -> int | None:
    """After how many words of this turn ``value`` is first said (earlier turns not counted)."""
    return next((n for n in range(1, ctx.end + 1) if value_said(key, value, ctx.heard(n))), None)


def _wrong_form(key: str, gold: Any, wrong: Any, ctx: _TurnContext) -> Any:
    if isinstance(gold, str) and gold in _FIRSTS and isinstance(wrong, str):
        return _FULL_TO_FIRST[wrong]
    return _written(key, wrong, ctx)


def _script_call(
    key: str, name: str, gold: dict[str, Any], forbidden: Sequence[Any],
    ctx: _TurnContext, ready: list[int], keys: list[str],
) -> ScriptCall:  # fmt: skip
    """One ground-truth call as a script call, with an early wrong version if the user said a
    value they corrected before the call could be made with the right one."""
    written = {k: _written(k, v, ctx) for k, v in gold.items()}
    at, needs = _timing(name, gold, ctx, ready)
    at = max(at, _grounded_at(name, written, ctx, needs))
    versions: list[tuple[int, dict[str, Any]]] = [(at, written)]
    for wrong in forbidden:
        # the argument the user corrected: the one whose right value comes first after the
        # wrong one ("to Denver, uh, no, Philadelphia ... from Boston" corrects the destination)
        best: tuple[int, str, Any, int] | None = None
        for arg, value in gold.items():
            if arg in COMPOSED or not _same_kind(arg, value, wrong):
                continue
            form = _wrong_form(arg, value, wrong, ctx)
            probe = wrong if arg == "date" else form
            wrong_said = _first_said(arg, probe, ctx)
            right_said = _first_said(arg, value, ctx)
            if wrong_said is None or right_said is None or right_said <= wrong_said:
                continue
            if best is None or right_said < best[0]:
                best = (right_said, arg, form, wrong_said)
        if best is None:
            continue
        _, arg, form, wrong_said = best
        rest_at, rest_needs = _timing(name, gold, ctx, ready, skip=arg)
        early = max(rest_at, wrong_said, _grounded_at(name, {**written, arg: form}, ctx, needs))
        if early < at and rest_needs <= needs:
            versions = [(early, {**written, arg: form}), (at, written)]
            break
    ready.append(at)
    # the reasoning names only what the first version says: never a value not yet heard
    shown = ", ".join(str(v) for k, v in versions[0][1].items() if k not in COMPOSED)[:60]
    return ScriptCall(
        key=key,
        name=name,
        versions=tuple((n, _const(a)) for n, a in versions),
        needs=tuple(keys[j] for j in sorted(needs)),
        why=f"{_WHY.get(name, name)} ({shown})" if shown else _WHY.get(name, name),
    )


def _const(args: dict[str, Any]) -> ArgsFn:
    return lambda _results: dict(args)


# -- answers ------------------------------------------------------------------------------

_DONE: dict[str, Callable[[dict[str, Any]], str]] = {
    "send_message": lambda a: f"Texted {a['to']}: {a['text']}",
    "send_email": lambda a: f"E-mailed {a['to']}: {a['subject']}",
    "book_flight": lambda a: f"Booked flight {a['flight_number']}",
    "reserve_table": lambda a: (
        f"Reserved a table for {a['party_size']} at {a['restaurant']}, {a['date']} at {a['time']}"
    ),
    "add_calendar_event": lambda a: f"Added {a['title']} to your calendar, {a['date']} at {a['time']}",
    "create_reminder": lambda a: f"Reminder set for {a['date']} at {a['time']}: {a['text']}",
    "create_note": lambda a: f"Saved the note {a['title']}",
    "share_file": lambda a: f"Shared {a['file_name']} with {a['email']}",
    "set_thermostat": lambda a: f"The thermostat is set to {a['temperature_c']} degrees",
    "set_alarm": lambda a: f"Alarm set for {a['time']}",
}  # fmt: skip


def _fact_in(fact: Fact, results: Sequence[Any]) -> bool:
    if fact.kind == "text":
        return any(in_results(alt, results) for alt in fact.alternatives)
    if fact.kind == "time":
        blob = " ".join(json.dumps(r, ensure_ascii=False, default=str) for r in results)
        return fact.value in times_in(blob)
    return in_results(fact.value, results)


def _answer(turn: TurnSpec, done: list[str], keys: list[str]) -> Callable[[Results], str]:
    """The turn's reply: what was done, then each fact, each one checked in the results."""

    def answer(results: Results) -> str:
        mine = [results[k] for k in keys if k in results]
        everything = list(results.values())
        parts = [f"{line}." for line in done]
        facts = []
        for fact in turn.facts:
            if not (_fact_in(fact, mine) or _fact_in(fact, everything)):
                raise TeacherError(f"the fact {fact.label!r} is not in any tool result")
            facts.append(f"{fact.label}: {fact.canonical()}")
        if facts:
            parts.append("; ".join(facts) + ".")
        return " ".join(parts) if parts else "Done."

    return answer


# -- tasks ---------------------------------------------------------------------------------


@functools.cache
def _toolset() -> Toolset:
    """One toolset to read schemas from (never called)."""
    return assistant_tools(World())


@functools.cache
def _tool_defaults() -> dict[tuple[str, str], Any]:
    return {
        (name, key): prop["default"]
        for name, tool in _toolset().items()
        for key, prop in tool.parameters.get("properties", {}).items()
        if "default" in prop
    }


def _make_toolset() -> Toolset:
    return assistant_tools(World())


def _world_for(spec: EpisodeSpec) -> Callable[[], TaskWorld]:
    def make() -> TaskWorld:
        env = AssistantEnv(spec)
        return TaskWorld(
            env.toolset,
            lambda answers: list(check_run(spec, env.world.log, answers).problems),
        )

    return make


def task_of(spec: EpisodeSpec) -> TrainTask:
    """The train task of one benchmark episode (any split; only ``train`` may be synthesized)."""
    run = play_ground_truth(spec)
    turns: list[TaskTurn] = []
    earlier_text = ""
    earlier_results: list[Any] = []
    for t_index, (turn, results) in enumerate(zip(spec.turns, run.results, strict=True)):
        ctx = _TurnContext(
            words=turn.text.split(),
            earlier_text=earlier_text,
            earlier_results=list(earlier_results),
            results=results,
            tool_defaults=_tool_defaults(),
        )
        ready: list[int] = []
        keys = [f"t{t_index + 1}c{i + 1}" for i in range(len(turn.calls))]
        calls = [
            _script_call(keys[i], c.name, dict(c.arguments), spec.forbidden, ctx, ready, keys)
            for i, c in enumerate(turn.calls)
        ]
        done = [_DONE[c.name](c.final_args({})) for c in calls if c.name in _DONE]
        turns.append(TaskTurn(turn.text, tuple(calls), _answer(turn, done, keys)))
        earlier_text = f"{earlier_text} {turn.text}".strip()
        earlier_results += list(results)
    first, *rest = turns
    return TrainTask(
        id=f"{SOURCE}-{spec.id}",
        source=SOURCE,
        split=split_of(spec.id),
        request=first.request,
        calls=first.calls,
        make_toolset=_make_toolset,
        answer=first.answer,
        family=spec.category,
        followups=tuple(rest),
        context=CONTEXT,
        make_world=_world_for(spec),
    )


def bench_tasks(split: str) -> list[TrainTask]:
    """The benchmark's episodes of ``split`` as train tasks, in the benchmark's order; for
    ``train``, without the episodes :func:`skipped_train_episodes` names."""
    skipped = {s.episode_id for s in skipped_train_episodes()} if split == "train" else set()
    return [
        task_of(spec)
        for spec in all_specs()
        if split_of(spec.id) == split and spec.id not in skipped
    ]
