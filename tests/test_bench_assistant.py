"""The assistant benchmark: its size and make-up, its tools, and a checker that accepts every
episode's ground truth and refuses perturbed runs."""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections import Counter
from dataclasses import replace

import pytest

from specagent.bench.datasets import load_dataset
from specagent.bench.datasets.assistant import episode_meta
from specagent.bench.datasets.assistant.checker import check_run, fact_stated, unrequested
from specagent.bench.datasets.assistant.episodes import TEMPLATES, _drawn, all_specs
from specagent.bench.datasets.assistant.ground_truth import expert_answers, play_ground_truth
from specagent.bench.datasets.assistant.normalize import canonical_date, canonical_time, times_in
from specagent.bench.datasets.assistant.spec import CATEGORIES, Fact
from specagent.bench.datasets.assistant.split import split_of
from specagent.bench.datasets.assistant.tools import assistant_tools
from specagent.bench.datasets.assistant.world import World, WorldError
from specagent.tools import Effect

SPECS = all_specs()
BY_ID = {s.id: s for s in SPECS}


# -- size and make-up ----------------------------------------------------------------------


def test_the_suite_has_the_size_and_mix_the_issue_asks_for() -> None:
    assert len(SPECS) >= 240
    assert len({s.id for s in SPECS}) == len(SPECS)
    assert all(1 <= len(s.calls) <= 5 for s in SPECS)
    assert set(Counter(s.category for s in SPECS)) == set(CATEGORIES)
    assert sum(s.spoken for s in SPECS) >= 0.20 * len(SPECS)
    assert sum(s.multi_turn for s in SPECS) >= 0.25 * len(SPECS)
    assert sum(s.source == "handwritten" for s in SPECS) >= 60
    assert len(load_dataset("assistant", split="test")) >= 120
    # phrasing is varied: many distinct first words and no text repeated
    texts = [t.text for s in SPECS for t in s.turns]
    assert len(set(texts)) >= 0.97 * len(texts)
    assert len(TEMPLATES) >= 40


def test_twenty_tools_with_every_effect_class() -> None:
    tools = assistant_tools(World())
    assert len(tools) >= 14
    effects = Counter(t.effect for t in tools.values())
    assert effects[Effect.READ_ONLY] >= 8
    assert effects[Effect.IDEMPOTENT] >= 1
    assert any(t.effect is Effect.REVERSIBLE and t.compensate for t in tools.values())
    assert any(t.effect is Effect.IRREVERSIBLE and not t.sandboxable for t in tools.values())
    assert any(t.sandboxable and t.effect is not Effect.IDEMPOTENT for t in tools.values())
    # every state-changing tool acts on the world's state cell, so sandboxes and commits see it
    assert all(t.state is not None for t in tools.values() if t.effect is not Effect.READ_ONLY)
    assert all(t.description for t in tools.values())


def test_ids_are_stable_when_a_template_draws_more() -> None:
    template = next(t for t in TEMPLATES if t.id == "weather")
    more = replace(template, count=template.count + 5)
    before, after = _drawn(template), _drawn(more)
    assert [s.turns for s in before] == [s.turns for s in after[: len(before)]]
    assert [s.id for s in before] == [s.id for s in after[: len(before)]]
    # the split is a function of the id alone
    assert split_of("weather-00") == split_of("weather-00")
    assert {e.split for e in load_dataset("assistant", split="test")} == {"test"}


def test_no_test_episode_can_reach_training_data() -> None:
    """``specagent synth`` reads only train tasks (train/tasks.py refuses any other split); its
    assistant tasks are generated apart from this benchmark, so none may repeat a test request."""
    from specagent.train.sources import load_tasks

    requests = {" ".join(t.request.lower().split()) for t in load_tasks("assistant", split="train")}
    for episode in load_dataset("assistant", split="test"):
        for text in episode.turns:
            assert " ".join(text.lower().split()) not in requests, episode.id


def test_pinned_episodes_keep_their_words() -> None:
    """Changing these is changing the benchmark: give new episodes new ids instead."""
    assert (
        BY_ID["hw-29"].turns[0].text
        == "Book the earliest flight from Boston to New York on Wednesday."
    )
    assert (
        BY_ID["weather-09"].turns[0].text
        == "In Boston, what's the weather going to be like on Sunday?"
    )
    assert BY_ID["mt-weather-city-03"].turns[1].text == "And in New York?"


def test_episode_meta_is_what_reports_group_by() -> None:
    meta = episode_meta(BY_ID["hw-59"])
    assert meta == {
        "category": "chain", "spoken": False, "multi_turn": True, "source": "handwritten",
        "template": "handwritten", "calls": 3, "effects": 2,
    }  # fmt: skip


# -- the checker on ground truth -----------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_the_checker_accepts_the_ground_truth(spec) -> None:
    run = play_ground_truth(spec)
    verdict = check_run(spec, run.world.log, expert_answers(spec))
    assert verdict.passed, verdict.detail
    assert unrequested(run.world.log, spec.effects) == 0
    # every fact an answer must state is in that turn's tool results (not in the user's words)
    for turn, results in zip(spec.turns, run.results, strict=True):
        blob = json.dumps(results)
        for fact in turn.facts:
            assert fact_stated(fact, blob), (fact, blob[:300])
    # exactly the asked-for effects were committed: one log record per wanted effect
    assert len(run.world.log) == len(spec.effects)


# -- the checker on perturbed runs ---------------------------------------------------------

WRITERS = [s for s in SPECS if s.effects]


def test_a_missing_effect_fails() -> None:
    for spec in WRITERS:
        run = play_ground_truth(spec)
        log = run.world.log[:-1]
        verdict = check_run(spec, log, expert_answers(spec))
        assert not verdict.passed and any("missing" in p for p in verdict.problems), spec.id


def test_an_extra_unrequested_send_fails_and_is_counted() -> None:
    for spec in SPECS[::3]:
        run = play_ground_truth(spec)
        run.world.send_message("Grace", "Are you free for lunch?")
        verdict = check_run(spec, run.world.log, expert_answers(spec))
        assert not verdict.passed and any("unrequested message" in p for p in verdict.problems), (
            spec.id
        )
        assert unrequested(run.world.log, spec.effects) == 1


def test_a_corrected_away_value_committed_fails() -> None:
    corrected = [s for s in SPECS if s.forbidden]
    assert len(corrected) >= 15
    for spec in corrected:
        run = play_ground_truth(spec)
        wrong = spec.forbidden[0]
        log = copy.deepcopy(run.world.log)
        # replace the committed right value by the corrected-away one in the record that holds it
        target = next(r for r in log if r["kind"] != "note")
        field = _field_for(target, wrong)
        target[field] = wrong
        verdict = check_run(spec, log, expert_answers(spec))
        assert not verdict.passed, spec.id
        assert any("corrected-away" in p for p in verdict.problems), (spec.id, verdict.problems)


def _field_for(record: dict, wrong: object) -> str:
    if isinstance(wrong, int):
        return "party_size" if "party_size" in record else "temperature_c"
    if isinstance(wrong, str) and wrong[:4].isdigit():
        return "date"
    if isinstance(wrong, str) and ":" in wrong:
        return "time"
    return {"flight": "destination", "message": "to"}[record["kind"]]


def test_a_thermostat_first_set_to_the_corrected_away_value_fails() -> None:
    spec = BY_ID["hw-49"]  # "set the thermostat to like 20, actually no, 19"
    world = World()
    world.set_thermostat(20)
    world.set_thermostat(19)
    verdict = check_run(spec, world.log, expert_answers(spec))
    assert not verdict.passed
    assert any("corrected-away" in p for p in verdict.problems)
    assert unrequested(world.log, spec.effects) == 1


def test_a_wrong_fact_in_the_answer_fails() -> None:
    rng = random.Random(4)
    checked = 0
    for spec in SPECS:
        facts = [
            (i, f)
            for i, t in enumerate(spec.turns)
            for f in t.facts
            if f.kind in ("number", "code", "time")
        ]
        if not facts:
            continue
        index, fact = rng.choice(facts)
        run = play_ground_truth(spec)
        answers = expert_answers(spec)
        answers[index] = answers[index].replace(fact.canonical(), _wrong(fact))
        verdict = check_run(spec, run.world.log, answers)
        assert not verdict.passed, (spec.id, answers[index])
        checked += 1
    assert checked >= 100


def _wrong(fact: Fact) -> str:
    if fact.kind == "number":
        return str(fact.value + 3) if isinstance(fact.value, int) else f"{fact.value + 1.1:g}"
    if fact.kind == "time":
        hour = (int(fact.value[:2]) + 2) % 24
        return f"{hour:02d}{fact.value[2:]}"
    return str(fact.value)[:-1] + ("9" if str(fact.value)[-1] != "9" else "8")


def test_no_answer_fails_even_with_the_right_effects() -> None:
    spec = BY_ID["thermostat-00"]
    run = play_ground_truth(spec)
    assert not check_run(spec, run.world.log, [None]).passed


def test_facts_match_formatting_but_not_other_values() -> None:
    temp = Fact("high", "number", 23)
    assert fact_stated(temp, "It'll be sunny with a high of 23°C.")
    assert fact_stated(temp, "a high of twenty-three degrees")
    assert not fact_stated(temp, "a high of 25°C, low 13")
    assert not fact_stated(temp, "a high of 123")
    at = Fact("time", "time", "19:30")
    assert fact_stated(at, "at 7:30 PM") and fact_stated(at, "at 19:30")
    assert not fact_stated(at, "at 7:30 AM")
    flight = Fact("flight", "code", "UA412")
    assert fact_stated(flight, "flight UA 412 at $172") and not fact_stated(flight, "UA 413")


# -- the world and its tools ---------------------------------------------------------------


def test_values_are_read_as_people_write_them() -> None:
    assert canonical_date("Friday") == canonical_date("2026-06-05") == canonical_date("June 5th")
    assert canonical_date("next friday") == "2026-06-12"
    assert canonical_time("7pm") == canonical_time("19:00") == "19:00"
    assert canonical_time("06:30") == "06:30" and canonical_time("6:30") == "18:30"
    assert canonical_time("7", evening=True) == "19:00"
    assert times_in("doors at 7 pm, out by 22:15") == {"19:00", "22:15"}
    with pytest.raises(ValueError, match="weekday"):
        canonical_date("someday")


def test_tools_refuse_bad_input_with_a_message_the_model_can_act_on() -> None:
    world = World()
    with pytest.raises(WorldError, match="neither an e-mail address nor a contact"):
        world.send_email("Mariah", "Hi", "Hello")
    with pytest.raises(WorldError, match="known cities"):
        world.weather("Atlantis", "today")
    with pytest.raises(WorldError, match="contact's name"):
        world.directions("home", "the moon")
    with pytest.raises(WorldError, match="search_flights"):
        world.book_flight("XX999")
    assert world.log == []
    # a contact's name works where a mail or maps app would resolve it
    assert world.send_email("Maria", "Hi", "Hello")["to"] == "maria.lopez@example.com"
    assert world.directions("home", "Lena's place")["to"] == "15 Charles Street, Boston"


def test_a_compensated_reservation_leaves_no_effect() -> None:
    world = World()
    tools = assistant_tools(world)
    reserve = tools["reserve_table"]
    args = reserve.validate(
        {"restaurant": "Giulia", "date": "friday", "time": "7pm", "party_size": 2}
    )
    result = asyncio.run(reserve.call(args))
    assert [r["kind"] for r in world.log] == ["reservation"]
    assert reserve.compensate is not None
    asyncio.run(reserve.compensate(args, result))
    assert world.log == [] and world.reservations == {}


def test_a_sandboxed_write_reaches_the_log_only_when_adopted() -> None:
    world = World()
    tools = assistant_tools(world)
    note = tools["create_note"]
    cell = note.state
    assert cell is not None and note.sandboxable
    copy_ = cell.fork()
    with cell.use(copy_):
        asyncio.run(note.call({"title": "x", "text": "buy milk"}))
    assert world.log == []  # dropped copy: nothing real changed
    copy_ = cell.fork()
    with cell.use(copy_):
        asyncio.run(note.call({"title": "x", "text": "buy milk"}))
    assert cell.try_adopt(copy_)
    assert [r["kind"] for r in world.log] == ["note"]


def test_setting_the_same_value_twice_is_one_effect() -> None:
    world = World()
    world.set_thermostat(23)
    world.set_thermostat(23)
    world.set_alarm("06:30")
    world.set_alarm("6:30 am")
    assert [r["kind"] for r in world.log] == ["thermostat", "alarm"]
