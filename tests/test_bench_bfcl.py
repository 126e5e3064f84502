"""BFCL v4 adapter: episode counts, split, effect table, and both checkers against ground truth.

The checkers are reimplementations of BFCL's; besides accepting every ground-truth answer and
rejecting perturbed runs, they are compared verdict for verdict with BFCL's own checker code on
the same runs (the multi-turn checker imports without extra dependencies; the AST checker needs
one model-configuration module stubbed, see ``bfcl_ast_checker``).
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import pickle
import random
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from specagent.agent.records import ToolCallReport
from specagent.bench.datasets import bfcl, load_dataset
from specagent.bench.datasets.bfcl.ast_checker import check_calls, normalise_string
from specagent.bench.datasets.bfcl.multi_turn import (
    BACKENDS,
    BfclMultiTurnEnv,
    backend_class,
    invoke,
    load_func_docs,
    public_state,
)
from specagent.bench.datasets.bfcl.multi_turn_effects import MULTI_TURN_EFFECTS
from specagent.bench.datasets.bfcl.schema import to_json_schema
from specagent.bench.datasets.bfcl.single_turn import first_choice_calls
from specagent.bench.datasets.bfcl.single_turn_effects import (
    SINGLE_TURN_OVERRIDES,
    single_turn_effect,
    verb_rule,
)
from specagent.bench.episode import Episode, TurnRecord
from specagent.clock import VirtualClock
from specagent.executor import ToolExecutor
from specagent.tools import Effect

SINGLE = ["simple_python", "multiple", "parallel", "parallel_multiple", "live_multiple"]
MULTI = ["multi_turn_base", "multi_turn_long_context"]
SIZES = {
    "multi_turn_base": 200,
    "multi_turn_long_context": 200,
    "simple_python": 400,
    "multiple": 200,
    "parallel": 200,
    "parallel_multiple": 200,
    "live_multiple": 1053,
}
# Train sizes under the documented split rule (sha256 of the split key, 20 %).
TRAIN_SIZES = {
    "multi_turn_base": 39,
    "multi_turn_long_context": 39,
    "simple_python": 78,
    "multiple": 32,
    "parallel": 33,
    "parallel_multiple": 48,
    "live_multiple": 209,
}
# Entries whose own BFCL answer breaks its function doc, so BFCL's checker rejects it too
# (a required parameter the answer leaves out, or an answer parameter the doc lacks).
UNSOLVABLE = {"live_multiple_507-149-4", "live_multiple_862-181-3", "live_multiple_964-207-0"}


def everything(variant: str) -> list[Episode]:
    return bfcl.load(variant, "train") + bfcl.load(variant, "test")


# -- running calls through an environment's own tools --------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    arguments: dict[str, Any]
    disposition: str = "committed"  # "cancelled": issued, then withdrawn before it ran
    run: bool | None = None  # override: run it on the live tools whatever the disposition


def report(
    call_id: int,
    name: str,
    arguments: dict[str, Any],
    result: Any,
    disposition: str,
    status: str | None = None,
) -> ToolCallReport:
    return ToolCallReport(
        call_id=call_id,
        name=name,
        arguments=arguments,
        effect=None,
        status=status or ("done" if disposition == "committed" else "cancelled"),
        held=False,
        issued_s=0.0,
        started_s=0.0,
        finished_s=0.0,
        result=result,
        disposition=disposition,
    )


def play(env: Any, texts: Sequence[str], plan: Sequence[Sequence[Step]]) -> list[TurnRecord]:
    """Run a plan's calls with the env's tools, turn by turn, and record them as a run would."""

    async def main() -> list[TurnRecord]:
        turns = []
        ids = itertools.count(1)
        for text, steps in zip(texts, plan):
            calls = []
            for step in steps:
                result = None
                if step.run if step.run is not None else step.disposition == "committed":
                    tool = env.toolset[step.name]
                    result = await tool.call(tool.validate(step.arguments))
                calls.append(
                    report(next(ids), step.name, dict(step.arguments), result, step.disposition)
                )
            turns.append(TurnRecord(text, "done", "answered", tuple(calls), 0.0))
        return turns

    return VirtualClock().run(main())


def truth_plan(episode: Episode) -> list[list[Step]]:
    return [
        [Step(c["name"], copy.deepcopy(c["arguments"])) for c in turn]
        for turn in episode.meta["ground_truth"]
    ]


def final_state(episode: Episode, plan: Sequence[Sequence[Step]]) -> dict[str, Any]:
    """Public backend state after running only the committed steps (an independent oracle)."""
    env = episode.make_env()
    for steps in plan:
        for step in steps:
            if step.disposition == "committed":
                owner = next(
                    c
                    for c, m in MULTI_TURN_EFFECTS.items()
                    if step.name in m and c in env.instances
                )
                invoke(env.instances[owner], step.name, step.arguments)
    return {c: copy.deepcopy(public_state(i)) for c, i in env.instances.items()}


def state_changing(name: str) -> bool:
    return any(name in m and m[name].effect.changes_state for m in MULTI_TURN_EFFECTS.values())


# -- counts and split --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(SIZES))
def test_episode_counts_per_variant_and_split(variant: str) -> None:
    train, test = bfcl.load(variant, "train"), bfcl.load(variant, "test")
    assert len(train) + len(test) == SIZES[variant]
    assert len(train) == TRAIN_SIZES[variant]
    assert not {e.id for e in train} & {e.id for e in test}
    assert {e.split for e in train} == {"train"} and {e.split for e in test} == {"test"}
    assert len({e.id for e in train + test}) == SIZES[variant]


def test_registry_names_load_the_test_split() -> None:
    episodes = load_dataset("bfcl-multi-turn", limit=5)
    assert [e.id for e in episodes] == [e.id for e in bfcl.load("multi_turn_base")[:5]]
    assert all(e.dataset == "bfcl-multi-turn" and e.split == "test" for e in episodes)
    assert len(load_dataset("bfcl-live-multiple")) == SIZES["live_multiple"] - 209


def test_split_is_deterministic_and_keeps_one_task_on_one_side() -> None:
    assert [e.id for e in bfcl.load("multiple")] == [e.id for e in bfcl.load("multiple")]
    assert bfcl.split_of("multi_turn:7") == bfcl.split_of("multi_turn:7")
    # The same scenario in two multi-turn categories lands in the same split.
    base = {e.id.rsplit("_", 1)[1]: e.split for e in everything("multi_turn_base")}
    long = {e.id.rsplit("_", 1)[1]: e.split for e in everything("multi_turn_long_context")}
    assert base == long
    # The same question in two single-turn categories too (96 are shared).
    by_text: dict[str, set[str]] = {}
    for variant in ("simple_python", "multiple", "live_multiple"):
        for e in everything(variant):
            by_text.setdefault(e.meta["split_key"], set()).add(e.split)
    assert all(len(splits) == 1 for splits in by_text.values())
    assert (
        sum(
            1
            for e in everything("multiple")
            if e.meta["split_key"] in {x.meta["split_key"] for x in everything("simple_python")}
        )
        >= 90
    )


def test_bad_variant_and_split_are_refused_clearly() -> None:
    with pytest.raises(bfcl.UnsupportedVariant, match="adds functions in the middle"):
        bfcl.load("multi_turn_miss_func")
    with pytest.raises(bfcl.UnsupportedVariant, match="choose one of"):
        bfcl.load("nonsense")
    with pytest.raises(ValueError, match="train and test"):
        bfcl.load("multiple", split="dev")


def test_turns_are_the_users_words_and_meta_is_json() -> None:
    episode = bfcl.load("multi_turn_base", "test")[0]
    assert episode.id == "multi_turn_base_0"
    assert len(episode.turns) == 4 and episode.turns[0].startswith("Move 'final_report.pdf'")
    json.dumps(episode.meta)
    assert episode.meta["ground_truth"][3][0] == {"name": "cd", "arguments": {"folder": ".."}}
    live = next(e for e in everything("live_multiple") if e.id == "live_multiple_1-0-1")
    assert live.make_env().context().startswith("You are an agent")  # the system message
    assert "NO SUGAR" in live.turns[0]


# -- effect classes ----------------------------------------------------------------------------


@pytest.mark.parametrize("class_name", sorted(BACKENDS))
def test_effect_table_covers_every_backend_method(class_name: str) -> None:
    cls = backend_class(class_name)
    methods = {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}
    assert set(MULTI_TURN_EFFECTS[class_name]) == methods
    assert {d["name"] for d in load_func_docs(bfcl.data_dir(), class_name)} == methods
    for effect in MULTI_TURN_EFFECTS[class_name].values():
        # In-memory backends: every state-changing method can run on a copy.
        assert effect.sandboxable == effect.effect.changes_state


def test_read_only_methods_leave_the_whole_backend_unchanged() -> None:
    """Every ground-truth call of a read-only method, private attributes and RNG included."""
    checked: set[str] = set()
    for variant in MULTI:
        for episode in everything(variant):
            env = episode.make_env()
            for turn in episode.meta["ground_truth"]:
                for call in turn:
                    owner = next(c for c in env.instances if call["name"] in MULTI_TURN_EFFECTS[c])
                    instance = env.instances[owner]
                    effect = MULTI_TURN_EFFECTS[owner][call["name"]]
                    before = pickle.dumps(_without_cache(instance))
                    invoke(instance, call["name"], call["arguments"])
                    if not effect.effect.changes_state:
                        assert pickle.dumps(_without_cache(instance)) == before, call
                        checked.add(call["name"])
    assert len(checked) >= 35  # 37 read-only methods appear in the ground truth


def _without_cache(instance: Any) -> dict[str, Any]:
    # TravelAPI.get_flight_cost refreshes a private cache that book_flight rebuilds itself.
    return {k: v for k, v in vars(instance).items() if k != "_flight_cost_lookup"}


def test_single_turn_rule_and_overrides_cover_every_function() -> None:
    names = {f["name"] for v in SINGLE for e in bfcl.single_turn_entries(v) for f in e.functions}
    assert len(names) == 1217
    assert set(SINGLE_TURN_OVERRIDES) <= names  # no stale override
    for name, effect in SINGLE_TURN_OVERRIDES.items():
        assert verb_rule(name) is not effect  # every override corrects the rule
    assert single_turn_effect("book_flight") is Effect.IRREVERSIBLE
    assert single_turn_effect("Hotels_4_ReserveHotel") is Effect.IRREVERSIBLE
    assert single_turn_effect("calculate_triangle_area") is Effect.READ_ONLY
    assert single_turn_effect("math.factorial") is Effect.READ_ONLY  # no verb: a calculator
    assert single_turn_effect("add") is Effect.READ_ONLY  # an override
    env = everything("multiple")[0].make_env()
    assert not any(t.sandboxable for t in env.toolset.values())


def test_env_tools_match_docs_and_table() -> None:
    episode = bfcl.load("multi_turn_base", "test")[0]
    env = episode.make_env()
    assert isinstance(env, BfclMultiTurnEnv)
    expected = {d["name"] for c in env.entry.involved_classes for d in env.entry.func_docs[c]}
    assert set(env.toolset) == expected
    assert env.toolset["ls"].effect is Effect.READ_ONLY
    assert env.toolset["mkdir"].effect is Effect.IRREVERSIBLE and env.toolset["mkdir"].sandboxable
    assert env.toolset["post_tweet"].state is not env.toolset["mkdir"].state  # a cell per backend
    json.dumps(env.committed_state())
    assert env.committed_state()["TwitterAPI"]["username"] == "analyst_pro"


def test_bfcl_types_become_json_schema() -> None:
    schema = to_json_schema(
        {
            "type": "dict",
            "properties": {
                "a": {"type": "float"},
                "b": {"type": "tuple", "items": {"type": "integer"}},
                "c": {"type": "any"},
                "d": {"type": "dict", "properties": {"e": {"type": "string"}}},
            },
            "required": ["a"],
        }
    )
    assert schema["type"] == "object"
    assert schema["properties"]["a"] == {"type": "number"}
    assert schema["properties"]["b"] == {"type": "array", "items": {"type": "integer"}}
    assert schema["properties"]["c"] == {}
    assert schema["properties"]["d"]["type"] == "object"


# -- multi-turn checker ------------------------------------------------------------------------


@pytest.mark.parametrize("variant", MULTI)
def test_multi_turn_checker_accepts_every_ground_truth(variant: str) -> None:
    for episode in everything(variant):
        env = episode.make_env()
        verdict = env.check(play(env, episode.turns, truth_plan(episode)))
        assert verdict.passed, (episode.id, verdict.detail)


def _first_effective(episode: Episode, plan: list[list[Step]]) -> tuple[int, int] | None:
    """The first state-changing step whose removal changes the final state."""
    full = final_state(episode, plan)
    for t, steps in enumerate(plan):
        for i, step in enumerate(steps):
            if not state_changing(step.name):
                continue
            trimmed = copy.deepcopy(plan)
            trimmed[t].pop(i)
            if final_state(episode, trimmed) != full:
                return t, i
    return None


def test_multi_turn_checker_rejects_perturbed_runs() -> None:
    rng = random.Random(4)
    counts = {"missing": 0, "cancelled": 0, "extra": 0, "wrong_arg": 0, "leaked": 0}
    for episode in everything("multi_turn_base"):
        plan = truth_plan(episode)
        truth_state = final_state(episode, plan)
        where = _first_effective(episode, plan)
        if where is None:
            continue
        t, i = where
        step = plan[t][i]

        missing = copy.deepcopy(plan)
        missing[t].pop(i)
        env = episode.make_env()
        assert not env.check(play(env, episode.turns, missing)).passed, episode.id
        counts["missing"] += 1

        cancelled = copy.deepcopy(plan)  # issued, withdrawn before it ran: it does not count
        cancelled[t][i] = Step(step.name, step.arguments, "cancelled")
        env = episode.make_env()
        assert not env.check(play(env, episode.turns, cancelled)).passed, episode.id
        counts["cancelled"] += 1

        extra = copy.deepcopy(plan)  # the same state-changing call twice
        extra[t].insert(i + 1, copy.deepcopy(step))
        if final_state(episode, extra) != truth_state:
            env = episode.make_env()
            assert not env.check(play(env, episode.turns, extra)).passed, episode.id
            counts["extra"] += 1

        # Reported withdrawn, yet it changed the world: at the very end, so no later result
        # shows it and only the live-state check can tell.
        again = copy.deepcopy(plan)
        again[-1].append(copy.deepcopy(step))
        if final_state(episode, again) != truth_state:
            leaked = copy.deepcopy(plan)
            leaked[-1].append(Step(step.name, copy.deepcopy(step.arguments), "cancelled", run=True))
            env = episode.make_env()
            verdict = env.check(play(env, episode.turns, leaked))
            assert not verdict.passed and "leaked" in verdict.detail, (episode.id, verdict)
            counts["leaked"] += 1

        strings = [k for k, v in step.arguments.items() if isinstance(v, str)]
        if strings:
            wrong = copy.deepcopy(plan)
            key = rng.choice(strings)
            wrong[t][i].arguments[key] = step.arguments[key] + "_x"
            if final_state(episode, wrong) != truth_state:
                env = episode.make_env()
                assert not env.check(play(env, episode.turns, wrong)).passed, episode.id
                counts["wrong_arg"] += 1
    assert min(counts.values()) >= 60, counts


def test_multi_turn_checker_needs_every_turn_and_the_results() -> None:
    episode = bfcl.load("multi_turn_base", "test")[1]  # ls(a=True) first: a read-only turn
    plan = truth_plan(episode)
    assert plan[0] == [Step("ls", {"a": True})]
    env = episode.make_env()
    short = play(env, episode.turns, plan)[:-1]
    assert "ended early" in env.check(short).detail
    no_read = copy.deepcopy(plan)
    no_read[0] = [Step("pwd", {})]  # a call, but not the one whose result was asked for
    env = episode.make_env()
    assert "never obtained" in env.check(play(env, episode.turns, no_read)).detail
    silent = copy.deepcopy(plan)
    silent[0] = []
    env = episode.make_env()
    assert "no committed call" in env.check(play(env, episode.turns, silent)).detail
    early = copy.deepcopy(plan)  # BFCL counts results from earlier turns too
    early[0] = [Step("ls", {"a": True}), Step("ls", {"a": True})]
    env = episode.make_env()
    assert env.check(play(env, episode.turns, early)).passed


def test_multi_turn_checker_agrees_with_bfcls_own_checker() -> None:
    """Same runs, same verdicts as bfcl_eval's multi_turn_checker (which runs model calls)."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    rng = random.Random(7)
    names = itertools.count()
    agree = accepted = 0
    for episode in everything("multi_turn_base")[::2]:
        for plan in _variants(truth_plan(episode), rng):
            env = episode.make_env()
            mine = env.check(play(env, episode.turns, plan)).passed
            entry = env.entry
            raw = {
                "id": entry.id,
                "initial_config": copy.deepcopy(dict(entry.initial_config)),
                "involved_classes": list(entry.involved_classes),
            }
            truth = [[_call_text(c.name, c.arguments) for c in turn] for turn in entry.ground_truth]
            model = []
            for steps in plan:
                texts = [
                    _call_text(s.name, s.arguments) for s in steps if s.disposition == "committed"
                ]
                model.append([texts] if texts else [])
            theirs = multi_turn_checker(model, truth, raw, entry.category, f"t{next(names)}")
            assert mine == theirs["valid"], (episode.id, plan, theirs)
            agree += 1
            accepted += mine
    assert agree == 700 and 100 <= accepted < agree


def _call_text(name: str, arguments: dict[str, Any]) -> str:
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in arguments.items()) + ")"


def _variants(plan: list[list[Step]], rng: random.Random) -> list[list[list[Step]]]:
    out = [plan]
    flat = [(t, i) for t, steps in enumerate(plan) for i in range(len(steps))]
    for kind in ("drop", "duplicate", "argument", "cancel", "empty turn", "move"):
        p = copy.deepcopy(plan)
        t, i = rng.choice(flat)
        step = p[t][i]
        if kind == "drop":
            p[t].pop(i)
        elif kind == "duplicate":
            p[t].insert(i + 1, copy.deepcopy(step))
        elif kind == "argument" and step.arguments:
            key = rng.choice(list(step.arguments))
            value = step.arguments[key]
            step.arguments[key] = (
                not value
                if isinstance(value, bool)
                else value + 7
                if isinstance(value, (int, float))
                else value + "_x"
                if isinstance(value, str)
                else value[:-1]
                if isinstance(value, list) and value
                else value
            )
        elif kind == "cancel":
            p[t][i] = Step(step.name, step.arguments, "cancelled")
        elif kind == "empty turn":
            p[t] = []
        elif kind == "move" and t + 1 < len(p):
            p[t + 1] = p[t] + p[t + 1]
            p[t] = []
        out.append(p)
    return out


def test_sandboxed_backend_calls_commit_or_vanish_through_the_executor() -> None:
    """A state-changing backend call run early on a copy: committed it lands, withdrawn it
    leaves no trace; the run's reports then pass (or fail) the checker accordingly."""
    episode = bfcl.load("multi_turn_base", "test")[2]  # cd, touch, then echo into the file
    plan = truth_plan(episode)
    assert [s.name for s in plan[0]] == ["cd", "touch"]

    clock = VirtualClock()

    async def main(env: Any, withdraw_touch: bool) -> list[TurnRecord]:
        events: list[Any] = []
        turns = []
        ids = itertools.count(1)
        async with ToolExecutor(env.toolset, clock, events.append) as ex:
            for text, steps in zip(episode.turns, plan):
                recs = []
                for step in steps:
                    call_id = next(ids)
                    tool = env.toolset[step.name]
                    rec = ex.submit(call_id, step.name, step.arguments, sandboxed=tool.sandboxable)
                    await rec.done
                    assert rec.sandboxed == tool.effect.changes_state  # ran early, on a copy
                    if withdraw_touch and step.name == "touch":
                        ex.withdraw(call_id, "test")
                    else:
                        ex.commit(call_id)
                    recs.append(rec)
                await ex.quiesce()
                turns.append(
                    TurnRecord(
                        text,
                        "done",
                        "answered",
                        tuple(
                            report(
                                r.call_id,
                                r.name,
                                r.arguments,
                                r.result,
                                r.disposition.value if r.disposition else "none",
                                r.status.value,
                            )
                            for r in recs
                        ),
                        0.0,
                    )
                )
        return turns

    env = episode.make_env()
    turns = clock.run(main(env, withdraw_touch=False))
    assert env.check(turns).passed
    assert "TeamNotes.txt" in json.dumps(env.committed_state())
    withdrawn = episode.make_env()
    turns = clock.run(main(withdrawn, withdraw_touch=True))
    assert "TeamNotes.txt" not in json.dumps(withdrawn.committed_state())
    assert not withdrawn.check(turns).passed  # the file the user asked for was never made


# -- single-turn checker -----------------------------------------------------------------------


@pytest.mark.parametrize("variant", SINGLE)
def test_single_turn_checker_accepts_every_ground_truth(variant: str) -> None:
    rejected = set()
    for episode in everything(variant):
        env = episode.make_env()
        plan = [[Step(c["name"], c["arguments"]) for c in episode.meta["ground_truth"][0]]]
        verdict = env.check(play(env, episode.turns, plan))
        if not verdict.passed:
            rejected.add(episode.id)
    assert rejected == (UNSOLVABLE if variant == "live_multiple" else set())


def _entry(variant: str, entry_id: str) -> Any:
    return next(e for e in bfcl.single_turn_entries(variant) if e.id == entry_id)


def test_single_turn_checker_rejects_perturbed_runs() -> None:
    rejected = 0
    for variant in SINGLE:
        for episode in everything(variant)[::5]:
            if episode.id in UNSOLVABLE:
                continue
            functions = {f["name"]: f for f in episode.make_env().entry.functions}

            def passes(steps: list[Step], episode: Episode = episode) -> bool:
                env = episode.make_env()
                return env.check(play(env, episode.turns, [steps])).passed

            steps = [Step(c["name"], c["arguments"]) for c in episode.meta["ground_truth"][0]]
            assert passes(steps)
            perturbed = [
                steps[:-1],  # a call missing
                steps + [copy.deepcopy(steps[0])],  # an extra call
                steps[:-1] + [Step(steps[-1].name, steps[-1].arguments, "cancelled")],
            ]
            others = [n for n in functions if n != steps[0].name]
            if others:  # the right arguments for the wrong function
                perturbed.append([Step(others[0], steps[0].arguments)] + steps[1:])
            for i, step in enumerate(steps):
                required = functions[step.name]["parameters"].get("required", [])
                for key, value in step.arguments.items():
                    bad = copy.deepcopy(steps)
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        bad[i].arguments[key] = value + 1000
                    elif isinstance(value, str) and key in required:
                        bad[i].arguments[key] = value + " and something else"
                    else:
                        continue
                    perturbed.append(bad)
                    break
            for bad in perturbed:
                assert not passes(bad), (episode.id, bad)
                rejected += 1
    assert rejected > 1500


def test_single_turn_rules_follow_bfcl() -> None:
    entry = _entry("parallel_multiple", "parallel_multiple_1")  # rectangle and circle areas
    good = [
        ("area_circle.calculate", {"radius": 5}),  # int for float: accepted
        ("area_rectangle.calculate", {"length": 7.0, "breadth": 3.0}),
    ]  # any order
    assert check_calls(entry.functions, good, entry.answers, entry.mode).passed
    as_bool = [("area_circle.calculate", {"radius": True}), good[1]]
    assert not check_calls(entry.functions, as_bool, entry.answers, entry.mode).passed
    extra_param = [("area_circle.calculate", {"radius": 5.0, "unit": "m"}), good[1]]
    assert not check_calls(entry.functions, extra_param, entry.answers, entry.mode).passed
    assert normalise_string("New York, NY") == normalise_string("new york ny")
    simple = _entry("simple_python", "simple_python_200")  # an optional parameter
    calls = first_choice_calls(simple)
    assert calls[0][1].get("efficiency_reduction") is None
    assert check_calls(simple.functions, calls, simple.answers, simple.mode).passed


@pytest.fixture
def bfcl_ast_checker(monkeypatch: pytest.MonkeyPatch) -> Any:
    """BFCL's own AST checker. Its module imports every model vendor's SDK only to read one
    setting (whether a model writes ``.`` as ``_``), so that one module is stubbed."""
    stub = types.ModuleType("bfcl_eval.constants.model_config")
    stub.MODEL_CONFIG_MAPPING = {"reference": types.SimpleNamespace(underscore_to_dot=False)}
    monkeypatch.setitem(sys.modules, "bfcl_eval.constants.model_config", stub)
    for name in [m for m in sys.modules if m.startswith("bfcl_eval.eval_checker.ast_eval")]:
        monkeypatch.delitem(sys.modules, name)
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker

    def check(functions: Any, output: Any, answers: Any, category: str) -> dict[str, Any]:
        return ast_checker(functions, output, answers, Language.PYTHON, category, "reference")

    yield check
    for name in [m for m in sys.modules if m.startswith("bfcl_eval.eval_checker.ast_eval")]:
        monkeypatch.delitem(sys.modules, name)


def test_single_turn_checker_agrees_with_bfcls_own_checker(bfcl_ast_checker: Any) -> None:
    rng = random.Random(3)
    compared = accepted = 0
    for variant in SINGLE:
        for entry in bfcl.single_turn_entries(variant):
            base = first_choice_calls(entry)
            for calls in [base, *(_mutate(base, rng) for _ in range(3))]:
                mine = check_calls(entry.functions, calls, entry.answers, entry.mode).passed
                output = [{name: args} for name, args in calls]
                theirs = bfcl_ast_checker(
                    list(entry.functions), output, list(entry.answers), variant
                )
                assert mine == theirs["valid"], (entry.id, calls, theirs)
                compared += 1
                accepted += mine
    assert compared == 4 * sum(SIZES[v] for v in SINGLE)
    assert accepted > sum(SIZES[v] for v in SINGLE)  # some mutations are still acceptable


def _mutate(calls: list[tuple[str, dict[str, Any]]], rng: random.Random) -> list[Any]:
    out = copy.deepcopy(calls)
    kind = rng.randrange(5)
    if kind == 0:
        out.pop(rng.randrange(len(out)))
    elif kind == 1:
        out.append(copy.deepcopy(out[rng.randrange(len(out))]))
    elif kind == 2:
        rng.shuffle(out)
    else:
        _, args = out[rng.randrange(len(out))]
        if args:
            key = rng.choice(list(args))
            value = args[key]
            args[key] = rng.choice(
                [value + "x", value.upper(), value.replace(" ", ""), 5]
                if isinstance(value, str)
                else [not value, 1]
                if isinstance(value, bool)
                else [value + 1, float(value), str(value)]
                if isinstance(value, (int, float))
                else [value[:-1], list(reversed(value)), "x"]
                if isinstance(value, list)
                else ["x", None]
            )
        else:
            args["unexpected"] = 1
    return out
