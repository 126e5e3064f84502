"""The data a session takes and gives: its settings, and what it produced.

Kept apart from the state machine in :mod:`specagent.agent.session` so the records a caller
reads (CLI, benchmarks) can be understood without reading the machine.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

from ..executor import CallRecord, CallStatus, Disposition
from ..ledger import Ledger
from ..speculation import SpeculationStats

__all__ = [
    "SessionConfig",
    "session_config",
    "SessionResult",
    "ToolCallReport",
    "TurnCounters",
    "speculation_stats",
    "call_reports",
]


@dataclass(frozen=True)
class SessionConfig:
    max_tokens: int = 160
    """Tokens one generation may write before it is cut."""
    max_generations: int = 40
    max_protocol_errors: int = 4
    """Consecutive unreadable outputs before the session gives up."""
    max_stalls: int = 2
    """Times the model may pause with nothing left to wait for before the session gives up."""
    ground_early_calls: bool = True
    """Before the final update, refuse calls whose values nobody has said (see grounding)."""
    ground_state_changes: bool = True
    """At any time, refuse a state-changing call whose values neither the user said nor a tool
    result holds; the model is told to ask the user instead (see grounding)."""
    confirm_irreversible: bool = False
    """Ask the user before any irreversible call runs (as tools marked ``confirm`` always do):
    see :mod:`specagent.agent.confirmation`."""
    continue_after_call: bool = False
    """Generate again right after a tool call (to issue parallel calls) instead of waiting for
    the next event. Off by default: untrained models read their own result-less call as a cue
    to invent more calls (measured: 10+ unrequested calls a request). A call held for its
    commit point after the final update always gets one continuation, so the model can move
    on and commit it."""
    check_claims: bool = True
    """An answer that says an action was done (sent, booked, added, ...) when no
    state-changing call was made in the turn is refused once, and the model is told to make
    the call or answer without the claim (small models claim actions they never called)."""
    review_early_calls: bool = False
    """At the final words, show a streaming model (``async``, ``speculative``) the whole
    request beside the calls it made while the user spoke, and ask it to revise or remove
    those that no longer fit (see :mod:`specagent.agent.review`)."""
    draft_answers: bool = False
    """An answer begun before it may be given (the user is still speaking, calls are still
    running) is written to its end instead of being stopped at its first token, never shown,
    and treated as a pause; new words cut it. For ``verified``'s speculator, whose written
    answers become the actor's drafts."""
    constrain_calls: bool = False
    """Decode under a grammar of the protocol's actions built from the tools' JSON Schemas
    (:mod:`specagent.protocol.grammar`): the model can only write a canonical action, a call
    names a known tool with arguments its schema allows. Honoured by the llama.cpp backend,
    ignored by backends that cannot constrain (docs/protocol.md, "Constrained decoding")."""
    select_tools: int | None = None
    """Show the model only the tools relevant to the request: the ``select_tools`` tools
    whose text best matches the user's words (BM25, :mod:`specagent.agent.tool_selection`),
    plus every tool already called in the conversation and the tools whose results feed a
    chosen one; ``None`` (the default) lists every tool. Selected at a turn's first
    generation and again at the first one after the final words (under ``sync``/``oracle``
    once a turn), so the prompt, and the model's prompt cache, holds in between. A call to a
    tool not shown still runs: the toolset is unchanged (docs/protocol.md, "Tool
    selection"). Off by default: on the train split it gave no consistent gain
    (docs/bench/train-levers/README.md)."""


@dataclass(frozen=True)
class ToolCallReport:
    call_id: int
    name: str
    arguments: dict[str, Any]
    effect: str | None
    status: str
    held: bool
    issued_s: float
    started_s: float | None
    finished_s: float | None
    result: Any = None
    error: str | None = None
    disposition: str | None = None
    sandboxed: bool = False


@dataclass(frozen=True)
class SessionResult:
    """What a session produced and how long it took (times are clock seconds)."""

    policy: str
    ended: str
    answer: str | None
    last_word_s: float
    answer_started_s: float | None
    answer_done_s: float | None
    tool_calls: tuple[ToolCallReport, ...]
    generations: int
    interrupted_generations: int
    suppressed_answers: int
    tokens_generated: int
    protocol_errors: int
    speculation: SpeculationStats
    ledger: Ledger = field(repr=False)

    @property
    def latency_s(self) -> float | None:
        """User's last word to answer complete (never negative)."""
        if self.answer_done_s is None:
            return None
        return max(0.0, self.answer_done_s - self.last_word_s)

    @property
    def first_token_latency_s(self) -> float | None:
        if self.answer_started_s is None:
            return None
        return max(0.0, self.answer_started_s - self.last_word_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "ended": self.ended,
            "answer": self.answer,
            "latency_s": self.latency_s,
            "first_token_latency_s": self.first_token_latency_s,
            "last_word_s": self.last_word_s,
            "answer_done_s": self.answer_done_s,
            "generations": self.generations,
            "interrupted_generations": self.interrupted_generations,
            "suppressed_answers": self.suppressed_answers,
            "tokens_generated": self.tokens_generated,
            "protocol_errors": self.protocol_errors,
            "speculation": dataclasses.asdict(self.speculation),
            "tool_calls": [
                {
                    "id": c.call_id,
                    "name": c.name,
                    "arguments": c.arguments,
                    "effect": c.effect,
                    "status": c.status,
                    "disposition": c.disposition,
                    "sandboxed": c.sandboxed,
                    "held": c.held,
                    "issued_s": c.issued_s,
                    "started_s": c.started_s,
                    "finished_s": c.finished_s,
                    "error": c.error,
                }
                for c in self.tool_calls
            ],
        }


@dataclass
class TurnCounters:
    """What a session counts while it runs (the source of its result's figures)."""

    generations: int = 0
    interrupted: int = 0
    suppressed: int = 0
    tokens: int = 0
    protocol_errors: int = 0
    consecutive_errors: int = 0
    failed_repeats: int = 0
    """The model re-sent a call that had failed, unchanged."""
    stalls: int = 0
    revisions_kept: int = 0
    ungrounded: int = 0
    """Early calls (or call starts) stopped for values nobody had said yet."""
    ungrounded_writes: int = 0
    confirmations: int = 0


def speculation_stats(
    records: list[CallRecord], counters: TurnCounters, final_t: float
) -> SpeculationStats:
    """What speculation cost and bought, from every call version of a turn."""
    undone = (Disposition.CANCELLED, Disposition.COMPENSATED)
    return SpeculationStats(
        issued=len(records),
        run_early=sum(r.started_s is not None and r.started_s < final_t for r in records),
        used=sum(
            r.disposition is Disposition.COMMITTED and r.status is CallStatus.DONE for r in records
        ),
        wasted=sum(r.started_s is not None and r.disposition in undone for r in records),
        compensated=sum(r.disposition is Disposition.COMPENSATED for r in records),
        held=sum(r.held for r in records),
        revisions_kept=counters.revisions_kept,
        ungrounded_refused=counters.ungrounded,
        confirmations_asked=counters.confirmations,
        ungrounded_writes_refused=counters.ungrounded_writes,
    )


def call_reports(records: list[CallRecord]) -> tuple[ToolCallReport, ...]:
    """The current version of each call, in id order, as a caller reads it."""
    return tuple(
        ToolCallReport(
            call_id=r.call_id,
            name=r.name,
            arguments=r.arguments,
            effect=r.effect.value if r.effect else None,
            status=r.status.value,
            held=r.held,
            issued_s=r.issued_s,
            started_s=r.started_s,
            finished_s=r.finished_s,
            result=r.result,
            error=r.error,
            disposition=r.disposition.value if r.disposition else None,
            sandboxed=r.sandboxed,
        )
        for r in sorted(records, key=lambda r: r.call_id)
    )


def session_config(options: Sequence[str], base: SessionConfig | None = None) -> SessionConfig:
    """A :class:`SessionConfig` with fields set from ``NAME=VALUE`` strings (a command line's
    options); a wrong name or value raises ValueError naming the fields there are."""
    config = base or SessionConfig()
    fields = {f.name: f for f in dataclasses.fields(SessionConfig)}
    changes: dict[str, Any] = {}
    for option in options:
        name, sep, raw = option.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise ValueError(
                f"bad session option {option!r}: write NAME=VALUE with NAME one of "
                + ", ".join(sorted(fields))
            )
        current = getattr(config, name)
        if fields[name].type == "int | None":  # an optional count: a number, or none/off
            if raw.strip().lower() in ("none", "off", ""):
                changes[name] = None
                continue
            try:
                changes[name] = int(raw)
            except ValueError:
                changes[name] = 0
            if changes[name] < 1:
                raise ValueError(
                    f"session option {name} takes a whole number of at least 1, or none, "
                    f"not {raw!r}"
                )
        elif isinstance(current, bool):
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(f"session option {name} takes true or false, not {raw!r}")
            changes[name] = raw.lower() in ("true", "1", "yes", "on")
        else:
            try:
                changes[name] = type(current)(raw)
            except ValueError:
                raise ValueError(
                    f"session option {name} takes a {type(current).__name__}, not {raw!r}"
                ) from None
    return dataclasses.replace(config, **changes)
