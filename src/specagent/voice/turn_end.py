"""Does the user's turn look over? A small rule on the transcript, and what follows from it.

A fixed end-of-turn silence has to be long enough for the slowest pause in the middle of a
sentence (500 ms was the old default), and that wait alone is more than a person waits for an
answer. The transcript of the words so far says a lot about whether the user has finished:
"What is the weather in Boston on Friday?" is a whole request, "Book a table for" is not. So
when the user pauses, the listener transcribes what was said (the *tentative* pass) and asks
:func:`judge_turn_end`:

* **complete** (the text ends a sentence with ``.``, ``?`` or ``!``, its last word is not one
  that needs more words after it, and it is not only fillers): the turn may end after the
  short ``complete_silence_s``, and the agent starts a *preemptive reply* at once (see
  :mod:`specagent.voice.preempt`), so the wait for the confirming silence overlaps the
  reply's own work;
* **incomplete** (no sentence end, a trailing ``,`` or ``...``, or a last word such as "and",
  "to", "the", "for", "um"): the turn ends only after the long ``incomplete_silence_s``.

Until the words are judged the pause does not end the turn (up to the long silence): ending
it sooner would not give the agent the words sooner, since they come from that same pass. The rule is
deliberately simple and inspectable (Whisper punctuates its output, which carries most of the
signal); its false cuts are measured on the spoken set (``benchmarks/voice_latency.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TurnEndConfig", "TurnEndJudgement", "judge_turn_end"]


@dataclass(frozen=True)
class TurnEndConfig:
    """How long a pause ends the turn, depending on how complete the words so far look."""

    complete_silence_s: float = 0.5
    """Silence that ends a turn whose transcript looks complete. Shorter cuts more users
    off in a pause after a whole sentence (a false start); on this machine the words are
    judged about 0.5 s into the silence anyway (0.16 s before the pass, ~0.35 s of Whisper),
    so a shorter value would rarely end a turn sooner (docs/voice.md)."""
    incomplete_silence_s: float = 1.2
    """Silence that ends a turn whose transcript looks unfinished."""
    adaptive: bool = True
    """Use the two silences above (else only the endpointer's fixed ``end_silence_s``)."""

    def __post_init__(self) -> None:
        if not 0 < self.complete_silence_s <= self.incomplete_silence_s:
            raise ValueError("need 0 < complete_silence_s <= incomplete_silence_s")

    def silence_for(self, complete: bool) -> float:
        return self.complete_silence_s if complete else self.incomplete_silence_s


@dataclass(frozen=True)
class TurnEndJudgement:
    complete: bool
    reason: str
    """Why, in words (kept in the voice ledger for inspection)."""


# Words after which an English sentence (almost) always goes on: conjunctions, articles,
# prepositions, possessives, auxiliaries and fillers.
_NEEDS_MORE = frozenset(
    """
    and or but so because if when while although though unless until than that which who
    whose whom where to of for from in on at by with about into onto over under after before
    between through during without within like as the a an my your his her its our their
    this these those some any every each no i we you he she they it is are was were be been
    am do does did have has had will would can could should shall may might must not um uh
    er erm hmm ah well also plus then just really very
    """.split()
)
_FILLERS = frozenset("um uh er erm hmm ah oh well so okay ok like".split())
_WORD = re.compile(r"[a-z0-9']+")
_SENTENCE_END = re.compile(r"[.?!][\"')\]]*$")


def judge_turn_end(text: str) -> TurnEndJudgement:
    """Whether ``text`` (the whole utterance so far, as Whisper wrote it) looks finished."""
    stripped = text.strip()
    words = _WORD.findall(stripped.lower())
    if not words:
        return TurnEndJudgement(False, "no words")
    if stripped.endswith(("...", "…", ",", ";", ":", "-")):
        return TurnEndJudgement(False, "trails off")
    if not _SENTENCE_END.search(stripped):
        return TurnEndJudgement(False, "no sentence end")
    if words[-1] in _NEEDS_MORE:
        return TurnEndJudgement(False, f"ends with {words[-1]!r}")
    if all(w in _FILLERS for w in words):
        return TurnEndJudgement(False, "only fillers")
    return TurnEndJudgement(True, "sentence end")
