"""The preemptive reply of a voice conversation: when one may start, and its end.

The rules are in :mod:`.preempt`; this module carries them out for the
:class:`~.agent.VoiceAgent`: it decides whether a :class:`~.events.TurnEndGuess` may start a
reply, keeps the one pending reply, throws it away (cancelled, audio dropped, claim on the
final words withdrawn, counted) or confirms it (recorded, gate opened, audio released) and
hands it back to the agent, which makes it the turn. Kept apart from the agent's
conversation loop so that both stay small and the life of a preemptive reply reads in one
place.
"""

from __future__ import annotations

from collections.abc import Callable

from ..clock import Clock
from ..events import Event, ToolCallIssued
from .events import PreemptiveConfirmed, PreemptiveDiscarded, PreemptiveStarted, TurnEndGuess
from .listener import Listener
from .preempt import Preemption, PreemptionStats
from .speaker import Speaker
from .turns import VoiceTurn

__all__ = ["Preemptor"]


class Preemptor:
    """Holds at most one preemptive reply, from its start to its confirmation or discard."""

    def __init__(
        self,
        clock: Clock,
        speaker: Speaker,
        listener: Listener,
        record: Callable[[Event], None],
        stats: PreemptionStats,
    ) -> None:
        self._clock = clock
        self._speaker = speaker
        self._listener = listener
        self._record = record
        self.stats = stats
        self.pending: VoiceTurn | None = None

    def may_start(self, guess: TurnEndGuess, utterance: int, running: VoiceTurn | None) -> bool:
        """A complete-looking pause of the utterance being spoken, no reply pending, and no
        turn under way that a reply would overtake: none, or the one this utterance opened
        (a streaming policy's) while it has started no call and no answer."""
        if not guess.complete or self.pending is not None or guess.utterance != utterance:
            return False
        if running is None:
            return True
        return (
            running.utterance == guess.utterance
            and running.answer_id is None
            and not running.session.call_records()
        )

    def preemption(self, guess: TurnEndGuess) -> Preemption:
        """The record of a reply about to start on ``guess`` (counted and recorded)."""
        now = self._clock.now()
        self.stats.started += 1
        self._record(
            PreemptiveStarted(t=now, utterance=guess.utterance, pause=guess.pause, text=guess.text)
        )
        self._listener.claim(guess.utterance, guess.pause, guess.text)
        return Preemption(guess.utterance, guess.pause, guess.text, started_t=now)

    def started(self, turn: VoiceTurn) -> None:
        assert turn.preempt is not None and self.pending is None
        self.pending = turn

    def watch(self, running: VoiceTurn, event: Event) -> None:
        """An event of the turn under way: a call it starts discards a pending reply that
        would replace it (that turn's work is no longer only reading partial words)."""
        pending = self.pending
        if isinstance(event, ToolCallIssued) and pending and pending.fork_at == running.fork_at:
            self.discard("the turn under way started a call")

    def discard(self, reason: str) -> None:
        """Throw the pending reply away unheard, with everything it started."""
        turn, self.pending = self.pending, None
        if turn is None:
            return
        preempt = turn.preempt
        assert preempt is not None
        turn.task.cancel()
        for answer_id in preempt.answers:
            self._speaker.drop(answer_id)
        self._listener.unclaim(preempt.utterance)
        self.stats.discard(reason)
        self._record(
            PreemptiveDiscarded(t=self._clock.now(), utterance=preempt.utterance, reason=reason)
        )

    def confirm(self, utterance: int) -> VoiceTurn | None:
        """The VAD ended ``utterance``: its pending reply is confirmed and returned (its
        events recorded, its tools ungated, its audio released); None if there is none."""
        turn = self.pending
        if turn is None:
            return None
        preempt = turn.preempt
        assert preempt is not None
        if preempt.utterance != utterance:
            self.discard("another utterance ended")
            return None
        self.pending = None
        now = self._clock.now()
        waited = now - preempt.started_t
        self.stats.confirmed += 1
        self.stats.waited_s.append(waited)
        self._record(PreemptiveConfirmed(t=now, utterance=utterance, waited_s=waited))
        for event in preempt.events:
            self._record(event)
        turn.preempt = None
        preempt.gate.set()
        for answer_id in preempt.answers:
            self._speaker.release(answer_id)
        return turn
