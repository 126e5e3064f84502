"""The benchmark harness end to end on a scripted model: episodes, runner, store, metrics, reports.

The scripted model answers from the context (it looks things up once the request is final, then
answers), so the runs exercise the real runner, sessions, tools and checkers without a real
model; no figure is reported from these tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specagent.agent import Policy
from specagent.bench.datasets import UnknownDataset, load_dataset
from specagent.bench.datasets.jsonl import EpisodeFormatError, parse_lines
from specagent.bench.metrics import bootstrap, percentile, summarise
from specagent.bench.report import build_results, write_csv, write_results
from specagent.bench.runner import BenchSettings, EpisodeOutcome, EpisodeRun, Worker
from specagent.bench.store import ResultStore
from specagent.bench.suite import plan_runs, run_bench
from specagent.clock import VirtualClock
from specagent.models import ScriptedBackend
from specagent.speech import simulate_natural_speech
from specagent.speech.naturalistic import naturalise

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "effect": "read_only",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
    "returns": {"sky": "sunny", "temp_c": 21},
}
BOOK_TOOL = {
    "name": "book_table",
    "description": "Book a table.",
    "effect": "irreversible",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "people": {"type": "integer"}},
        "required": ["city", "people"],
    },
    "returns": {"ok": True},
}


def _line(**fields) -> str:
    base = {"tools": [WEATHER_TOOL, BOOK_TOOL]}
    base.update(fields)
    return json.dumps(base)


EPISODES = [
    _line(
        id="weather",
        turns=["What is the weather like in Paris today?"],
        expected_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}],
        answer_contains=["sunny"],
    ),
    _line(
        id="two-turns",
        turns=["What is the weather like in Paris today?", "Then book a table for 2 in Paris"],
        expected_calls=[
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "book_table", "arguments": {"city": "Paris", "people": 2}},
        ],
    ),
    _line(
        id="wrong",
        turns=["What is the weather like in Paris today?"],
        expected_calls=[{"name": "get_weather", "arguments": {"city": "Rome"}}],
    ),
]


def _respond(messages) -> str:
    """Call a tool for the newest final request, answer once its result is in."""
    last = messages[-1].content
    if "<tool_result" in last:
        return "<answer>It is sunny, all done.</answer>"
    if "<final_query_update>" not in last:
        return "<pause/>"
    answered = [i for i, m in enumerate(messages) if "<answer>" in m.content]
    this_turn = messages[answered[-1] + 1 :] if answered else messages
    said = " ".join(m.content for m in this_turn if m.role == "user")
    mine = " ".join(m.content for m in messages if m.role == "assistant")
    next_id = 1 + len(re.findall(r"<tool_call", mine))
    if "table for 2" in said:
        call = {"name": "book_table", "arguments": {"city": "Paris", "people": 2}}
    else:
        call = {"name": "get_weather", "arguments": {"city": "Paris"}}
    return f'<tool_call id="{next_id}">{json.dumps(call)}</tool_call>'


@pytest.fixture
def episode_file(tmp_path: Path) -> Path:
    path = tmp_path / "episodes.jsonl"
    path.write_text("# my episodes\n" + "\n".join(EPISODES) + "\n", encoding="utf-8")
    return path


def _worker(settings: BenchSettings) -> Worker:
    return Worker(settings, backend=ScriptedBackend(VirtualClock(), _respond))


def _run(settings: BenchSettings, dataset: str, store_path: Path, policies=("sync", "async")):
    runs = plan_runs([dataset], list(policies), limit=None)
    with ResultStore(store_path, settings.key(), settings.to_json()) as store:
        return runs, run_bench(settings, runs, store, worker=_worker(settings))


# -- episode files ----------------------------------------------------------------------------


def test_jsonl_episodes_load_with_their_split(episode_file: Path) -> None:
    episodes = load_dataset(f"jsonl:{episode_file}")
    assert [e.id for e in episodes] == ["weather", "two-turns", "wrong"]
    assert episodes[1].turns[1] == "Then book a table for 2 in Paris"
    assert load_dataset(f"jsonl:{episode_file}", split="train") == []
    assert len(load_dataset(f"jsonl:{episode_file}", limit=2)) == 2


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "1:"),
        (json.dumps({"id": "a", "turns": ["hi"]}), "exactly one of 'tools'"),
        (json.dumps({"id": "a", "turns": [], "tools": []}), "turns"),
        (json.dumps({"id": "a", "turns": ["hi"], "env": "no_such_module_x:f"}), "cannot load env"),
        (
            json.dumps({"id": "a", "turns": ["hi"], "tools": [{"name": "t", "parameters": 3}]}),
            "parameters",
        ),
    ],
)
def test_bad_episode_lines_name_the_line(line: str, message: str) -> None:
    with pytest.raises(EpisodeFormatError, match=message):
        parse_lines([line], source="f.jsonl")


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(EpisodeFormatError, match="duplicate"):
        parse_lines([EPISODES[0], EPISODES[0]])


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(UnknownDataset, match="bfcl-multi-turn"):
        load_dataset("no-such-benchmark")


def test_missing_episode_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="episode file not found"):
        load_dataset(f"jsonl:{tmp_path / 'absent.jsonl'}")


# -- running ----------------------------------------------------------------------------------


def test_runs_are_checked_timed_and_multi_turn(episode_file: Path, tmp_path: Path) -> None:
    settings = BenchSettings(model="scripted")
    runs, outcomes = _run(settings, f"jsonl:{episode_file}", tmp_path / "r.sqlite")
    assert len(outcomes) == len(runs) == 6
    by = {(o.episode_id, o.policy): o for o in outcomes}
    for policy in ("sync", "async"):
        assert by[("weather", policy)].passed, by[("weather", policy)].check_detail
        assert by[("two-turns", policy)].passed, by[("two-turns", policy)].check_detail
        assert not by[("wrong", policy)].passed
        assert "missing" in by[("wrong", policy)].check_detail
        two = by[("two-turns", policy)]
        assert len(two.turns) == 2 and all(t.latency_s is not None for t in two.turns)
        assert [c["id"] for t in two.turns for c in t.calls] == [1, 2]
        assert by[("weather", policy)].latency_s > 0
        assert any(row["lane"] == "user" for row in two.timeline)
    # async hears the request while it is spoken, so it cannot be slower here
    assert by[("weather", "async")].latency_s <= by[("weather", "sync")].latency_s


def test_same_seed_same_results(episode_file: Path, tmp_path: Path) -> None:
    settings = BenchSettings(model="scripted", seed=7, speech="naturalistic")

    def strip(outcomes: list[EpisodeOutcome]) -> list[dict]:
        return [{**o.to_json(), "wall_s": 0} for o in outcomes]

    _, first = _run(settings, f"jsonl:{episode_file}", tmp_path / "a.sqlite")
    _, second = _run(settings, f"jsonl:{episode_file}", tmp_path / "b.sqlite")
    assert strip(first) == strip(second)
    _, other_seed = _run(
        BenchSettings(model="scripted", seed=8, speech="naturalistic"),
        f"jsonl:{episode_file}",
        tmp_path / "c.sqlite",
    )
    assert [o.latency_s for o in other_seed] != [o.latency_s for o in first]


def test_an_interrupted_benchmark_resumes_without_rerunning(
    episode_file: Path, tmp_path: Path
) -> None:
    settings = BenchSettings(model="scripted")
    store_path = tmp_path / "r.sqlite"
    runs = plan_runs([f"jsonl:{episode_file}"], ["sync", "async"], limit=None)
    with ResultStore(store_path, settings.key(), settings.to_json()) as store:
        run_bench(settings, runs[:3], store, worker=_worker(settings))

    class Refuses(ScriptedBackend):
        calls = 0

        def stream(self, request):
            Refuses.calls += 1
            return super().stream(request)

    worker = Worker(settings, backend=Refuses(VirtualClock(), _respond))
    seen = []
    with ResultStore(store_path, settings.key(), settings.to_json()) as store:
        outcomes = run_bench(settings, runs, store, worker=worker, on_progress=seen.append)
    assert [p.reused for p in seen] == [True] * 3 + [False] * 3
    assert len(outcomes) == 6
    generations_for_three = Refuses.calls
    # a different seed is a different benchmark: nothing is reused
    other = BenchSettings(model="scripted", seed=1)
    with ResultStore(store_path, other.key(), other.to_json()) as store:
        assert store.done() == set()
    assert generations_for_three > 0


def test_a_crashing_episode_is_recorded_and_the_rest_run(tmp_path: Path) -> None:
    bad = json.dumps(
        {"id": "bad-env", "turns": ["hello there"], "env": "specagent.bench.runner:BenchSettings"}
    )
    path = tmp_path / "e.jsonl"
    path.write_text(bad + "\n" + EPISODES[0] + "\n", encoding="utf-8")
    settings = BenchSettings(model="scripted")
    _, outcomes = _run(settings, f"jsonl:{path}", tmp_path / "r.sqlite", policies=("sync",))
    assert outcomes[0].error is not None and "EpisodeEnv" in outcomes[0].error
    assert not outcomes[0].passed
    assert outcomes[1].passed
    with ResultStore(tmp_path / "r.sqlite", settings.key(), settings.to_json()) as store:
        assert EpisodeRun(f"jsonl:{path}", "bad-env", "sync") not in store.done()


def test_assistant_dataset_has_its_splits_and_the_main_job_subset() -> None:
    test, train = load_dataset("assistant"), load_dataset("assistant", split="train")
    assert len(test) >= 120 and train
    assert not {e.id for e in test} & {e.id for e in train}
    env = test[0].make_env()
    assert "reserve_table" in env.toolset and "send_message" in env.toolset
    assert not env.check([]).passed
    quick = load_dataset("assistant-quick")
    assert len(quick) >= 8 and {e.id for e in quick} <= {e.id for e in test}
    assert load_dataset("assistant-quick", split="train") == []


# -- metrics and reports ----------------------------------------------------------------------


def _outcome(episode: str, policy: str, latency: float | None, passed: bool) -> EpisodeOutcome:
    return EpisodeOutcome(
        dataset="d",
        episode_id=episode,
        policy=policy,
        passed=passed,
        check_detail="",
        latency_s=latency,
        first_token_latency_s=latency,
        turns=[],
        tokens_generated=10 if policy == "sync" else 14,
        protocol_errors=0,
        calls_issued=1,
        calls_run_early=0 if policy == "sync" else 1,
        calls_wasted=0,
        calls_compensated=0,
        calls_held=0,
        committed_state=None,
        timeline=[],
        wall_s=0.0,
    )


def test_speedup_pairs_episodes_and_reports_both_forms() -> None:
    outcomes = [
        _outcome("a", "sync", 4.0, True),
        _outcome("b", "sync", 2.0, True),
        _outcome("c", "sync", 3.0, False),
        _outcome("a", "async", 1.0, True),
        _outcome("b", "async", 2.0, False),
        _outcome("c", "async", None, False),  # unanswered: not paired
    ]
    metrics = summarise(outcomes)
    assert metrics["sync"].speedup_vs_sync == 1.0
    a = metrics["async"]
    assert a.paired_episodes == 2
    assert a.speedup_vs_sync == pytest.approx((4.0 + 2.0) / (1.0 + 2.0))
    assert a.median_speedup_vs_sync == pytest.approx((4.0 + 1.0) / 2)
    assert a.accuracy == pytest.approx(1 / 3, abs=1e-4)
    assert a.answered == 2 and a.episodes == 3
    assert a.extra_tokens_vs_sync == 12
    assert a.mean_latency_s == pytest.approx(1.5)


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    first = bootstrap(values, lambda s: sum(s) / len(s), seed=3)
    assert first == bootstrap(values, lambda s: sum(s) / len(s), seed=3)
    assert first is not None and first.low <= 4.0 <= first.high
    assert bootstrap([1.0], lambda s: s[0]) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_results_json_has_the_documented_fields(tmp_path: Path) -> None:
    outcomes = [_outcome("a", "sync", 4.0, True), _outcome("a", "speculative", 2.0, True)]
    settings = BenchSettings(model="scripted")
    results = build_results(
        settings, ["d"], ["sync", "speculative"], outcomes, command="x", wall_s=1.0, limit=None
    )
    path = write_results(results, tmp_path)
    data = json.loads(path.read_text())
    spec = data["policies"]["speculative"]
    assert spec["accuracy"] == 1.0
    assert spec["mean_latency_s"] == 2.0
    assert spec["speedup_vs_sync"] == 2.0
    assert data["by_dataset"]["d"]["episodes"] == 1
    assert data["schema"] == "specagent.bench/1"
    assert write_csv(outcomes, tmp_path).read_text().count("\n") == 3


# -- speech -----------------------------------------------------------------------------------


def test_naturalistic_speech_is_deterministic_and_keeps_the_last_number() -> None:
    text = "Book a table for 2 at 8 in Paris"
    first = simulate_natural_speech(text, seed=5)
    assert first == simulate_natural_speech(text, seed=5)
    assert first[-1].final and not any(c.final for c in first[:-1])
    assert [c.t for c in first] == sorted(c.t for c in first)
    spoken = [w.text for w in naturalise(text, seed=5)]
    numbers = [w.rstrip(",") for w in spoken if w.rstrip(",").isdigit()]
    # every corrected number is followed by the right one: the last two said are 2 and 8
    assert [n for n in numbers if n in {"2", "8"}][-2:] == ["2", "8"]
    assert any(
        simulate_natural_speech(text, seed=s) != simulate_natural_speech(text, seed=0)
        for s in range(1, 5)
    )


# -- command line -----------------------------------------------------------------------------


def test_cli_rejects_bad_options_clearly(tmp_path: Path) -> None:
    from specagent.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["bench", "--policies", "sync,fast", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown policy" in result.output
    result = runner.invoke(app, ["bench", "--dataset", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown dataset" in result.output
    result = runner.invoke(app, ["bench", "--tool-latency", "2,1", "--out", str(tmp_path)])
    assert result.exit_code == 2
    result = runner.invoke(app, ["bench", "--list"])
    assert result.exit_code == 0 and "tau2-retail" in result.output


def test_verified_runs_report_their_draft_tokens(episode_file: Path, tmp_path: Path) -> None:
    def eager(messages) -> str:
        """Like ``_respond``, but guesses the Paris lookup as soon as weather is mentioned
        (Paris itself comes with the final words), so the speculator leaves a draft."""
        last = messages[-1].content
        if (
            "weather" in last
            and "<final_query_update>" not in last
            and "<tool_call" not in " ".join(m.content for m in messages if m.role == "assistant")
        ):
            return '<tool_call id="1">{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
        return _respond(messages)

    settings = BenchSettings(model="scripted")
    runs = plan_runs([f"jsonl:{episode_file}"], ["sync", "verified"], limit=None)
    worker = Worker(settings, backend=ScriptedBackend(VirtualClock(), eager, verify_s=0.001))
    with ResultStore(tmp_path / "v.sqlite", settings.key(), settings.to_json()) as store:
        outcomes = run_bench(settings, runs, store, worker=worker)
    by = {(o.episode_id, o.policy): o for o in outcomes}
    assert by[("weather", "verified")].passed
    assert by[("weather", "sync")].draft_tokens == 0
    verified = by[("weather", "verified")]
    assert 0 < verified.draft_tokens_kept <= verified.draft_tokens
    metrics = summarise(outcomes)
    assert metrics["verified"].draft_tokens == sum(
        o.draft_tokens for o in outcomes if o.policy == "verified"
    )
    assert metrics["sync"].draft_tokens == 0


def test_a_draft_model_serves_sync_draft_and_verified(episode_file: Path, tmp_path: Path) -> None:
    """--draft-model: sync-draft decodes with it (same answers as sync, its draft tokens
    counted); verified guesses with it; the speculator's reads are counted by name."""
    settings = BenchSettings(model="scripted", draft_model="scripted-drafter")
    runs = plan_runs([f"jsonl:{episode_file}"], ["sync", "sync-draft", "verified"], limit=None)
    main = ScriptedBackend(VirtualClock(), _respond, verify_s=0.001)
    drafter = ScriptedBackend(VirtualClock(), _respond, ttft_s=0.01, token_s=0.005)
    worker = Worker(settings, backend=main, draft_backend=drafter)
    with ResultStore(tmp_path / "d.sqlite", settings.key(), settings.to_json()) as store:
        outcomes = run_bench(settings, runs, store, worker=worker)
    by = {(o.episode_id, o.policy): o for o in outcomes}
    for (episode, policy), outcome in by.items():
        assert outcome.error is None, outcome.error
        assert outcome.passed == by[(episode, "sync")].passed
    drafted = [o for o in outcomes if o.policy == "sync-draft"]
    assert sum(o.draft_tokens_kept for o in drafted) > 0
    assert all(o.speculator_calls >= o.reads_joined for o in outcomes)
    with pytest.raises(ValueError, match="draft"):
        Worker(BenchSettings(model="scripted"), backend=main)._draft_on(
            VirtualClock(), main, Policy.SYNC_DRAFT
        )


def test_a_run_can_be_narrowed_to_named_episodes() -> None:
    everything = plan_runs(["assistant"], ["sync"], limit=None, split="train")
    ids = [everything[5].episode_id, everything[2].episode_id]
    runs = plan_runs(
        ["assistant"], ["sync", "verified"], limit=None, split="train", episode_ids=ids
    )
    # dataset order, policies inner; only the episodes named
    assert [(r.episode_id, r.policy) for r in runs] == [
        (ids[1], "sync"),
        (ids[1], "verified"),
        (ids[0], "sync"),
        (ids[0], "verified"),
    ]
    with pytest.raises(ValueError, match="no episode nope-00"):
        plan_runs(["assistant"], ["sync"], limit=None, split="train", episode_ids=["nope-00"])
