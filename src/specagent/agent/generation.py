"""One generation: what the model wrote, when, and the pure decisions made while it streams.

The session's loop streams tokens from the backend; everything it decides token by token
without touching the session (where the answer text starts and what of it to send, whether
the event at the head of the inbox cuts the generation, when the answer's first token came)
lives here as plain functions of the text written so far.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..events import Event, Interrupt, ToolCallFailed, ToolCallFinished, UserSpeech
from ..protocol import action_started
from .policies import Policy
from .states import AgentState

__all__ = [
    "Generation",
    "Outcome",
    "answer_to_send",
    "cuts_generation",
    "first_answer_token_t",
    "has_reasoning",
]

_ANSWER_CLOSE = "</answer>"


class Outcome(enum.Enum):
    """How a generation ended."""

    COMPLETE = "complete"  # it wrote a whole action (or ran out of tokens)
    INTERRUPTED = "interrupted"  # an event cut it at a token boundary
    SUPPRESSED = "suppressed"  # it began an answer that may not be given yet
    UNBACKED_CLAIM = "unbacked_claim"  # its answer said an action was done that no call did


@dataclass
class Generation:
    text: str = ""
    tokens: int = 0
    started_t: float = 0.0
    saw_final: bool = False  # the user's final update was in this generation's context
    speech_seen: int = 0  # user speech events recorded when it began (later ones it has not heard)
    token_ends: list[tuple[int, float]] = field(default_factory=list)
    outcome: Outcome = Outcome.COMPLETE
    recorded: bool = False  # its ModelOutput is already in the ledger (resume re-acts it)
    answer_sent: int = 0  # characters of the answer already recorded as AnswerDelta events


def has_reasoning(text: str) -> bool:
    start = text.find("<think>")
    return start >= 0 and bool(text[start + len("<think>") :].replace("</think>", "").strip())


def answer_to_send(gen: Generation, start: int) -> str:
    """Answer text written since the last delta, holding back what may be the beginning of
    the closing tag; advances ``gen.answer_sent``."""
    body = gen.text[start:]
    close = body.find(_ANSWER_CLOSE)
    if close >= 0:
        body = body[:close]
    else:
        for k in range(min(len(body), len(_ANSWER_CLOSE) - 1), 0, -1):
            if _ANSWER_CLOSE.startswith(body[-k:]):
                body = body[:-k]
                break
    if len(body) <= gen.answer_sent:
        return ""
    fresh, gen.answer_sent = body[gen.answer_sent :], len(body)
    return fresh


def cuts_generation(head: Event | None, state: AgentState, policy: Policy, text: str) -> bool:
    """Whether the most urgent waiting event stops the generation at this token.

    Reasoning is cut at once. An action the model has begun writing is finished first: cut, it
    would be thrown away; finished, it can still be revised or removed, and a state-changing
    call waits for its commit point anyway. An interrupt, and the user speaking over the
    answer (barge-in), stop everything at once.
    """
    if head is None:
        return False
    if isinstance(head, Interrupt):
        return True
    if state is AgentState.EMITTING:
        return isinstance(head, UserSpeech)
    if not policy.interrupts_generation and not isinstance(head, UserSpeech):
        return False
    if not isinstance(head, (UserSpeech, ToolCallFinished, ToolCallFailed)):
        return False
    return not action_started(text)


def first_answer_token_t(gen: Generation, answer: str) -> float:
    """When the token that began the answer's text was written."""
    at = gen.text.find(answer[:16]) if answer else -1
    for end, t in gen.token_ends:
        if end > max(at, 0):
            return t
    return gen.token_ends[-1][1] if gen.token_ends else 0.0
