"""The `assistant-bench` task source: the benchmark's train split only, valid traces, no test
text in any trace, and scripts that call as soon as a call is known and revise corrections."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from specagent.bench.datasets.assistant.episodes import all_specs
from specagent.bench.datasets.assistant.split import split_of
from specagent.train.assistant_bench_tasks import (
    SOURCE,
    bench_tasks,
    skipped_train_episodes,
    held_out_turn_texts,
)
from specagent.train.synth import TraceSettings, play_task, synthesize, write_jsonl
from specagent.train.sources import load_tasks
from specagent.train.tasks import TestSplitError
from specagent.train.validate import TraceInvalid, replay_executor, replay_parser

_UPDATE = re.compile(r"<(partial|final)_query_update>(.*?)</\1_query_update>", re.DOTALL)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _turns_heard(messages) -> list[str]:
    """The words of each user turn, rebuilt from the streamed updates."""
    turns: list[list[str]] = [[]]
    for message in messages:
        if message.role != "user":
            continue
        for match in _UPDATE.finditer(message.content):
            turns[-1].append(match.group(2))
            if match.group(1) == "final":
                turns.append([])
    return [" ".join(t) for t in turns if t]


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(SOURCE, split="train")


@pytest.fixture(scope="module")
def every_task_once(tasks):
    # one trace per train task (the seed shuffles the order and draws each trace's settings)
    return synthesize(tasks, len(tasks), seed=5)


def test_the_source_is_the_benchmarks_train_split_less_the_overlaps(tasks):
    train_ids = {s.id for s in all_specs() if split_of(s.id) == "train"}
    skipped = skipped_train_episodes()
    assert skipped and all(s.reason for s in skipped)
    assert {t.id.removeprefix(f"{SOURCE}-") for t in tasks} == train_ids - {
        s.episode_id for s in skipped
    }
    assert all(t.split == "train" and t.source == SOURCE for t in tasks)
    # multi-turn episodes come with their follow-ups; the prompt carries the benchmark's date
    assert any(t.followups for t in tasks)
    assert all("2026-06-01" in t.context for t in tasks)
    # the test split exists as tasks too (for evaluation), but can never be synthesized
    test = bench_tasks("test")
    assert test and all(t.split == "test" for t in test)
    with pytest.raises(TestSplitError):
        synthesize(test[:2], 2)


def test_no_test_id_or_request_text_in_any_trace(tasks, every_task_once, tmp_path):
    traces, report = every_task_once
    assert report.written == len(traces) == len(tasks), report.rejected
    test_texts = held_out_turn_texts()
    test_ids = [s.id for s in all_specs() if split_of(s.id) == "test"]
    id_pattern = re.compile(
        r"(?<![A-Za-z0-9-])(" + "|".join(map(re.escape, test_ids)) + r")(?![A-Za-z0-9-])"
    )
    path = write_jsonl(traces, tmp_path / "bench.jsonl")
    for line, trace in zip(path.read_text().splitlines(), traces, strict=True):
        record = json.loads(line)
        assert record["split"] == "train"
        ids = f"{record['id']} {record['task_id']}"
        assert id_pattern.search(ids) is None, ids
        heard = [_norm(t) for t in _turns_heard(trace.messages)]
        assert not set(heard) & test_texts
        everything = _norm(" ".join(m["content"] for m in record["messages"]))
        leaked = [t for t in test_texts if t in everything]
        assert not leaked, (trace.id, leaked[:3])


def test_a_conversation_is_played_turn_by_turn_with_ids_counting_on(every_task_once):
    traces, _ = every_task_once
    multi = [t for t in traces if len(_turns_heard(t.messages)) > 1]
    assert multi
    for trace in multi:
        turns = len(_turns_heard(trace.messages))
        assert trace.stats["answers"] == turns
        # ids of a later turn continue after the earlier turn's: split at each answer
        ids_by_turn: list[set[int]] = [set()]
        for message in trace.messages:
            if message.role != "assistant":
                continue
            ids_by_turn[-1].update(
                int(i) for i in re.findall(r'<tool_call id="(\d+)"', message.content)
            )
            if "<answer>" in message.content:
                ids_by_turn.append(set())
        earlier: set[int] = set()
        for ids in ids_by_turn:
            assert not ids or not earlier or min(ids) > max(earlier)
            earlier |= ids


def test_a_handful_of_traces_validate_under_each_policy(tasks):
    chosen = [
        t for t in tasks if t.id.endswith(("cheapest-book-01", "mt-contact-email-00", "hw-72"))
    ]
    assert len(chosen) == 3
    toolset = chosen[0].make_toolset
    for task in chosen:
        for policy in ("sync", "async", "speculative"):
            settings = TraceSettings(
                seed=1, policy=policy, words_per_minute=150.0, chunk_words=3, ttft_s=0.1,
                token_s=0.01, latency_seed=2,
            )  # fmt: skip
            trace = play_task(task, settings, f"{task.id}-{policy}")
            replay_parser(trace.messages)
            replay_executor(trace.messages, toolset())
            assert trace.stats["answers"] == len(task.turns)


def test_a_spoken_correction_is_called_early_then_revised_under_the_same_id(tasks):
    task = next(t for t in tasks if t.id.endswith("cheapest-book-01"))
    search = task.calls[0]
    assert [fn({})["destination"] for _, fn in search.versions] == ["Miami", "New York"]
    settings = TraceSettings(
        seed=1, policy="speculative", words_per_minute=150.0, chunk_words=3, ttft_s=0.1,
        token_s=0.01, latency_seed=2,
    )  # fmt: skip
    trace = play_task(task, settings, "x")
    calls = [
        m.content for m in trace.messages if m.role == "assistant" and "search_flights" in m.content
    ]
    assert '"Miami"' in calls[0] and '"New York"' in calls[-1]
    assert all('<tool_call id="1">' in c for c in calls)
    assert trace.stats["revisions"] >= 1 and trace.stats["early_calls"] >= 1
    # the reasoning before the early call names only what had been said
    assert "New York" not in calls[0]


def test_calls_wait_for_their_values_and_the_tools_purpose(tasks):
    by_id = {t.id.removeprefix(f"{SOURCE}-"): t for t in tasks}
    # "What's the cheapest flight from Boston to Denver tomorrow, and what's the weather
    # there that day?": the weather lookup waits for "weather", not just for "Denver tomorrow"
    task = by_id["flight-weather-02"]
    words = task.request.split()
    flights, weather = task.calls
    assert words[flights.known_at - 1] == "tomorrow,"
    assert words[weather.known_at - 1] == "weather"
    # a chain: the booking needs the search's result
    booking = by_id["cheapest-book-00"].calls[1]
    assert booking.needs == ("t1c1",) and booking.name == "book_flight"


def test_a_wrong_answer_is_refused_by_the_benchmarks_checker(tasks):
    task = next(t for t in tasks if t.id.endswith("weather-03"))
    wrong = replace(task, answer=lambda results: "It will be lovely.")
    settings = TraceSettings(
        seed=1, policy="async", words_per_minute=150.0, chunk_words=3, ttft_s=0.1,
        token_s=0.01, latency_seed=2,
    )  # fmt: skip
    with pytest.raises(TraceInvalid) as caught:
        play_task(wrong, settings, "x")
    assert caught.value.reason == "benchmark_check"


@pytest.mark.real_model
def test_qwen_tokenises_a_trace_as_its_chat_template_does(every_task_once):
    """The 0.5B model's tokenizer (read from its GGUF) gives the traces the token ids its own
    chat template gives, and the shared system prompt is most of a trace."""
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from specagent.models.registry import ensure_model
    from specagent.train.sft import encode_messages

    path = ensure_model("qwen2.5-coder-0.5b")
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    traces, _ = every_task_once
    record = traces[0].to_record()
    ids, mask = encode_messages(record["messages"], tokenizer)
    plain = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    rendered = tokenizer.apply_chat_template(plain, tokenize=False)
    assert ids == tokenizer(rendered, add_special_tokens=False)["input_ids"]
    prompt, _ = encode_messages(record["messages"][:1], tokenizer)
    assert 1500 < len(prompt) < len(ids) <= 3584 and sum(mask) > 0
