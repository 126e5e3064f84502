"""The settings of one fine-tuning run, kept apart so a run directory can store and reload them.

:class:`TrainSettings` is what ``specagent train`` is given; :mod:`.run_dir` writes it into the
run directory when a run starts and reads it back for ``--resume``; :mod:`.sft` trains with it.
It has no heavy imports, so the CLI can check a resume before torch is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["SESSION_FIELDS", "TrainSettings"]


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
    save_steps: int = 10
    """A checkpoint every this many steps (the last two are kept); ``--resume`` starts from
    the newest."""
    logging_steps: int = 1
    warmup_steps: int = 2
    threads: int = 2
    max_minutes: float | None = None
    """Stop once another step would overrun this budget, saving a checkpoint first; the
    machine is shared. A budget of one session, not of the run: ``--resume`` may change it."""

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


SESSION_FIELDS = frozenset({"output_dir", "max_minutes", "threads"})
"""Settings of one session of a run, which a resumed session may change: where the run
directory now is, this session's time budget and its thread count. Everything else defines
the run and must stay the same."""
