"""Train tasks from the project's JSONL episode format: scripts derived from the words."""

from __future__ import annotations

import json

from specagent.train.jsonl_tasks import known_at
from specagent.train.synth import synthesize
from specagent.train.sources import load_tasks

_TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
        "returns": {"sky": "sunny"},
    }
]  # fmt: skip


def _line(id_: str, split: str, text: str, city: str) -> str:
    return json.dumps(
        {"id": id_, "turns": [text], "tools": _TOOLS, "split": split,
         "expected_calls": [{"name": "get_weather", "arguments": {"city": city}}]}
    )  # fmt: skip


def test_known_at_is_the_word_that_grounds_every_value():
    assert known_at("What is the weather in Paris today?", {"city": "Paris"}) == 6
    assert known_at("Weather please", {"city": "Oslo"}) == 2  # never said: the last word


def test_jsonl_train_lines_become_valid_traces_and_test_lines_never_do(tmp_path):
    path = tmp_path / "eps.jsonl"
    path.write_text(
        "\n".join(
            [
                _line("a", "train", "What is the weather in Paris right now please?", "Paris"),
                _line("b", "train", "How is the sky over Lisbon this morning?", "Lisbon"),
                _line("c", "test", "What is the weather in Tokyo right now please?", "Tokyo"),
            ]
        )
    )
    train = load_tasks(f"jsonl:{path}", split="train")
    test = load_tasks(f"jsonl:{path}", split="test")
    assert [t.id for t in train] == ["jsonl-a", "jsonl-b"]
    assert [t.id for t in test] == ["jsonl-c"]
    traces, report = synthesize(train, 6, seed=1)
    assert report.written == 6
    text = "\n".join(m.content for t in traces for m in t.messages)
    assert "Tokyo" not in text
    assert '"city": "Paris"' in text and '"city": "Lisbon"' in text
