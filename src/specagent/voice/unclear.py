"""Words heard too unsure to act on: the agent asks the user to say them again.

A person who did not catch what was said asks; they do not guess and act. Whisper says how
sure it was of each pass (:class:`~.asr.Transcript`), and below Whisper's own line for a
failed decode (:data:`~.asr.WHISPER_LOG_PROB_THRESHOLD`, the default of
``VoiceConfig.unclear_below``) the listener sends a :class:`~.events.VoiceUnclear` instead of
the user's final words (:mod:`.listener`). The voice agent then makes sure nothing those words
asked for happens:

* no preemptive reply starts on words marked unclear (:class:`~.events.TurnEndGuess`), and
  one pending for the utterance is discarded, with :data:`DISCARD_REASON`;
* a streaming policy's turn that this utterance opened (it read only the utterance's partial
  words, each from a pass sure enough to pass words on) is cut (``Session.cut``, reason
  :data:`CUT_REASON`) and taken out of the conversation: it never heard a final update, so
  none of its state-changing calls reached its commit point, and its session withdraws
  every call it left undecided before it stops (a held call cancelled, a read still running
  cancelled, a reversible call ``speculative`` ran early compensated, a sandbox dropped);
* the agent says :data:`REPEAT_REQUEST`, unless the user has already started speaking
  again, and the model is told in its own ledger (:data:`MODEL_NOTE`), without the words.

This module holds the decision and its wording; the agent's loop only routes the event here.
"""

from __future__ import annotations

from collections.abc import Callable

from ..ledger import Ledger
from .events import VoiceUnclear
from .preempt import fork_conversation
from .preemptor import Preemptor
from .speaker import Speaker
from .turns import VoiceTurn

__all__ = [
    "CUT_REASON",
    "DISCARD_REASON",
    "MODEL_NOTE",
    "REPEAT_REQUEST",
    "UnclearWords",
    "without_turn",
]

REPEAT_REQUEST = "Sorry, I didn't catch that. Could you say it again?"
MODEL_NOTE = "(You could not make out what the user just said and asked them to say it again.)"
DISCARD_REASON = "the words were unclear"
CUT_REASON = "unclear"
"""The reason a dropped turn's calls are withdrawn with, and its ``SessionEnded`` gives."""


class UnclearWords:
    """Carries out, for the voice agent, what an unclear utterance calls for."""

    def __init__(
        self, preemptor: Preemptor, speaker: Speaker, new_answer_id: Callable[[], int]
    ) -> None:
        self._preemptor = preemptor
        self._speaker = speaker
        self._new_answer_id = new_answer_id
        self.asked = 0
        """How many times the user was asked to repeat."""

    def handle(
        self,
        event: VoiceUnclear,
        running: VoiceTurn | None,
        latest_utterance: int,
    ) -> VoiceTurn | None:
        """Discard the utterance's preemptive reply, cut the turn it opened (returned: the
        agent takes it out of the conversation with :func:`without_turn`; its session settles
        its calls by itself), and ask the user to repeat unless a later utterance
        (``latest_utterance``) has begun."""
        pending = self._preemptor.pending
        if pending is not None and pending.utterance == event.utterance:
            self._preemptor.discard(DISCARD_REASON)
        dropped = None
        if running is not None and running.utterance == event.utterance:
            dropped = running
            running.session.cut(CUT_REASON)
            running.source.leftovers()
            if running.answer_id is not None:
                self._speaker.end_answer(running.answer_id)
        if latest_utterance == event.utterance:
            self.asked += 1
            answer_id = self._new_answer_id()
            self._speaker.say(answer_id, REPEAT_REQUEST)
            self._speaker.end_answer(answer_id)
        return dropped


def without_turn(conversation: Ledger, turn: VoiceTurn) -> Ledger:
    """The conversation as it was before ``turn`` started (same session id)."""
    return fork_conversation(conversation, turn.fork_at)
