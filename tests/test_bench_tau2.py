"""tau2-bench airline and retail episodes: counts, effect tables, checker, scripted user."""

from __future__ import annotations

import copy
import itertools
import json
import pickle
import re
from typing import Any

import pytest

from specagent.agent.records import ToolCallReport
from specagent.bench.datasets import load_dataset, tau2
from specagent.bench.datasets.tau2 import domains as tau2_domains
from specagent.bench.episode import TurnRecord
from specagent.clock import VirtualClock
from specagent.executor import ToolExecutor
from specagent.tools import Effect

DOMAINS = ("airline", "retail")


def report(call_id: int, name: str, arguments: dict[str, Any], *, status: str = "done",
           disposition: str = "committed", result: Any = None) -> ToolCallReport:
    return ToolCallReport(call_id=call_id, name=name, arguments=arguments, effect=None,
                          status=status, held=False, issued_s=0.0, started_s=0.0,
                          finished_s=0.0, result=result, disposition=disposition)


def run(calls: list[tuple[str, dict[str, Any]]], answer: str = "Done.",
        ended: str = "answered") -> list[TurnRecord]:
    reports = tuple(report(i, n, copy.deepcopy(a)) for i, (n, a) in enumerate(calls))
    return [TurnRecord("please", answer, ended, reports, 1.0)]


def task(domain: str, task_id: str) -> Any:
    return tau2.domain_data(domain).tasks[task_id]


def gold(domain: str, task_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(a.name, a.arguments) for a in task(domain, task_id).evaluation_criteria.actions or []]


def communicated(domain: str, task_id: str) -> str:
    infos = task(domain, task_id).evaluation_criteria.communicate_info or []
    return "Here you go: " + "; ".join(infos)


def all_episodes(domain: str):
    return tau2.load(domain, "train") + tau2.load(domain, "test")


# -- episodes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("domain", "train", "test"), [("airline", 30, 20), ("retail", 74, 40)])
def test_episode_counts_follow_the_packages_split(domain: str, train: int, test: int) -> None:
    tr, te = tau2.load(domain, "train"), tau2.load(domain, "test")
    assert (len(tr), len(te)) == (train, test)
    assert {e.split for e in tr} == {"train"} and {e.split for e in te} == {"test"}
    ids = [e.id for e in tr + te]
    assert len(set(ids)) == len(ids) == len(tau2.domain_data(domain).tasks)
    assert [e.id for e in tau2.load(domain, "test")] == [e.id for e in te]  # stable order
    assert all(e.dataset == f"tau2-{domain}" for e in tr + te)
    assert [e.id for e in load_dataset(f"tau2-{domain}", limit=3)] == [e.id for e in te[:3]]


def test_episodes_pickle_for_remote_workers() -> None:
    episode = tau2.load("airline")[0]
    twin = pickle.loads(pickle.dumps(episode))
    assert twin.id == episode.id and twin.turns == episode.turns
    assert isinstance(twin.make_env(), tau2.Tau2Env)
    assert twin.user().next_turn(None) == episode.turns[0]


def test_bad_names_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown tau2 domain 'telecom'"):
        tau2.load("telecom")
    with pytest.raises(ValueError, match="choose train or test"):
        tau2.load("retail", "dev")
    with pytest.raises(ValueError, match="no tau2 retail task"):
        tau2.Tau2Env("retail", "100000")


def test_every_task_is_judged_on_db_and_communication_without_an_llm() -> None:
    for domain in DOMAINS:
        for episode in all_episodes(domain):
            assert episode.meta["reward_basis"] == ["COMMUNICATE", "DB"]
            assert "ground_truth" not in json.dumps(dict(episode.meta))


def test_context_is_the_domain_policy() -> None:
    env = tau2.load("retail")[0].make_env()
    assert "retail" in env.context().lower()
    assert "transfer_to_human_agents" in env.context()
    assert env.context() == tau2.domain_data("retail").policy


# -- effect tables -----------------------------------------------------------------------------


@pytest.mark.parametrize("domain", DOMAINS)
def test_effect_table_covers_every_tool_and_agrees_with_tau2s_marks(domain: str) -> None:
    table = tau2.EFFECT_TABLES[domain]
    dom = tau2.domain_data(domain)
    assert set(table) == set(dom.schemas)
    assert len(table) == {"airline": 14, "retail": 15}[domain]
    for name, kind in dom.tool_types.items():
        spec = table[name]
        if kind == "read":
            assert spec.effect is Effect.READ_ONLY and not spec.sandboxable, name
        elif kind == "write":
            assert spec.effect is Effect.IRREVERSIBLE and spec.sandboxable, name
        else:  # tau2's "generic" tools: arithmetic, and the hand-off to a person
            assert name in ("calculate", "transfer_to_human_agents"), name
    assert table["transfer_to_human_agents"].effect is Effect.IRREVERSIBLE
    assert not table["transfer_to_human_agents"].sandboxable
    toolset = tau2.load(domain)[0].make_env().toolset
    for name, spec in table.items():
        assert toolset[name].effect is spec.effect
        assert toolset[name].sandboxable is spec.sandboxable


@pytest.mark.parametrize("domain", DOMAINS)
def test_read_only_tools_leave_the_db_unchanged(domain: str) -> None:
    """The checker replays only state-changing calls: reads must not touch the DB."""
    dom = tau2.domain_data(domain)
    table = tau2.EFFECT_TABLES[domain]
    toolkit = dom.fresh_toolkit()
    before = tau2.fingerprint(toolkit)
    reads = 0
    for task_id in dom.tasks:
        for name, arguments in gold(domain, task_id):
            if not table[name].effect.changes_state:
                tau2.run_tool(toolkit, name, arguments)
                reads += 1
    assert reads > 50
    assert tau2.fingerprint(toolkit) == before


# -- checker -----------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", DOMAINS)
def test_checker_accepts_the_ground_truth_of_every_task(domain: str) -> None:
    rejected = []
    for episode in all_episodes(domain):
        task_id = episode.meta["task_id"]
        env = episode.make_env()
        for name, arguments in gold(domain, task_id):
            env.toolset[name].validate(arguments)  # the schemas accept the ground truth
        verdict = env.check(run(gold(domain, task_id), communicated(domain, task_id)))
        if not verdict.passed:
            rejected.append((episode.id, verdict.detail))
    assert rejected == []


def _changing_tasks(domain: str, limit: int) -> list[str]:
    """Test tasks whose last ground-truth write really changes the DB."""
    dom = tau2.domain_data(domain)
    out = []
    for episode in tau2.load(domain, "test"):
        writes = dom.writes(gold(domain, episode.meta["task_id"]))
        if writes and (
            dom.state_after(writes, with_hash=False) != dom.state_after(writes[:-1], with_hash=False)
        ):
            out.append(episode.meta["task_id"])
            if len(out) == limit:
                break
    return out


def _extra_write(domain: str) -> tuple[str, dict[str, Any]]:
    user_id = next(iter(tau2.domain_data(domain).fresh_toolkit().db.users))
    if domain == "airline":
        return ("send_certificate", {"user_id": user_id, "amount": 150})
    address = {"address1": "1 Test Road", "address2": "", "city": "Testville", "state": "TX",
               "country": "USA", "zip": "75001"}
    return ("modify_user_address", {"user_id": user_id, **address})


@pytest.mark.parametrize("domain", DOMAINS)
def test_checker_rejects_perturbed_runs(domain: str) -> None:
    chosen = _changing_tasks(domain, 3)
    assert len(chosen) == 3
    for task_id in chosen:
        env = tau2.Tau2Env(domain, task_id)
        calls = gold(domain, task_id)
        said = communicated(domain, task_id)
        last = max(i for i, (n, _) in enumerate(calls) if tau2.EFFECT_TABLES[domain][n].sandboxable)
        assert env.check(run(calls, said)).passed

        name, arguments = calls[last]
        key = next(k for k in sorted(arguments) if k.endswith("_id"))
        wrong = [*calls[:last], (name, {**arguments, key: arguments[key] + "X"}), *calls[last + 1:]]
        assert not env.check(run(wrong, said)).passed, (task_id, "wrong argument")

        missing = calls[:last] + calls[last + 1:]
        assert not env.check(run(missing, said)).passed, (task_id, "missing call")

        extra = [*calls, _extra_write(domain)]
        assert not env.check(run(extra, said)).passed, (task_id, "extra write")

        cut = run(calls, said, ended="context_full")
        assert not env.check(cut).passed, (task_id, "ended early")
        assert "ended early" in env.check(cut).detail

        # A call whose outcome did not stand is not replayed.
        dropped = run(calls, said)
        dropped_calls = list(dropped[0].calls)
        dropped_calls[last] = report(last, name, arguments, disposition="cancelled")
        gone = [TurnRecord("please", said, "answered", tuple(dropped_calls), 1.0)]
        assert not env.check(gone).passed, (task_id, "cancelled call")


def test_checker_needs_the_required_information_in_an_answer() -> None:
    episode = next(
        e for e in tau2.load("retail", "test")
        if task("retail", e.meta["task_id"]).evaluation_criteria.communicate_info
    )
    task_id = episode.meta["task_id"]
    env = episode.make_env()
    infos = task("retail", task_id).evaluation_criteria.communicate_info
    assert env.check(run(gold("retail", task_id), communicated("retail", task_id))).passed
    verdict = env.check(run(gold("retail", task_id), "All done."))
    assert not verdict.passed and "missing" in verdict.detail
    # tau2 drops commas from the answer before looking (so 1,234.56 matches 1234.56).
    with_commas = "Total: " + " ".join(re.sub(r"(\d)(\d{3})\b", r"\1,\2", i) for i in infos)
    assert env.check(run(gold("retail", task_id), with_commas)).passed


def test_db_comparison_falls_back_to_tau2s_own_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the fast fingerprints differ, tau2's key-order-free hash decides."""
    dom = tau2.domain_data("retail")
    task_id = _changing_tasks("retail", 1)[0]
    counter = itertools.count()
    monkeypatch.setattr(tau2_domains, "fingerprint", lambda toolkit: f"unique-{next(counter)}")
    monkeypatch.setattr(dom, "_after", {})
    calls = gold("retail", task_id)
    env = tau2.Tau2Env("retail", task_id)
    said = communicated("retail", task_id)
    assert env.check(run(calls, said)).passed  # equal tau2 hashes
    assert not env.check(run(calls[:-1], said)).passed
    assert next(counter) >= 4  # the fingerprints really were all different


# -- tools through the executor ----------------------------------------------------------------


def test_tools_run_on_the_live_db_and_sandboxed_writes_commit_or_vanish() -> None:
    domain, task_id = "retail", _changing_tasks("retail", 1)[0]
    calls = gold(domain, task_id)

    async def main(env: tau2.Tau2Env, clock: VirtualClock, withdraw: bool) -> list[TurnRecord]:
        reports = []
        ids = itertools.count(1)
        async with ToolExecutor(env.toolset, clock, lambda e: None) as ex:
            for name, arguments in calls:
                tool = env.toolset[name]
                call_id = next(ids)
                rec = ex.submit(call_id, name, arguments, sandboxed=tool.sandboxable)
                await rec.done
                assert rec.status.value == "done", rec.error
                if withdraw and tool.sandboxable:
                    ex.withdraw(call_id, "test")
                else:
                    ex.commit(call_id)
                await ex.quiesce()
                reports.append(report(call_id, name, rec.arguments, result=rec.result,
                                      disposition=rec.disposition.value))
        return [TurnRecord("please", communicated(domain, task_id), "answered",
                           tuple(reports), 1.0)]

    initial = tau2.Tau2Env(domain, task_id).committed_state()
    env = tau2.Tau2Env(domain, task_id)
    clock = VirtualClock()
    turns = clock.run(main(env, clock, withdraw=False))
    assert env.check(turns).passed
    assert env.committed_state() != initial
    assert env.committed_state()["db"] == tau2.domain_data(domain).state_after(
        tau2.domain_data(domain).writes(calls), with_hash=False)[0]

    withdrawn = tau2.Tau2Env(domain, task_id)
    clock = VirtualClock()
    turns = clock.run(main(withdrawn, clock, withdraw=True))
    assert withdrawn.committed_state() == initial  # nothing real changed
    assert not withdrawn.check(turns).passed


def test_a_refused_call_returns_taus_error_text() -> None:
    env = tau2.load("airline")[0].make_env()

    async def main() -> Any:
        return await env.toolset["get_reservation_details"].call({"reservation_id": "NOPE00"})

    assert VirtualClock().run(main()) == "Error: Reservation NOPE00 not found"


# -- scripted user -----------------------------------------------------------------------------


def _play(user: Any, answers: list[str | None]) -> list[str]:
    said = []
    previous: str | None = None
    for answer in [*answers, *[None] * 10]:
        turn = user.next_turn(previous)
        if turn is None:
            break
        said.append(turn)
        previous = answer
    return said


ANSWERS = [
    "How can I help? Could you give me your user id or email to verify?",
    "Thanks. What would you like to do?",
    "I found the order. Shall I proceed? Please confirm (yes/no).",
    "Here are the details. Would you like me to go ahead?",
    "Done. Do you want anything else? Please confirm.",
    "Is there anything else?",
]


def test_scripted_user_follows_its_rule_deterministically() -> None:
    for domain in DOMAINS:
        for episode in all_episodes(domain):
            said = _play(episode.user(), ANSWERS)
            assert said == _play(episode.user(), ANSWERS)  # same answers, same turns
            assert tuple(said[: len(episode.turns)]) == episode.turns
            assert episode.turns[-1] == tau2.CONFIRMATION
            assert len(said) <= len(episode.turns) + 2
            assert _play(episode.user(), []) == list(episode.turns)  # no answers: the script


def test_scripted_user_reveals_reason_then_identity_then_details() -> None:
    scenario = tau2.UserScenario.from_task(task("airline", "0"))
    turns = tau2.script_for(scenario)
    assert turns == [
        "I want to cancel reservation EHGLP3.",
        "I am Emma Kim. My user id is emma_kim_9957.",
        (
            "It may be more than 24 hours after booking, but it is ok because I was out of "
            "town for that time."
        ),
        (
            "If you tell me that cancellation is not possible, mention that I was told that I "
            "didn't need to get insurance because my previous trip was booked with the same "
            "agency with insurance. I don't want to cancel if I don't get a refund."
        ),
        "Yes, please go ahead.",
    ]


def test_scripted_user_stops_on_transfer_and_after_unanswered_script() -> None:
    user = tau2.load("retail")[0].user()
    assert user.next_turn(None) is not None
    assert user.next_turn("I could transfer you to a human agent if needed.") is not None
    assert user.next_turn("YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON.") is None
    assert user.next_turn("Shall I proceed?") is None  # over for good
    user = tau2.load("retail")[0].user()
    _play(user, ["ok"] * 20)
    assert user.next_turn("Would you like me to proceed?") is None  # already ended


def test_scripted_user_never_leaks_the_ground_truth() -> None:
    for domain in DOMAINS:
        tools = {n for n in tau2.EFFECT_TABLES[domain] if "_" in n}  # "calculate" is English
        for episode in all_episodes(domain):
            t = task(domain, episode.meta["task_id"])
            scenario = json.dumps(t.user_scenario.model_dump(), ensure_ascii=False).lower()
            said = " ".join(_play(episode.user(), ANSWERS)).lower()
            assert not any(name in said for name in tools), episode.id
            for _, arguments in gold(domain, episode.meta["task_id"]):
                for value in _strings(arguments):
                    if len(value) >= 5 and value.lower() in said:
                        assert value.lower() in scenario, (episode.id, value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_scripted_user_is_built_from_the_scenario_alone() -> None:
    t = task("retail", "0")
    scrubbed = t.model_copy(update={"evaluation_criteria": None})
    assert tau2.script_for(tau2.UserScenario.from_task(scrubbed)) == tau2.script_for(
        tau2.UserScenario.from_task(t)
    )


@pytest.mark.parametrize(
    ("scenario", "spoken"),
    [
        ("You want to cancel your order.", "I want to cancel my order."),
        ("If the agent says no, you are fine with it.", "If you say no, I am fine with it."),
        ("Agent's offer is too low, so you're upset.", "Your offer is too low, so I'm upset."),
        ("Tell the agent that you were told otherwise.", "Tell you that I was told otherwise."),
        ("You do not remember your email address", "I do not remember my email address."),
    ],
)
def test_scenario_sentences_are_spoken_in_first_person(scenario: str, spoken: str) -> None:
    assert " ".join(tau2.first_person(s) for s in tau2.sentences(scenario)) == spoken


# -- end to end through the runner -------------------------------------------------------------


def test_runner_plays_a_task_and_the_checker_passes_the_ground_truth() -> None:
    """The real runner, sessions and executor on a scripted model that knows the answer: the
    ground-truth calls in the confirmation turn, then the required information."""
    from specagent.bench.runner import BenchSettings, EpisodeRun, Worker
    from specagent.models import ScriptedBackend

    domain = "retail"
    episode = next(
        e for e in tau2.load(domain, "test")
        if task(domain, e.meta["task_id"]).evaluation_criteria.communicate_info
        and tau2.domain_data(domain).writes(gold(domain, e.meta["task_id"]))
    )
    # A session does not run the same call twice, so a repeated read is made once.
    calls, seen = [], set()
    for call in gold(domain, episode.meta["task_id"]):
        key = json.dumps(call, sort_keys=True)
        if key not in seen:
            seen.add(key)
            calls.append(call)
    info = communicated(domain, episode.meta["task_id"])

    def respond(messages) -> str:
        last = messages[-1].content
        if "<final_query_update>" not in last and "<tool_result" not in last:
            return "<pause/>"
        answered = [i for i, m in enumerate(messages) if "<answer>" in m.content]
        this_turn = messages[answered[-1] + 1:] if answered else messages
        said = " ".join(m.content for m in this_turn if m.role == "user")
        words = " ".join(re.sub(r"<[^>]+>", " ", said).split())  # partial updates joined
        if tau2.CONFIRMATION not in words:
            return "<answer>Noted.</answer>"
        made = sum(m.content.count("<tool_call") for m in this_turn if m.role == "assistant")
        if made == len(calls):
            return f"<answer>{info}</answer>"
        every = sum(m.content.count("<tool_call") for m in messages if m.role == "assistant")
        name, arguments = calls[made]
        body = json.dumps({"name": name, "arguments": arguments})
        return f'<tool_call id="{every + 1}">{body}</tool_call>'

    settings = BenchSettings(model="scripted")
    for policy in ("sync", "speculative"):
        worker = Worker(settings, backend=ScriptedBackend(VirtualClock(), respond))
        outcome = worker.run(EpisodeRun(f"tau2-{domain}", episode.id, policy))
        assert outcome.error is None, outcome.error
        assert outcome.passed, (policy, outcome.check_detail)
        assert len(outcome.turns) == len(episode.turns)
