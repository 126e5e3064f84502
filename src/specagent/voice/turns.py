"""One user turn of a voice conversation: its session, and how its answer reaches the speaker.

The voice agent runs each user turn as a :class:`~specagent.agent.Session` reading live
speech. :class:`VoiceTurn` keeps what the agent needs beside the session: which utterance
opened it, where its events begin in the conversation ledger, the answer being spoken, and,
while it is a preemptive reply not yet confirmed, its :class:`~.preempt.Preemption`.
:meth:`VoiceTurn.route_answer` turns the session's answer events into speakable pieces for
the :class:`~.speaker.Speaker` (held while the reply is preemptive). Kept apart from the
agent's conversation loop so each reads on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from ..agent import Session, SessionResult
from ..events import AnswerCompleted, AnswerDelta, AnswerStarted, Event, Interrupt, ModelOutput
from .preempt import Preemption
from .speaker import Speaker
from .stream import LiveSpeech
from .tts import SentenceSplitter

__all__ = ["VoiceTurn"]


@dataclass
class VoiceTurn:
    index: int
    source: LiveSpeech
    utterance: int
    """The utterance whose words opened it."""
    fork_at: int
    """Length of the conversation ledger when it started (its own events come after)."""
    splitter: SentenceSplitter
    preempt: Preemption | None = None
    """Set while this is a preemptive reply whose end of turn is not yet confirmed."""
    session: Session = field(init=False)
    task: asyncio.Task[SessionResult] = field(init=False)
    answer_id: int | None = None
    """The answer being written (and spoken), if any."""
    answer_text: str = ""

    def route_answer(
        self, event: Event, speaker: Speaker, new_answer_id: Callable[[], int]
    ) -> None:
        """Stream the session's answer to the speaker piece by piece as it is written."""
        if isinstance(event, AnswerStarted):
            self.answer_id, self.answer_text = new_answer_id(), ""
            self.splitter.clear()
            if self.preempt is not None:
                speaker.hold(self.answer_id)
                self.preempt.answers.append(self.answer_id)
        elif isinstance(event, AnswerDelta) and self.answer_id is not None:
            self.answer_text += event.text
            for piece in self.splitter.push(event.text):
                speaker.say(self.answer_id, piece)
        elif isinstance(event, AnswerCompleted) and self.answer_id is not None:
            if not self.answer_text:  # an answer seen only once complete (untagged)
                for piece in self.splitter.push(event.text):
                    speaker.say(self.answer_id, piece)
            rest = self.splitter.flush()
            if rest:
                speaker.say(self.answer_id, rest)
            speaker.end_answer(self.answer_id)
            self.answer_id = None
        elif (
            isinstance(event, Interrupt) or (isinstance(event, ModelOutput) and event.interrupted)
        ) and self.answer_id is not None:
            self.splitter.clear()
            speaker.end_answer(self.answer_id)
            self.answer_id = None
