"""Progress of a long training run: a line per step with its loss, its pace and an ETA.

A CPU run of hours must say how far it is and when it will end, on the terminal and in a file
another session can read (``progress.json``, the latest line; ``progress.jsonl``, every line).
The pace (seconds per step) is the mean of this session's recent steps, so a resumed session
estimates from its own speed, not from a machine that was busier or idler before. The tracker
also decides when a time budget (``--max-minutes``) says to stop: when one more step at the
current pace would overrun it, so the run stops *with* a checkpoint inside its budget.

The tracker is pure bookkeeping over a clock function, so it is tested without waiting.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .run_dir import write_json_atomic

__all__ = ["ProgressLine", "ProgressTracker", "format_duration"]

_WINDOW = 10
"""Steps averaged for the pace."""


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass(frozen=True)
class ProgressLine:
    """Where a run is after one optimizer step."""

    step: int
    total: int
    loss: float | None
    s_per_step: float
    session_elapsed_s: float
    eta_s: float
    status: str
    """``running``; at a session's end ``stopped`` (budget reached, checkpoint saved) or
    ``done`` (every step taken)."""
    tokens: int | None = None
    """Tokens in the step's batch (padding included)."""
    step_s: float | None = None
    """How long this step took (a checkpoint saved after a step is timed in the next one)."""
    cpu_s: float | None = None
    """Processor time the training process used in this step (all its threads): on a shared
    machine the wall time depends on the others' load, this much less."""

    def text(self) -> str:
        loss = "?" if self.loss is None else f"{self.loss:.4f}"
        return (
            f"step {self.step}/{self.total}  loss {loss}  {self.s_per_step:.1f} s/step  "
            f"elapsed {format_duration(self.session_elapsed_s)}  "
            f"ETA {format_duration(self.eta_s)}  [{self.status}]"
        )


class ProgressTracker:
    """Times steps, writes progress lines, and says when a budget calls for a stop."""

    def __init__(
        self,
        run_dir: str | Path,
        total_steps: int,
        *,
        start_step: int = 0,
        budget_s: float | None = None,
        echo: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = lambda: sum(os.times()[:2]),
    ) -> None:
        self.run_dir = Path(run_dir)
        self.total = total_steps
        self.start_step = start_step
        self.budget_s = budget_s
        self._echo = echo
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._started = clock()
        self._last = self._started
        self._last_cpu = cpu_clock()
        self._step_cpu: float | None = None
        self._recent: deque[float] = deque(maxlen=_WINDOW)
        self.last_line: ProgressLine | None = None

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._started

    @property
    def last_step_s(self) -> float | None:
        """How long the latest step took."""
        return self._recent[-1] if self._recent else None

    @property
    def s_per_step(self) -> float | None:
        return sum(self._recent) / len(self._recent) if self._recent else None

    def tick(self) -> None:
        """An optimizer step has just finished: time it."""
        now, cpu = self._clock(), self._cpu_clock()
        self._recent.append(now - self._last)
        self._step_cpu = cpu - self._last_cpu
        self._last, self._last_cpu = now, cpu

    def report(self, step: int, loss: float | None, tokens: int | None = None) -> ProgressLine:
        """Write the progress line of optimizer step ``step`` (counted over the whole run)."""
        pace = self.s_per_step or 0.0
        line = ProgressLine(
            step=step,
            total=self.total,
            loss=loss,
            s_per_step=round(pace, 3),
            session_elapsed_s=round(self.elapsed_s, 1),
            eta_s=round(max(0, self.total - step) * pace, 1),
            status="running",
            tokens=tokens,
            step_s=None if self.last_step_s is None else round(self.last_step_s, 3),
            cpu_s=None if self._step_cpu is None else round(self._step_cpu, 2),
        )
        self._write(line)
        return line

    def should_stop(self) -> bool:
        """Whether one more step at the current pace would overrun the budget."""
        pace = self.s_per_step
        if self.budget_s is None or pace is None:
            return False
        return self.elapsed_s + pace > self.budget_s

    def finish(self, step: int) -> ProgressLine:
        """The session's last line: ``done`` if every step was taken, else ``stopped``."""
        last = self.last_line
        pace = self.s_per_step or 0.0
        line = ProgressLine(
            step=step,
            total=self.total,
            loss=last.loss if last is not None and last.step == step else None,
            s_per_step=round(pace, 3),
            session_elapsed_s=round(self.elapsed_s, 1),
            eta_s=round(max(0, self.total - step) * pace, 1),
            status="done" if step >= self.total else "stopped",
            tokens=None,
        )
        self._write(line)
        return line

    def _write(self, line: ProgressLine) -> None:
        self.last_line = line
        record = asdict(line)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with (self.run_dir / "progress.jsonl").open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        write_json_atomic(self.run_dir / "progress.json", record)
        if self._echo is not None:
            self._echo(line.text())
