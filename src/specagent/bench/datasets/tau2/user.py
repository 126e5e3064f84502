"""A deterministic stand-in for tau2's LLM user, built from the task's user scenario only.

It never reads the task's evaluation criteria; the rule it follows is in
:class:`Tau2ScriptedUser`. The scenario is written to the user ("You want ..."); the user says
it ("I want ..."), which :func:`first_person` rewrites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CONFIRMATION",
    "Tau2ScriptedUser",
    "UserScenario",
    "first_person",
    "script_for",
    "sentences",
]


@dataclass(frozen=True)
class UserScenario:
    """What tau2 tells its user simulator about the user, and nothing about the answer."""

    reason_for_call: str
    known_info: str = ""
    unknown_info: str = ""
    task_instructions: str = ""

    @classmethod
    def from_task(cls, task: Any) -> UserScenario:
        ins = task.user_scenario.instructions
        if isinstance(ins, str):  # tau2 allows free-text instructions; none here use them
            return cls(reason_for_call=ins)
        return cls(
            reason_for_call=ins.reason_for_call or "",
            known_info=ins.known_info or "",
            unknown_info=ins.unknown_info or "",
            task_instructions=ins.task_instructions or "",
        )


CONFIRMATION = "Yes, please go ahead."
_MAX_EXTRA_CONFIRMATIONS = 2
_ASKS_CONFIRMATION = re.compile(
    r"\b(confirm|proceed|go ahead|shall i|should i|would you like|do you want|yes)\b", re.IGNORECASE
)
# "You are being transferred to a human agent" (the policies' phrase), not "I can transfer you".
_TRANSFERRED = re.compile(r"\b(transferred|transferring)\b[^.!?]*\bhuman\b", re.IGNORECASE)


@dataclass
class Tau2ScriptedUser:
    """A deterministic user that reveals a tau2 scenario over several turns.

    The rule, from the scenario alone (second person turned into first person):

    1. the first sentence of the reason for the call;
    2. who the user is: the known info, then the unknown info ("I do not remember my email");
    3. the rest of the reason for the call, if any;
    4. the task instructions (preferences and conditions), if any;
    5. ``"Yes, please go ahead."``

    It reacts to the agent's last answer in two fixed ways only: an answer that says the user
    is being transferred to a human agent ends the conversation; once the script is spent,
    an answer that asks for confirmation gets ``"Yes, please go ahead."`` again (at most twice),
    and any other answer ends the conversation. The same answers always give the same turns.
    """

    scenario: UserScenario
    _script: list[str] = field(init=False)
    _next: int = field(init=False, default=0)
    _extra_confirmations: int = field(init=False, default=0)
    _done: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._script = script_for(self.scenario)

    def next_turn(self, previous_answer: str | None) -> str | None:
        if self._done:
            return None
        if previous_answer and _TRANSFERRED.search(previous_answer):
            self._done = True
            return None
        if self._next < len(self._script):
            turn = self._script[self._next]
            self._next += 1
            return turn
        if (
            previous_answer
            and _ASKS_CONFIRMATION.search(previous_answer)
            and self._extra_confirmations < _MAX_EXTRA_CONFIRMATIONS
        ):
            self._extra_confirmations += 1
            return CONFIRMATION
        self._done = True
        return None


def script_for(scenario: UserScenario) -> list[str]:
    """The scripted user's planned turns (what it says when nothing makes it deviate)."""
    reason = sentences(scenario.reason_for_call)
    identity = sentences(scenario.known_info) + sentences(scenario.unknown_info)
    instructions = sentences(scenario.task_instructions)
    groups = [reason[:1], identity, reason[1:], instructions]
    turns = [" ".join(first_person(s) for s in g) for g in groups if g]
    return [*turns, CONFIRMATION]


def sentences(text: str) -> list[str]:
    out: list[str] = []
    text = re.sub(r"\s*\n\s*(?=[a-z])", " ", text)  # a line broken mid-sentence
    for line in text.splitlines():
        for piece in re.split(r"(?<=[.!?])\s+(?=[A-Z(\"'#$0-9])", line.strip()):
            piece = piece.strip().lstrip(".").strip()
            if re.search(r"[A-Za-z0-9]", piece):
                out.append(piece if piece[-1] in ".!?)\"'" else piece + ".")
    return out


_APOS = "['\u2019]"
_FIXED_PHRASES = [
    (rf"you{_APOS}re", "I'm"),
    (rf"you{_APOS}ve", "I've"),
    (rf"you{_APOS}ll", "I'll"),
    (rf"you{_APOS}d", "I'd"),
    (r"are you", "am I"),
    (r"were you", "was I"),
    (r"you are", "I am"),
    (r"you were", "I was"),
    (r"yourself", "myself"),
    (r"yours", "mine"),
    (r"your", "my"),
]
_SUBJECT_BEFORE = frozenset(
    re.findall(
        r"\S+",
        "and but or if that because so when as since unless then which who where while although "
        "though until once whether before after than how what why",
    )
)
_SUBJECT_AFTER = frozenset(
    re.findall(
        r"\S+",
        "can cannot can't could will won't would should shall may might must do don't did didn't "
        "does have had has want wanted need needed wish prefer know knew think feel like liked "
        "received got just also only still already really recently realize realized remember "
        "believe plan live made bought paid told gave took sent saw understand",
    )
)
_AGENT_VERBS = {
    "says": "say",
    "tells": "tell",
    "asks": "ask",
    "offers": "offer",
    "mentions": "mention",
    "does": "do",
    "doesn't": "don't",
    "has": "have",
    "is": "are",
    "was": "were",
    "cannot": "cannot",
    "can't": "can't",
    "refuses": "refuse",
    "confirms": "confirm",
    "insists": "insist",
    "suggests": "suggest",
    "provides": "provide",
    "corrects": "correct",
    "agrees": "agree",
    "denies": "deny",
    "tries": "try",
    "gives": "give",
    "wants": "want",
    "needs": "need",
    "explains": "explain",
    "informs": "inform",
    "requests": "request",
    "claims": "claim",
    "finds": "find",
    "makes": "make",
    "sends": "send",
    "checks": "check",
    "replies": "reply",
    "proposes": "propose",
    "notices": "notice",
    "lets": "let",
    "seems": "seem",
    "goes": "go",
    "uses": "use",
    "continues": "continue",
}


def _match_case(original: str, replacement: str) -> str:
    if replacement.startswith("I ") or replacement in ("I", "I'm", "I've", "I'll", "I'd"):
        return replacement
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def _sentence_case(text: str, start: int, word: str) -> str:
    """``word`` capitalised when it starts a sentence of ``text`` at ``start``."""
    before = text[:start].rstrip()
    return word[:1].upper() + word[1:] if not before or before[-1] in ".!?" else word


def first_person(sentence: str) -> str:
    """Rewrite a scenario sentence ("You want ...") as the user saying it ("I want ...")."""
    text = sentence
    for pattern, repl in _FIXED_PHRASES:
        text = re.sub(
            rf"\b{pattern}\b",
            lambda m, r=repl: _match_case(m.group(0), r),
            text,
            flags=re.IGNORECASE,
        )

    def you(m: re.Match[str]) -> str:
        before = text[: m.start()].rstrip()
        prev = re.findall(r"[A-Za-z']+$", before)
        after = re.match(r"\s*([A-Za-z']+)", text[m.end() :])
        following = after.group(1).lower() if after is not None else ""
        subject = (
            not before
            or before[-1] in ".!?;:,(\"'"
            or (prev and prev[0].lower() in _SUBJECT_BEFORE)
            or following in _SUBJECT_AFTER
            or (following.endswith("ed") and len(following) > 3)
        )
        return "I" if subject else _match_case(m.group(0), "me")

    text = re.sub(r"\byou\b", you, text, flags=re.IGNORECASE)
    # The scenario calls the agent "the agent"; the user is talking to it.
    text = re.sub(
        r"\b([Tt]he (service )?agent|(?<!human )(?<!another )(?<!an )(?<!a )Agent)('s)?\b",
        lambda m: _sentence_case(text, m.start(), "your" if m.group(3) else "you"),
        text,
    )
    text = re.sub(
        r"\b(you) (\w+'?\w*)\b",
        lambda m: f"{m.group(1)} {_AGENT_VERBS.get(m.group(2).lower(), m.group(2))}",
        text,
        flags=re.IGNORECASE,
    )
    return text
