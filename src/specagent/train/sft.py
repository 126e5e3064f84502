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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SpecagentError
from ..extras import MissingExtraError, require
from .progress import ProgressTracker
from .run_dir import CHECKPOINTS, checkpoint_step, last_checkpoint, start_run, write_json_atomic
from .settings import TrainSettings

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
    complete: bool = True
    """Every step taken; ``False`` when the time budget stopped the session (resume it)."""
    resumed_from: int | None = None
    """The checkpoint step this session continued from (``None``: it started the run)."""
    peak_rss_mb: float | None = None
    """Peak resident memory of the training process, MB."""
    mean_batch_tokens: float | None = None
    """Tokens per optimizer step (all rows of its batches, padding included)."""
    mean_learnt_tokens: float | None = None
    """Learnt (loss) tokens per optimizer step."""
    mean_prefix_tokens: float | None = None
    """Shared prompt tokens per batch, computed once without gradient."""
    s_per_step: float | None = None
    """This session's mean seconds per step (the first step, which warms up, left out when
    there are others)."""

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


def _prefix_cached_loss(
    model: Any, inputs: dict[str, Any], num_items_in_batch: Any, *, with_prefix: bool = False
) -> Any:
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
    return (total / count, n) if with_prefix else total / count


def _truncate_log(path: Path, last_step: int) -> list[dict[str, float]]:
    """Keep the loss lines up to ``last_step`` (a session may have logged past its last
    checkpoint before it was stopped); return them."""
    if not path.is_file():
        return []
    kept = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    kept = [e for e in kept if e["step"] <= last_step]
    path.write_text("".join(json.dumps(e) + "\n" for e in kept))
    return kept


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KB on Linux


def train(
    settings: TrainSettings,
    *,
    resume: bool = False,
    echo: Callable[[str], None] | None = None,
) -> TrainReport:
    """Fine-tune ``settings.model`` on ``settings.data``; save the adapter and the loss log.

    A new run records itself in its directory (:func:`~specagent.train.run_dir.start_run`,
    which refuses a directory holding a run). With ``resume``, training continues from the
    newest complete checkpoint in ``settings.output_dir`` (from step 0 if there is none yet);
    the caller loads the stored settings (:func:`~specagent.train.run_dir.load_run`). Each
    step writes a progress line (``echo`` gets its text). With ``max_minutes``, the session
    stops once another step would overrun the budget, after saving a checkpoint.
    """
    require_stack()
    import torch
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    out = Path(settings.output_dir)
    checkpoint = last_checkpoint(out) if resume else None
    if not resume:
        start_run(settings)
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_base(settings.model)
    dataset, stats = load_traces(
        settings.data, tokenizer, settings.max_length, settings.max_examples
    )
    loss_path = out / "loss_log.jsonl"
    start_step = checkpoint_step(checkpoint) if checkpoint is not None else 0
    if resume:
        log = _truncate_log(loss_path, start_step)
    else:
        loss_path.unlink(missing_ok=True)
        log = []
    budget = None if settings.max_minutes is None else 60 * settings.max_minutes
    counts = {"tokens": 0, "learnt": 0, "prefix": 0, "batches": 0}
    per_step: list[dict[str, float]] = []
    state_box: dict[str, ProgressTracker] = {}

    class _Progress(TrainerCallback):  # type: ignore[misc]
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            state_box["tracker"] = ProgressTracker(
                out, settings.max_steps, start_step=state.global_step, budget_s=budget, echo=echo
            )

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            tracker = state_box["tracker"]
            tracker.tick()
            per_step.append(
                {"s": tracker.last_step_s or 0.0, **{k: float(v) for k, v in counts.items()}}
            )
            for key in counts:
                counts[key] = 0
            if state.global_step < state.max_steps and tracker.should_stop():
                control.should_save = True  # stop *with* a checkpoint: --resume goes on from it
                control.should_training_stop = True

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                entry = {"step": float(state.global_step), "loss": float(logs["loss"])}
                log.append(entry)
                with loss_path.open("a") as fh:
                    fh.write(json.dumps(entry) + "\n")
                tokens = int(per_step[-1]["tokens"]) if per_step else None
                state_box["tracker"].report(state.global_step, entry["loss"], tokens)

    config = SFTConfig(
        output_dir=str(out / CHECKPOINTS),
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
        disable_tqdm=True,  # the progress lines say the same, with an ETA across sessions
        gradient_checkpointing=False,  # recomputation costs time; memory is not short here
        train_sampling_strategy="group_by_length",  # less padding per batch
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
            loss, prefix = _prefix_cached_loss(model, inputs, num_items_in_batch, with_prefix=True)
            counts["tokens"] += int(inputs["input_ids"].numel())
            counts["learnt"] += int((inputs["labels"] != -100).sum())
            counts["prefix"] += prefix
            counts["batches"] += 1
            return (loss, None) if return_outputs else loss

    trainer = _PrefixSFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_Progress()],
    )
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
    wall = time.monotonic() - started
    steps = int(trainer.state.global_step)
    if "tracker" in state_box:
        state_box["tracker"].finish(steps)
    adapter_dir = out / "adapter"
    trainer.model.save_pretrained(str(adapter_dir))
    tokenizer.save_pretrained(str(adapter_dir))
    timed = per_step[1:] if len(per_step) > 1 else per_step

    def mean(key: str) -> float | None:
        return round(sum(e[key] for e in timed) / len(timed), 3) if timed else None

    report = TrainReport(
        settings=asdict(settings),
        examples=stats["examples"],
        dropped_too_long=stats["dropped_too_long"],
        tokens=stats["tokens"],
        loss_tokens=stats["loss_tokens"],
        steps=steps,
        wall_s=round(wall, 1),
        first_loss=log[0]["loss"] if log else None,
        last_loss=log[-1]["loss"] if log else None,
        log=log,
        adapter_dir=str(adapter_dir),
        complete=steps >= settings.max_steps,
        resumed_from=start_step if resume else None,
        peak_rss_mb=_peak_rss_mb(),
        mean_batch_tokens=mean("tokens"),
        mean_learnt_tokens=mean("learnt"),
        mean_prefix_tokens=(
            round(sum(e["prefix"] / max(e["batches"], 1) for e in timed) / len(timed), 1)
            if timed
            else None
        ),
        s_per_step=mean("s"),
    )
    write_json_atomic(out / "train_report.json", report.to_json())
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
