"""Trace synthesis: every kept trace is valid, runs are reproducible, invalid traces are counted."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from specagent.protocol import ChatMessage, parse_output
from specagent.train.synth import draw_settings, play_task, synthesize, write_jsonl
from specagent.train.sources import load_tasks
from specagent.train.tasks import ScriptCall
from specagent.train.validate import TraceInvalid, replay_executor, replay_parser


@pytest.fixture(scope="module")
def tasks():
    return load_tasks("assistant", split="train")


@pytest.fixture(scope="module")
def batch(tasks):
    return synthesize(tasks, 80, seed=11)


def test_every_kept_trace_replays_through_parser_and_executor(tasks, batch):
    traces, report = batch
    assert report.written == len(traces) > 70
    assert report.written + sum(report.rejected.values()) == report.requested == 80
    by_id = {t.id: t for t in tasks}
    for trace in traces:
        messages = list(trace.messages)
        assert messages[0].role == "system"
        counts = replay_parser(messages)
        assert counts["answers"] == 1
        replay_executor(messages, by_id[trace.task_id].make_toolset())
        # the model learns only from its own complete generations
        for message, learn in zip(messages, trace.train_mask):
            if learn:
                assert message.role == "assistant"
                assert not message.content.endswith("</think_interrupted>")
            elif message.role == "assistant" and not message.content.endswith("<pause/>"):
                assert message.content.endswith("</think_interrupted>")
        last = messages[-1]
        assert last.role == "assistant" and "<answer>" in last.content


def test_traces_show_the_asynchronous_behaviours(batch):
    _, report = batch
    seen = report.behaviours
    for behaviour in ("pauses", "revisions", "removals", "interrupted", "early_calls", "cancelled"):
        assert seen[behaviour] > 0, behaviour
    assert set(report.by_policy) == {"sync", "async", "speculative"}


def test_synthesis_is_deterministic_by_seed(tasks, tmp_path):
    a, _ = synthesize(tasks[:30], 12, seed=5)
    b, _ = synthesize(tasks[:30], 12, seed=5)
    c, _ = synthesize(tasks[:30], 12, seed=6)
    write_jsonl(a, tmp_path / "a.jsonl")
    write_jsonl(b, tmp_path / "b.jsonl")
    write_jsonl(c, tmp_path / "c.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "c.jsonl").read_bytes()


def test_output_loads_with_hugging_face_datasets(batch, tmp_path):
    datasets = pytest.importorskip("datasets")  # in the training extra, installed in CI
    traces, _ = batch
    path = write_jsonl(traces[:10], tmp_path / "t.jsonl")
    loaded = datasets.load_dataset("json", data_files=str(path), split="train")
    assert loaded.num_rows == 10
    row = loaded[0]
    assert row["split"] == "train"
    assert {"role", "content", "train"} <= set(row["messages"][0])
    assert row["messages"] == json.loads(path.read_text().splitlines()[0])["messages"]


def test_a_correction_is_revised_under_the_same_id(tasks):
    task = next(t for t in tasks if t.family == "flight" and "sorry, I mean" in t.request)
    rng = random.Random(1)
    settings = replace(draw_settings(rng), policy="speculative", chunk_words=3)
    trace = play_task(task, settings, "x")
    calls = [
        parse_output(m.content, 1).action
        for m in trace.messages
        if m.role == "assistant" and "<tool_call" in m.content
    ]
    searches = [c for c in calls if c.name == "search_flights"]
    assert len(searches) == 2 and searches[0].call_id == searches[1].call_id
    assert searches[0].arguments["destination"] != searches[1].arguments["destination"]


def test_a_retracted_request_is_removed(tasks):
    task = next(t for t in tasks if t.family == "retract_weather")
    settings = replace(draw_settings(random.Random(2)), policy="speculative", chunk_words=3)
    trace = play_task(task, settings, "x")
    text = "\n".join(m.content for m in trace.messages)
    assert '<remove id="1"/>' in text and '<cancel id="1"/>' in text


def test_a_broken_script_is_rejected_and_counted(tasks):
    task = tasks[0]
    bad_call = ScriptCall("w", "get_weather", ((1, lambda r: {"town": "Paris"}),))
    broken = replace(task, calls=(bad_call,))
    _, report = synthesize([broken], 3, seed=0)
    assert report.written == 0
    assert sum(report.rejected.values()) == 3


def test_parser_replay_rejects_non_canonical_and_leaky_text():
    with pytest.raises(TraceInvalid) as err:
        replay_parser([ChatMessage("assistant", '{"name": "get_weather", "arguments": {}}')])
    assert err.value.reason == "parse_replay"
    with pytest.raises(TraceInvalid):
        replay_parser([ChatMessage("assistant", "<think>x</think><pause/></think_interrupted>")])


def test_executor_replay_rejects_a_result_the_tools_do_not_give(tasks, batch):
    traces, _ = batch
    trace = next(t for t in traces if any("<tool_result" in m.content for m in t.messages))
    doctored = [
        ChatMessage(m.role, m.content.replace('"forecast": "', '"forecast": "snow, not ', 1))
        if m.role == "user"
        else m
        for m in trace.messages
    ]
    toolset = next(t for t in tasks if t.id == trace.task_id).make_toolset()
    if doctored == list(trace.messages):  # no weather in this one: break a restaurant instead
        doctored = [
            ChatMessage(m.role, m.content.replace('"id": "r', '"id": "x', 1))
            if m.role == "user"
            else m
            for m in trace.messages
        ]
    with pytest.raises(TraceInvalid) as err:
        replay_executor(doctored, toolset)
    assert err.value.reason in ("executor_replay", "stale_result")
