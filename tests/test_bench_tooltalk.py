"""ToolTalk episodes: counts, turns, effect table, executed APIs, ToolTalk's success rule."""

from __future__ import annotations

import itertools
import json
import pickle
import subprocess
import sys
from typing import Any

import pytest

from specagent.agent.records import ToolCallReport
from specagent.bench.datasets import load_dataset
from specagent.bench.datasets import tooltalk as tt
from specagent.bench.episode import TurnRecord
from specagent.clock import VirtualClock
from specagent.executor import ToolExecutor
from specagent.tools import Effect


def report(call_id: int, name: str, arguments: dict[str, Any], result: Any, *,
           status: str = "done", disposition: str = "committed") -> ToolCallReport:
    return ToolCallReport(call_id=call_id, name=name, arguments=arguments, effect=None,
                          status=status, held=False, issued_s=0.0, started_s=0.0,
                          finished_s=0.0, result=result, disposition=disposition)


def as_run(calls: list[ToolCallReport]) -> list[TurnRecord]:
    return [TurnRecord("please", "Done.", "answered", tuple(calls), 1.0)]


def truth(split: str, name: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(api, arguments the agent would pass, recorded outcome) for each ground-truth call."""
    out = []
    for api in tt.find_conversation(split, name).ground_truth():
        arguments = {k: v for k, v in api["request"]["parameters"].items() if k != "session_token"}
        out.append((api["request"]["api_name"], arguments,
                    {"response": api["response"], "exception": api["exception"]}))
    return out


def executed(split: str, name: str,
             calls: list[tuple[str, dict[str, Any]]]) -> list[ToolCallReport]:
    """Run calls on a fresh world, as the agent's tools would, and report them."""
    world = tt.find_conversation(split, name).fresh_world()
    return [
        report(i, api, arguments, json.loads(json.dumps(world.execute(api, arguments))))
        for i, (api, arguments) in enumerate(calls)
    ]


def everything() -> list[tuple[str, str]]:
    return [(e.split, e.id) for split in ("test", "train") for e in tt.load("tooltalk", split)]


# -- episodes ----------------------------------------------------------------------------------


def test_episode_counts_and_split() -> None:
    test, train = tt.load("tooltalk", "test"), tt.load("tooltalk", "train")
    assert (len(test), len(train)) == (50, 28)
    assert all(e.id.endswith("-easy") for e in train)
    assert not any(e.id.endswith("-easy") for e in test)
    assert [e.id for e in test] == sorted(e.id for e in test)  # file-name order, stable
    assert len({e.id for e in test + train}) == 78
    assert [e.id for e in load_dataset("tooltalk", limit=2)] == [e.id for e in test[:2]]


def test_episodes_pickle_for_remote_workers() -> None:
    episode = tt.load("tooltalk")[0]
    twin = pickle.loads(pickle.dumps(episode))
    assert twin.id == episode.id and twin.turns == episode.turns
    assert isinstance(twin.make_env(), tt.ToolTalkEnv)


def test_bad_names_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown ToolTalk variant"):
        tt.load("easy")
    with pytest.raises(ValueError, match="choose train or test"):
        tt.load("tooltalk", "validation")
    with pytest.raises(ValueError, match="no ToolTalk conversation"):
        tt.ToolTalkEnv("test", "no-such-conversation")


def test_user_turns_merge_consecutive_messages_and_drop_trailing_ones() -> None:
    for split, name in everything():
        conversation = tt.find_conversation(split, name)
        roles = [m["role"] for m in conversation.data["conversation"]]
        replies = sum(1 for a, b in itertools.pairwise(roles) if (a, b) == ("user", "assistant"))
        episode = next(e for e in tt.load("tooltalk", split) if e.id == name)
        assert len(episode.turns) == replies
    episode = next(e for e in tt.load("tooltalk") if e.id.startswith("AccountTools-Calendar-"
                                                                      "Weather-RegisterUser-0"))
    messages = tt.find_conversation("test", episode.id).data["conversation"]
    assert episode.turns[0] == f"{messages[0]['text']} {messages[1]['text']}"
    last_user = [m["text"] for m in messages if m["role"] == "user"][-1]
    trailing = tt.find_conversation("test", "golden_conversation_2").data["conversation"][-1]
    assert trailing["role"] == "user"
    assert trailing["text"] not in next(
        e for e in tt.load("tooltalk") if e.id == "golden_conversation_2").turns
    assert last_user in episode.turns  # this one ends on the assistant: nothing dropped


def test_context_carries_toolTalks_user_data() -> None:
    env = next(e for e in tt.load("tooltalk") if e.id == "golden_conversation_2").make_env()
    meta = tt.find_conversation("test", "golden_conversation_2").metadata
    assert meta["location"] in env.context() and meta["timestamp"] in env.context()


def test_apis_load_without_torch_and_leave_tooltalks_package_alone() -> None:
    code = (
        "import sys; from specagent.bench.datasets import tooltalk as tt; "
        "e = tt.load('tooltalk')[0].make_env(); "
        "print(len(e.toolset), 'torch' in sys.modules, 'transformers' in sys.modules, "
        "'tooltalk.apis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["28", "False", "False", "False"]


# -- effect table ------------------------------------------------------------------------------


def test_effect_table_covers_every_api_and_follows_is_action() -> None:
    classes = tt.tooltalk_package().apis
    assert set(tt.TOOLTALK_EFFECTS) == set(classes) and len(classes) == 28
    for name, cls in classes.items():
        spec = tt.TOOLTALK_EFFECTS[name]
        assert spec.effect is (Effect.IRREVERSIBLE if cls.is_action else Effect.READ_ONLY), name
        assert not spec.sandboxable or cls.is_action
    outbound = {n for n, s in tt.TOOLTALK_EFFECTS.items() if s.effect.changes_state
                and not s.sandboxable}
    assert outbound == {"SendEmail", "SendMessage", "SendVerificationCode"}
    toolset = tt.load("tooltalk")[0].make_env().toolset
    for name, spec in tt.TOOLTALK_EFFECTS.items():
        assert toolset[name].effect is spec.effect and toolset[name].sandboxable is spec.sandboxable
        assert "session_token" not in toolset[name].parameters["properties"]


# -- checker -----------------------------------------------------------------------------------


@pytest.mark.parametrize("results", ["recorded", "executed"])
def test_checker_accepts_the_ground_truth_of_every_conversation(results: str) -> None:
    rejected = []
    for split, name in everything():
        env = tt.ToolTalkEnv(split, name)
        gt = truth(split, name)
        for api, arguments, _ in gt:
            env.toolset[api].validate(arguments)  # the schemas accept the ground truth
        if results == "recorded":
            calls = [report(i, api, args, out) for i, (api, args, out) in enumerate(gt)]
        else:  # run on our copy of ToolTalk's databases: the responses the agent would see
            calls = executed(split, name, [(api, args) for api, args, _ in gt])
        verdict = env.check(as_run(calls))
        if not verdict.passed:
            rejected.append((name, verdict.detail))
    assert rejected == []


def _perturbed(value: Any) -> Any:
    if isinstance(value, str):
        return "zzz unrelated 2023-01-01 00:00:00" if value else "zzz"
    if isinstance(value, list):
        return ["zzz@unrelated.example"]
    return value


def test_checker_rejects_perturbed_runs() -> None:
    extra_counted = 0
    for split, name in everything():
        env = tt.ToolTalkEnv(split, name)
        gt = [(api, args) for api, args, _ in truth(split, name)]
        assert env.check(as_run(executed(split, name, gt))).passed

        missing = gt[:-1]
        assert not env.check(as_run(executed(split, name, missing))).passed, (name, "missing")

        i = next((k for k, (_, args) in enumerate(gt) if any(isinstance(v, (str, list))
                                                             for v in args.values())), None)
        if i is not None:
            api, args = gt[i]
            wrong = [*gt[:i], (api, {k: _perturbed(v) for k, v in args.items()}), *gt[i + 1:]]
            assert not env.check(as_run(executed(split, name, wrong))).passed, (name, "wrong")

        extra = executed(split, name, [*gt, ("AddAlarm", {"time": "04:44:00"})])
        if extra[-1].result["exception"] is None:  # logged in at the end: a successful action
            extra_counted += 1
            verdict = env.check(as_run(extra))
            assert not verdict.passed and "bad actions 1/" in verdict.detail, name
    assert extra_counted >= 60


def test_failed_and_withdrawn_calls_are_predictions_but_never_bad_actions() -> None:
    split, name = "test", "Calendar-Messages-Weather-DeleteEvent-0"
    gt = [(api, args) for api, args, _ in truth(split, name)]
    calls = executed(split, name, gt)
    env = tt.ToolTalkEnv(split, name)
    failed = report(99, "DeleteAlarm", {"alarm_id": "x"}, None, status="failed")
    verdict = env.check(as_run([*calls, failed]))
    assert verdict.passed and "predictions 4" in verdict.detail
    withdrawn = [*calls[:-1], report(9, calls[-1].name, calls[-1].arguments, calls[-1].result,
                                     disposition="cancelled")]
    assert not env.check(as_run(withdrawn)).passed  # the message was never really sent


def test_metrics_follow_toolTalks_definitions() -> None:
    split, name = "test", "Calendar-Messages-Weather-DeleteEvent-0"
    conversation = tt.find_conversation(split, name)
    gt = [(api, args) for api, args, _ in truth(split, name)]
    perfect = tt.tooltalk_metrics(conversation, executed(split, name, gt))
    assert (perfect.precision, perfect.recall, perfect.success, perfect.soft_success) == (
        1.0, 1.0, True, 1.0)
    noisy = tt.tooltalk_metrics(conversation, executed(split, name, [
        *gt, ("AddReminder", {"task": "buy milk"})]))
    assert noisy.bad_actions == 1 and noisy.actions == 3 and not noisy.success
    assert noisy.bad_action_rate == pytest.approx(1 / 3)
    assert noisy.soft_success == pytest.approx(2 / 3)
    assert noisy.precision == pytest.approx(3 / 4)


def test_free_text_is_compared_by_word_overlap_at_toolTalks_thresholds() -> None:
    assert tt.text_similarity("Sorry, I must cancel our meeting.",
                              "sorry i must cancel our meeting") == pytest.approx(1.0)
    assert tt.text_similarity("buy milk", "walk the dog") == 0.0
    assert tt.text_similarity(None, "x") == 0.0
    assert 0.8 < tt.text_similarity("call mom tonight please", "please call mom tonight now") < 1
    classes = tt.tooltalk_package().apis
    sent = {"request": {"api_name": "SendMessage", "parameters": {
        "session_token": "t", "receiver": "bob", "message": "see you at noon tomorrow"}},
        "response": {"message_id": "1"}, "exception": None}
    close = json.loads(json.dumps(sent))
    close["request"]["parameters"]["message"] = "See you tomorrow at noon!"
    far = json.loads(json.dumps(sent))
    far["request"]["parameters"]["message"] = "The report is late."
    assert classes["SendMessage"].check_api_call_correctness(close, sent)
    assert not classes["SendMessage"].check_api_call_correctness(far, sent)


# -- tools through the executor ----------------------------------------------------------------


def test_tools_add_the_session_and_sandboxed_actions_commit_or_vanish() -> None:
    split, name = "test", "Calendar-Messages-Weather-DeleteEvent-0"
    event_id = truth(split, name)[1][1]["event_id"]

    async def main(env: tt.ToolTalkEnv, clock: VirtualClock, withdraw: bool) -> Any:
        async with ToolExecutor(env.toolset, clock, lambda e: None) as ex:
            rec = ex.submit(1, "DeleteEvent", {"event_id": event_id}, sandboxed=True)
            await rec.done
            assert rec.result == {"response": {"status": "success"}, "exception": None}
            if withdraw:
                ex.withdraw(1, "test")
            else:
                ex.commit(1)
            await ex.quiesce()
            return rec

    def events(env: tt.ToolTalkEnv) -> set[str]:
        return set(env.committed_state()["databases"]["Calendar"]["justinkool"])

    kept = tt.ToolTalkEnv(split, name)
    clock = VirtualClock()
    clock.run(main(kept, clock, withdraw=False))
    assert event_id not in events(kept)
    dropped = tt.ToolTalkEnv(split, name)
    clock = VirtualClock()
    clock.run(main(dropped, clock, withdraw=True))
    assert event_id in events(dropped)

    async def send(env: tt.ToolTalkEnv, clock: VirtualClock) -> None:
        async with ToolExecutor(env.toolset, clock, lambda e: None) as ex:
            with pytest.raises(ValueError, match="not sandboxable"):
                ex.submit(1, "SendMessage", {"receiver": "aliciab", "message": "hi"},
                          sandboxed=True)

    clock = VirtualClock()
    clock.run(send(tt.ToolTalkEnv(split, name), clock))


def test_login_state_follows_the_conversation() -> None:
    split, name = "test", "AccountTools-Calendar-Weather-RegisterUser-0"
    conversation = tt.find_conversation(split, name)
    assert "session_token" not in conversation.user
    world = conversation.fresh_world()
    assert world.execute("GetReminders", {}) == {"response": None,
                                                "exception": "User is not logged in"}
    gt = truth(split, name)
    register = next(args for api, args, _ in gt if api == "RegisterUser")
    out = world.execute("RegisterUser", register)
    assert out["exception"] is None and world.session_token == out["response"]["session_token"]
    again = world.execute("UserLogin", {"username": register["username"],
                                        "password": register["password"]})
    assert again["exception"].startswith("Only one user can be logged in at a time.")


# -- end to end through the runner -------------------------------------------------------------


def _plan(split: str, name: str) -> list[list[tuple[str, dict[str, Any]]]]:
    """The ground-truth calls of each played user turn."""
    plan: list[list[tuple[str, dict[str, Any]]]] = []
    waiting = False
    for message in tt.find_conversation(split, name).data["conversation"]:
        if message["role"] == "user":
            waiting = True
        elif waiting:
            waiting = False
            plan.append([
                (api["request"]["api_name"],
                 {k: v for k, v in api["request"]["parameters"].items() if k != "session_token"})
                for api in message.get("apis", [])
            ])
    return plan


@pytest.mark.parametrize("name", ["Calendar-Messages-Weather-DeleteEvent-0",
                                  "AccountTools-Calendar-Weather-RegisterUser-0"])
def test_runner_plays_a_conversation_and_the_checker_passes_the_ground_truth(name: str) -> None:
    """The real runner, sessions and executor on a scripted model that makes each turn's
    ground-truth calls and then answers."""
    from specagent.bench.runner import BenchSettings, EpisodeRun, Worker
    from specagent.models import ScriptedBackend

    plan = _plan("test", name)

    def respond(messages) -> str:
        last = messages[-1].content
        if "<final_query_update>" not in last and "<tool_result" not in last:
            return "<pause/>"
        turn = sum("<final_query_update>" in m.content for m in messages if m.role == "user") - 1
        answered = [i for i, m in enumerate(messages) if "<answer>" in m.content]
        this_turn = messages[answered[-1] + 1:] if answered else messages
        made = sum(m.content.count("<tool_call") for m in this_turn if m.role == "assistant")
        if made == len(plan[turn]):
            return "<answer>Done.</answer>"
        every = sum(m.content.count("<tool_call") for m in messages if m.role == "assistant")
        api, arguments = plan[turn][made]
        body = json.dumps({"name": api, "arguments": arguments})
        return f'<tool_call id="{every + 1}">{body}</tool_call>'

    settings = BenchSettings(model="scripted")
    for policy in ("sync", "speculative"):
        worker = Worker(settings, backend=ScriptedBackend(VirtualClock(), respond))
        outcome = worker.run(EpisodeRun("tooltalk", name, policy))
        assert outcome.error is None, outcome.error
        assert outcome.passed, (policy, outcome.check_detail)
        assert len(outcome.turns) == len(plan)
