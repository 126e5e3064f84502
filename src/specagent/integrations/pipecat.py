"""A specagent conversation as a Pipecat processor: speculative tool calls inside a voice pipeline.

:class:`SpecagentProcessor` takes the place of a Pipecat pipeline's user aggregator and LLM
service (extra ``pipecat``, ``pipecat-ai`` 1.14). Downstream of speech recognition it reads

* ``InterimTranscriptionFrame``: the recogniser's running hypothesis of the utterance. Words two
  successive hypotheses agree on are passed to the session as a *partial* update, so lookups
  start while the user is still talking;
* ``TranscriptionFrame``: the utterance's final text; the words not passed on yet become the
  *final* update (``final_on="transcription"``, the default). With
  ``final_on="user_stopped_speaking"`` a transcription is one more partial update and Pipecat's
  ``UserStoppedSpeakingFrame`` (its turn detection) marks the end of the turn;
* ``InterruptionFrame`` (barge-in): the answer being written is stopped at once, the answer
  text not yet sent downstream is dropped, and the response is closed; the user's next words
  continue the turn.

and writes the answer downstream, as it is generated, as ``LLMFullResponseStartFrame``,
``LLMTextFrame`` pieces and ``LLMFullResponseEndFrame``: what a TTS service expects from an LLM.

Tools are specagent tools (a :class:`~specagent.tools.Toolset`, so also MCP tools), run by the
specagent runtime under the chosen policy: read-only calls may start mid-utterance, calls that
change state wait for their commit point. Each user turn is one specagent session on the
conversation's ledger (:class:`~specagent.serve.conversation.ConversationRunner`).

An ``EndFrame`` lets a turn whose final words were heard finish (within ``end_timeout_s``)
before the frame goes on; a ``CancelFrame`` stops everything at once. Either way the turn
under way is closed in the ledger and its held calls never run.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pipecat.frames.frames import (
    CancelFrame,
    DataFrame,
    EndFrame,
    Frame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    StartFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from ..agent import Policy, SessionConfig, SessionResult
from ..clock import Clock, RealClock
from ..events import AnswerCompleted, AnswerDelta, AnswerStarted, Event, Interrupt, ModelOutput
from ..executor import LatencyFn
from ..ledger import Ledger
from ..models.base import ModelBackend
from ..serve.conversation import (
    LIVE_POLICIES,
    ConversationRunner,
    ConversationState,
    ConversationTools,
)
from ..tools import Toolset

__all__ = ["SpecagentProcessor", "TranscriptWords"]

_PUNCT = re.compile(r"[^\w']+")


def _same(a: str, b: str) -> bool:
    return _PUNCT.sub("", a.lower()) == _PUNCT.sub("", b.lower())


def _agreed(first: list[str], second: list[str]) -> list[str]:
    """The words two hypotheses share from the start (as the second spells them)."""
    out = []
    for a, b in zip(first, second, strict=False):
        if not _same(a, b):
            break
        out.append(b)
    return out


@dataclass
class _TurnEnded(DataFrame):
    """Where the user stopped speaking, among the frames this processor has yet to process.

    ``UserStoppedSpeakingFrame`` is a system frame: it overtakes the transcriptions queued
    before it. Re-queued as data, the end of the turn comes after them."""


class TranscriptWords:
    """Turns a recogniser's running hypotheses of one utterance into new words to pass on.

    A word is passed on once two successive hypotheses agree on it (the last word of a
    hypothesis often changes); what was passed on is never taken back. ``revised`` counts final
    texts that disagree with words already passed on (the final then carries only the words
    after them, as the session cannot unhear).
    """

    def __init__(self) -> None:
        self._previous: list[str] = []
        self._passed: list[str] = []
        self.revised = 0

    def interim(self, text: str) -> str:
        """Words newly agreed on, as one update ('' if none)."""
        words = text.split()
        agreed = _agreed(self._previous, words)
        self._previous = words
        done = self._passed
        if len(agreed) <= len(done) or len(_agreed(agreed, done)) < len(done):
            return ""  # nothing new, or the recogniser changed words already passed on
        fresh = agreed[len(done) :]
        self._passed = done + fresh
        return " ".join(fresh)

    def final(self, text: str) -> str:
        """The utterance's words not yet passed on; the next utterance starts afresh."""
        words = text.split()
        done = self._passed
        if len(_agreed(words, done)) < len(done):
            self.revised += 1
        self._previous, self._passed = [], []
        return " ".join(words[len(done) :])


class SpecagentProcessor(FrameProcessor):
    """A specagent conversation in a Pipecat pipeline (see the module docstring)."""

    def __init__(
        self,
        backend: ModelBackend,
        toolset: Toolset,
        *,
        policy: Policy = Policy.ASYNC,
        clock: Clock | None = None,
        latency: LatencyFn | None = None,
        ledger: Ledger | None = None,
        session_config: SessionConfig | None = None,
        final_on: Literal["transcription", "user_stopped_speaking"] = "transcription",
        end_timeout_s: float = 30.0,
        observer: Callable[[int, Event], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """``observer`` hears every session event with its turn number (for logs, metrics)."""
        super().__init__(**kwargs)
        if policy not in LIVE_POLICIES:
            live = ", ".join(p.value for p in LIVE_POLICIES)
            raise ValueError(f"policy {policy.value!r} cannot hear live speech; use {live}")
        self.clock = clock or RealClock()
        ledger = ledger if ledger is not None else Ledger()
        self.state = ConversationState(
            ledger.session_id, ledger, ConversationTools(toolset, latency), policy
        )
        self.runner = ConversationRunner(
            self.state, backend, self.clock, self, session_config=session_config
        )
        self.results: list[SessionResult] = []
        """Every finished turn's result, in order."""
        self.errors: list[Exception] = []
        self.words = TranscriptWords()
        self._final_on = final_on
        self._end_timeout = end_timeout_s
        self._observer = observer
        self._out: asyncio.Queue[Frame] = asyncio.Queue()
        self._responding = False  # a response start went out without its end
        self._final_waiting = False  # the final words were heard and the turn is not over
        self._stopped = 0  # user-stopped-speaking signals whose end of turn is still queued
        self._conversation: asyncio.Task[None] | None = None
        self._pusher: asyncio.Task[None] | None = None

    @property
    def ledger(self) -> Ledger:
        return self.state.ledger

    # -- frames in --------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._conversation = self.create_task(self.runner.run(), "specagent-conversation")
            self._pusher = self.create_task(self._push_answers(), "specagent-answers")
        elif isinstance(frame, InterimTranscriptionFrame):
            fresh = self.words.interim(frame.text)
            if fresh:
                self.runner.hear(fresh, False)
        elif isinstance(frame, TranscriptionFrame):
            rest = self.words.final(frame.text)
            final = self._final_on == "transcription"
            if rest or final:
                self._hear(rest, final)
        elif isinstance(frame, UserStoppedSpeakingFrame):
            if self._final_on == "user_stopped_speaking":
                self._stopped += 1
                await self.queue_frame(_TurnEnded())
            await self.push_frame(frame, direction)
        elif isinstance(frame, _TurnEnded):
            self._end_of_turn()
        elif isinstance(frame, InterruptionFrame):
            await self._barge_in()
            await self.push_frame(frame, direction)
        elif isinstance(frame, EndFrame):
            await self._finish(graceful=True)
            await self.push_frame(frame, direction)
        elif isinstance(frame, CancelFrame):
            await self._finish(graceful=False)
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    def _end_of_turn(self) -> None:
        if self._stopped:
            self._stopped -= 1
            self._hear("", True)

    def _hear(self, text: str, final: bool) -> None:
        if final:
            self._final_waiting = True
        self.runner.hear(text, final)

    async def _barge_in(self) -> None:
        """Stop the answer: the session's generation, and the text not yet sent on."""
        self.runner.interrupt("barge-in")
        while not self._out.empty():
            self._out.get_nowait()
            self._out.task_done()
        if self._responding:
            self._responding = False
            await self.push_frame(LLMFullResponseEndFrame())

    async def _finish(self, *, graceful: bool) -> None:
        if graceful:  # an end of turn still queued behind this frame comes first
            while self._stopped:
                self._end_of_turn()
        if graceful and self._final_waiting and self._conversation is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._end_timeout):
                    await self.runner.idle()
            await self._out.join()  # the answer's last frames go before the end
        for task in (self._conversation, self._pusher):
            if task is not None:
                await self.cancel_task(task)
        self._conversation = self._pusher = None

    # -- the runner's turns (TurnListener) --------------------------------------------------------

    def event(self, turn: int, event: Event) -> None:
        if self._observer is not None:
            self._observer(turn, event)
        if isinstance(event, AnswerStarted):
            self._send(LLMFullResponseStartFrame())
            self._responding = True
        elif isinstance(event, AnswerDelta) and self._responding:
            self._send(LLMTextFrame(event.text))
        elif isinstance(event, AnswerCompleted):
            if not self._responding:  # an answer seen only once complete
                self._send(LLMFullResponseStartFrame())
                self._send(LLMTextFrame(event.text))
            self._send(LLMFullResponseEndFrame())
            self._responding = False
        elif (
            isinstance(event, Interrupt) or (isinstance(event, ModelOutput) and event.interrupted)
        ) and self._responding:
            self._send(LLMFullResponseEndFrame())
            self._responding = False

    def turn_ended(self, turn: int, result: SessionResult | None, error: Exception | None) -> None:
        self._final_waiting = False
        if result is not None:
            self.results.append(result)
        elif error is not None:
            self.errors.append(error)

    # -- frames out -------------------------------------------------------------------------------

    def _send(self, frame: Frame) -> None:
        self._out.put_nowait(frame)

    async def _push_answers(self) -> None:
        """Push the answer's frames downstream in order (session events arrive synchronously)."""
        while True:
            frame = await self._out.get()
            try:
                await self.push_frame(frame)
            finally:
                self._out.task_done()
