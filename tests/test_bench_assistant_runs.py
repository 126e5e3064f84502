"""Assistant episodes played through the real runner (scripted model), the result store's code
versions, and the main job's table, verdicts and bad-input messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from specagent.bench.datasets import load_dataset
from specagent.bench.datasets.assistant.episodes import all_specs
from specagent.bench.datasets.assistant.drafting import REF
from specagent.bench.datasets.assistant.ground_truth import expert_answers
from specagent.bench.datasets.assistant.spec import Call
from specagent.bench.metrics import by_category, summarise
from specagent.bench.report import build_results, print_summary, verdicts, write_csv
from specagent.bench.runner import BenchSettings, EpisodeOutcome, EpisodeRun, Worker
from specagent.bench.store import ResultStore, code_version
from specagent.bench.suite import run_bench
from specagent.clock import VirtualClock
from specagent.models import ScriptedBackend

SPECS = {s.id: s for s in all_specs()}


def _expert(extra: dict[str, Call] | None = None):
    """A scripted model that makes each turn's ground-truth calls, one per generation, then
    gives the expert answer; ``extra`` adds, per episode id, a state-changing call nobody asked
    for (with values the run has seen, so the runtime's grounding guard lets it through)."""

    def respond(messages) -> str:
        last = messages[-1].content
        if "<final_query_update>" not in last and "<tool_result" not in last:
            return "<pause/>"
        said = "".join(m.content for m in messages if m.role == "user")
        updates = re.findall(
            r"<(partial|final)_query_update>(.*?)</\1_query_update>", said, re.DOTALL
        )
        first_turn = []
        for kind, text in updates:
            first_turn.append(text.strip())
            if kind == "final":
                break
        heard = " ".join(" ".join(first_turn).split())
        spec = next(s for s in SPECS.values() if " ".join(s.turns[0].text.split()) == heard)
        turn_index = sum(kind == "final" for kind, _ in updates) - 1
        answered = [i for i, m in enumerate(messages) if "<answer>" in m.content]
        this_turn = messages[answered[-1] + 1 :] if answered else messages
        made = sum(m.content.count("<tool_call") for m in this_turn if m.role == "assistant")
        calls = list(spec.turns[turn_index].calls)
        if extra and spec.id in extra and turn_index == 0:
            calls.append(extra[spec.id])
        next_id = 1 + sum(m.content.count("<tool_call") for m in messages if m.role == "assistant")
        if made < len(calls):
            call = calls[made]
            body = json.dumps({"name": call.name, "arguments": dict(call.arguments)})
            return f'<tool_call id="{next_id}">{body}</tool_call>'
        return f"<answer>{expert_answers(spec)[turn_index]}</answer>"

    return respond


def _play(ids: list[str], policies: list[str], tmp_path: Path, respond) -> list[EpisodeOutcome]:
    settings = BenchSettings(model="scripted")
    runs = [EpisodeRun("assistant", i, p) for i in ids for p in policies]
    worker = Worker(settings, backend=ScriptedBackend(VirtualClock(), respond))
    with ResultStore(tmp_path / "r.sqlite", settings.key(), settings.to_json(), code="t") as store:
        return run_bench(settings, runs, store, worker=worker)


CASES = ["hw-59", "restaurant-reserve-00", "mt-thermostat-change-00", "two-cities-00", "hw-32"]


def test_expert_runs_pass_with_no_unrequested_calls_under_every_policy(tmp_path: Path) -> None:
    outcomes = _play(CASES, ["sync", "async", "speculative", "oracle"], tmp_path, _expert())
    assert len(outcomes) == len(CASES) * 4
    for o in outcomes:
        assert o.passed, (o.episode_id, o.policy, o.check_detail)
        assert o.unrequested_calls == 0
        assert o.category == SPECS[o.episode_id].category
    metrics = summarise(outcomes)
    assert (
        metrics["speculative"].same_as_sync == len(CASES) == metrics["speculative"].same_as_sync_of
    )
    assert metrics["sync"].unrequested_calls == 0
    assert by_category(outcomes)["chain"]["sync"]["passed"] >= 2


def test_an_extra_send_fails_the_run_and_is_counted_per_policy(tmp_path: Path) -> None:
    other = REF.search_flights("Boston", "New York", "2026-06-03")["flights"]
    booked = SPECS["hw-29"].calls[1].arguments["flight_number"]
    second = next(f["flight_number"] for f in other if f["flight_number"] != booked)
    extra = {
        "hw-29": Call("book_flight", {"flight_number": second}),
        "contact-00": Call("send_message", {"to": "Ben Okafor", "text": "617-555-0110"}),
    }
    outcomes = _play(["hw-29", "contact-00"], ["sync", "speculative"], tmp_path, _expert(extra))
    for o in outcomes:
        kind = "flight" if o.episode_id == "hw-29" else "message"
        assert not o.passed and f"unrequested {kind}" in o.check_detail, o.check_detail
        assert o.unrequested_calls == 1
    metrics = summarise(outcomes)
    assert metrics["sync"].unrequested_calls == 2 and metrics["speculative"].unrequested_calls == 2
    path = write_csv(outcomes, tmp_path)
    assert "unrequested_calls" in path.read_text().splitlines()[0]


# -- result store: code versions -----------------------------------------------------------


def _outcome(policy: str = "sync", passed: bool = True, latency: float = 2.0) -> EpisodeOutcome:
    return EpisodeOutcome(
        dataset="d", episode_id="e", policy=policy, passed=passed, check_detail="", latency_s=latency,
        first_token_latency_s=latency, turns=[], tokens_generated=1, protocol_errors=0, calls_issued=0,
        calls_run_early=0, calls_wasted=0, calls_compensated=0, calls_held=0, committed_state=None,
        timeline=[], wall_s=0.0,
    )  # fmt: skip


def test_rows_of_other_code_versions_are_never_reused(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    run = EpisodeRun("d", "e", "sync")
    with ResultStore(db, "k", {}, code="v1", command="specagent bench --first") as store:
        store.save(_outcome())
        assert run in store.done()
    with ResultStore(db, "k", {}, code="v2") as store:
        assert store.done() == set() and store.load([run]) == []
        assert store.other_code_rows("k") == 1
    with ResultStore(db, "k", {}, code="v1", command="again") as store:
        reused = store.reused([run])
        assert [(r.count, r.run_id, r.command) for r in reused] == [
            (1, 1, "specagent bench --first")
        ]
    assert re.fullmatch(r"[0-9a-f]{12}", code_version())


def test_a_store_written_before_runs_were_recorded_still_opens(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE outcomes (settings_key TEXT NOT NULL, dataset TEXT NOT NULL, episode_id TEXT NOT NULL,"
        " policy TEXT NOT NULL, outcome TEXT NOT NULL, crashed INTEGER NOT NULL,"
        " PRIMARY KEY (settings_key, dataset, episode_id, policy));"
        "INSERT INTO outcomes VALUES ('k', 'd', 'e', 'sync', '{}', 0);"
    )
    con.commit()
    con.close()
    with ResultStore(db, "k", {}, code="v1") as store:
        assert store.done() == set()  # the old row has no code version: not reused
        store.save(_outcome())
        assert store.done() == {EpisodeRun("d", "e", "sync")}


# -- the main job's table and verdicts -------------------------------------------------------


def test_the_summary_fits_100_columns_and_the_verdicts_say_what_happened() -> None:
    outcomes = [
        _outcome("sync", True, 4.0),
        _outcome("verified", True, 3.0),
        _outcome("speculative", False, 1.0),
        _outcome("async", True, 8.0),
        _outcome("oracle", True, 4.001),
    ]
    metrics = summarise(outcomes)
    console = Console(width=100, record=True)
    print_summary(console, "assistant-quick (1 episodes, profile measured)", metrics)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    for word in ("accuracy", "speedup", "pass/fail", "unrequested"):
        assert word in text
    lines = verdicts(metrics)
    assert lines[0].startswith("sync: the baseline, 1/1 right")
    assert "verified: same answers as sync on 1/1, 1.33x faster" in lines[1]
    assert (
        "speculative: 0/1 right against sync's 1/1, same pass/fail on 0/1, 4.00x faster" in lines[2]
    )
    assert "async: same answers as sync on 1/1, 2.00x slower" in lines[3]
    assert "oracle: same answers as sync on 1/1, as fast (1.00x)" in lines[4]


def test_results_say_which_code_made_them_and_what_was_reused() -> None:
    outcomes = [_outcome("sync"), _outcome("verified")]
    results = build_results(
        BenchSettings(model="scripted"), ["d"], ["sync", "verified"], outcomes, command="x", wall_s=1.0,
        limit=None, split="test", code={"hash": "abc", "git": None},
        reused=[{"count": 2, "run_id": 1, "started": "t", "command": "c"}],
    )  # fmt: skip
    assert results["code_version"] == {"hash": "abc", "git": None}
    assert results["reused_rows"][0]["count"] == 2 and results["split"] == "test"
    assert results["policies"]["verified"]["same_as_sync"] == 1


# -- bad input -------------------------------------------------------------------------------


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_bad_dataset_profile_or_split_gets_one_line_naming_the_known_ones(tmp_path: Path) -> None:
    from specagent.cli import app

    runner = CliRunner()
    line = _one_line_error(
        runner.invoke(app, ["bench", "--dataset", "assistant-x", "--out", str(tmp_path)])
    )
    assert "unknown dataset" in line and "assistant-quick" in line
    line = _one_line_error(
        runner.invoke(app, ["bench", "--profile", "gpu-h200", "--out", str(tmp_path)])
    )
    assert "unknown latency profile" in line and "gpu-h100" in line and "hosted-api" in line
    line = _one_line_error(runner.invoke(app, ["bench", "--split", "dev", "--out", str(tmp_path)]))
    assert "unknown split" in line and "test" in line and "train" in line


def test_a_broken_episode_file_names_the_file_and_line(tmp_path: Path) -> None:
    from specagent.cli import app

    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"id": "a", "turns": ["hi"], "tools": []}\n{"id": "b", "turns": \n', encoding="utf-8"
    )
    line = _one_line_error(
        CliRunner().invoke(app, ["bench", "--dataset", f"jsonl:{path}", "--out", str(tmp_path)])
    )
    assert "mine.jsonl:2" in line and "Invalid JSON" in line


def test_the_main_job_subset_is_fixed_and_spans_the_categories() -> None:
    quick = load_dataset("assistant-quick")
    assert len(quick) >= 8
    assert {e.meta["category"] for e in quick} == {
        "lookup",
        "parallel",
        "chain",
        "read_write",
        "write",
    }
    assert any(e.meta["multi_turn"] for e in quick) and any(e.meta["spoken"] for e in quick)
    assert all(e.split == "test" for e in quick)


def test_bfcl_single_turn_counts_state_changing_calls_its_answer_does_not_ask_for() -> None:
    from specagent.agent.records import ToolCallReport
    from specagent.bench.datasets.bfcl.single_turn import BfclSingleTurnEnv, SingleTurnEntry
    from specagent.bench.episode import TurnRecord

    params = {"type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    entry = SingleTurnEntry(
        id="x", category="parallel", question="Book hotels in Rome and Oslo", system="",
        functions=({"name": "book_hotel", "description": "", "parameters": params},
                   {"name": "get_weather", "description": "", "parameters": params}),
        answers=({"book_hotel": {"city": ["Rome"]}}, {"book_hotel": {"city": ["Oslo"]}}),
        mode="parallel",
    )  # fmt: skip
    env = BfclSingleTurnEnv(entry)

    def call(i: int, name: str, city: str, disposition: str = "committed") -> ToolCallReport:
        return ToolCallReport(
            call_id=i, name=name, arguments={"city": city}, effect=None, status="done",
            held=False, issued_s=0.0, started_s=0.0, finished_s=0.0, disposition=disposition,
        )  # fmt: skip

    def turns(*calls: ToolCallReport) -> list[TurnRecord]:
        return [TurnRecord(user="q", answer="ok", ended="answered", calls=calls, latency_s=1.0)]

    assert (
        env.unrequested_calls(turns(call(1, "book_hotel", "Rome"), call(2, "book_hotel", "Oslo")))
        == 0
    )
    # a third booking, and a booking in the wrong city, are unrequested; reads never count
    assert env.unrequested_calls(turns(call(1, "book_hotel", "Rome"), call(2, "book_hotel", "Rome"),
                                       call(3, "book_hotel", "Paris"), call(4, "get_weather", "Rome"))) == 2  # fmt: skip
    # a withdrawn call never counts
    assert (
        env.unrequested_calls(turns(call(1, "book_hotel", "Paris", disposition="cancelled"))) == 0
    )
