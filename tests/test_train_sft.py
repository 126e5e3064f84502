"""Fine-tuning: tokenisation matches llama.cpp's chat rendering, the cheap loss is exact, and a
tiny real LoRA run on SmolLM2-135M lowers the loss (a few steps on CPU)."""

from __future__ import annotations

import json

import pytest
import torch

from specagent.train.sft import (
    TrainSettings,
    _prefix_cached_loss,
    encode_messages,
    load_base,
    load_traces,
    train,
)
from specagent.train.synth import synthesize, write_jsonl
from specagent.train.sources import load_tasks


@pytest.fixture(scope="module")
def base():
    return load_base("smollm2-135m")


@pytest.fixture(scope="module")
def short_traces(tmp_path_factory):
    tasks = [t for t in load_tasks("assistant", split="train") if t.family == "calendar_check"]
    traces, _ = synthesize(tasks, 4, seed=0)
    return write_jsonl(traces, tmp_path_factory.mktemp("sft") / "short.jsonl")


def test_encoding_is_the_chat_template_and_masks_only_the_models_turns(base, short_traces):
    _, tokenizer = base
    record = json.loads(short_traces.read_text().splitlines()[0])
    ids, mask = encode_messages(record["messages"], tokenizer)
    plain = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    rendered = tokenizer.apply_chat_template(plain, tokenize=False)
    # the same tokens llama.cpp gets from the GGUF's template, tokenised in one piece
    assert ids == tokenizer(rendered, add_special_tokens=False)["input_ids"]
    learnt = tokenizer.decode([i for i, m in zip(ids, mask) if m])
    wanted = "".join(m["content"] + "<|im_end|>" for m in record["messages"] if m["train"])
    assert learnt == wanted
    assert "<|im_start|>" not in learnt and "</think_interrupted>" not in learnt


def test_shared_prefix_loss_equals_the_ordinary_loss(base):
    model, _ = base
    torch.manual_seed(0)
    ids = torch.randint(0, 5000, (2, 120))
    ids[1, :80] = ids[0, :80]
    labels = ids.clone()
    labels[:, :90] = -100
    attention = torch.ones_like(ids)
    attention[1, 110:] = 0
    labels[1, 110:] = -100
    with torch.no_grad():
        cheap = _prefix_cached_loss(
            model, {"input_ids": ids, "labels": labels, "attention_mask": attention}, None
        )
        full = model(input_ids=ids, labels=labels, attention_mask=attention).loss
    assert torch.allclose(cheap, full, atol=1e-4)


def test_load_traces_drops_what_is_too_long(base, short_traces):
    _, tokenizer = base
    data, stats = load_traces(short_traces, tokenizer, max_length=4096)
    assert stats["examples"] == data.num_rows == 4 and stats["dropped_too_long"] == 0
    with pytest.raises(ValueError, match="longer than max_length"):
        load_traces(short_traces, tokenizer, max_length=50)


def test_a_few_lora_steps_lower_the_loss(short_traces, tmp_path):
    report = train(
        TrainSettings(
            data=str(short_traces),
            output_dir=str(tmp_path / "run"),
            max_steps=4,
            batch_size=1,
            grad_accum=1,
            learning_rate=5e-3,
            warmup_steps=0,
            max_examples=1,
            save_steps=2,
        )
    )
    losses = [e["loss"] for e in report.log]
    assert report.steps == 4 and len(losses) == 4
    assert losses[-1] < 0.8 * losses[0], losses
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
    assert any((tmp_path / "run" / "checkpoints").glob("checkpoint-*"))
    assert report.loss_tokens > 0 and report.examples == 1
