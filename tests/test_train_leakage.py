"""No test-split task ever enters training data."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from specagent.bench.datasets import load_dataset
from specagent.envs.assistant import EXAMPLE_REQUESTS
from specagent.train.assistant_tasks import all_assistant_tasks
from specagent.train.synth import draw_settings, play_task, synthesize, write_jsonl
from specagent.train.sources import load_tasks
from specagent.train.tasks import TestSplitError

_UPDATE = re.compile(r"<(partial|final)_query_update>(.*?)</\1_query_update>", re.DOTALL)


def _heard(messages) -> str:
    return " ".join(
        m.group(2) for msg in messages if msg.role == "user" for m in _UPDATE.finditer(msg.content)
    )


def test_splits_are_disjoint_and_hold_the_benchmark_examples_out():
    train = load_tasks("assistant", split="train")
    test = load_tasks("assistant", split="test")
    assert train and test
    assert not {t.id for t in train} & {t.id for t in test}
    assert not {t.request for t in train} & {t.request for t in test}
    examples = set(EXAMPLE_REQUESTS.values())
    assert not examples & {t.request for t in train}
    # no request of the assistant benchmark's test split is ever a training request
    bench_test = {" ".join(t.lower().split()) for e in load_dataset("assistant", split="test") for t in e.turns}
    assert bench_test and not bench_test & {" ".join(t.request.lower().split()) for t in train}
    # every generated request equal to an example is in the test split
    assert all(t.split == "test" for t in all_assistant_tasks() if t.request in examples)


def test_synthesis_refuses_test_tasks():
    test = load_tasks("assistant", split="test")
    with pytest.raises(TestSplitError):
        synthesize(test[:3], 2)
    with pytest.raises(TestSplitError):
        play_task(test[0], draw_settings(__import__("random").Random(0)), "x")
    # a train task relabelled test is refused too: the label is what counts
    train = load_tasks("assistant", split="train")
    with pytest.raises(TestSplitError):
        synthesize([train[0], replace(train[1], split="test")], 2)


def test_no_trace_contains_a_test_request(tmp_path):
    traces, _ = synthesize(load_tasks("assistant", split="train"), 60, seed=3)
    test_requests = {" ".join(t.request.split()) for t in load_tasks("assistant", split="test")}
    train_ids = {t.id for t in load_tasks("assistant", split="train")}
    for trace in traces:
        assert trace.task_id in train_ids
        assert " ".join(_heard(trace.messages).split()) not in test_requests
    path = write_jsonl(traces, tmp_path / "t.jsonl")
    assert all(json.loads(line)["split"] == "train" for line in path.read_text().splitlines())


def test_training_refuses_a_file_with_test_traces(tmp_path):
    pytest.importorskip("datasets")
    from specagent.train.sft import load_traces

    record = {
        "id": "x",
        "split": "test",
        "messages": [{"role": "user", "content": "hi", "train": False}],
    }
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(ValueError, match="not from a train split"):
        load_traces(path, tokenizer=None, max_length=100)


def test_unknown_source_and_split_are_clear_errors():
    with pytest.raises(ValueError, match="unknown task source"):
        load_tasks("nope")
    with pytest.raises(ValueError, match="split must be"):
        load_tasks("assistant", split="dev")
