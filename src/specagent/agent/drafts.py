"""Drafts for ``verified``: the speculator's outputs, and the two backend views that record
them and hand them to the actor.

:class:`DraftBook` keeps what the speculator wrote and turns it into the actor's drafts;
:class:`RecordingBackend` is the speculator's view of the model (it keeps every output);
:class:`DraftingBackend` is the actor's (each generation is handed the next draft and the
check's outcome is counted).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Sequence

from ..grounding import said_values_prefix
from ..models.base import ChatMessage, GenerationRequest, ModelBackend
from ..protocol import AnswerAction, ParseError, RemoveAction, ToolCallAction, parse_output
from ..tools import Toolset
from .call_rules import call_key

__all__ = ["DraftBook", "DraftingBackend", "RecordingBackend"]

_CALL_ID_RE = re.compile(r'<tool_call id="\d+"')
_NAME_RE = re.compile(r'"name"\s*:\s*"([^"]+)"')
_ARGUMENTS_KEY = '"arguments"'


class DraftBook:
    """What the speculator wrote, turned into drafts for the actor's generations."""

    def __init__(self, toolset: Toolset | None = None) -> None:
        self._toolset = toolset
        self.outputs: list[str] = []  # the speculator's generations, in order
        self._offered: set[str] = set()  # drafts handed out, as the speculator wrote them

    def actions(self) -> tuple[list[tuple[str, str]], str | None, str | None]:
        """The speculator's standing calls as (key, text), in id order; its last answer; and
        the action it was still writing when it was stopped, if any.

        A revision replaces its call's text; a removal drops it; pauses and unreadable
        outputs are skipped. A generation stopped before it wrote anything (new words came
        in while its prompt was evaluated) changes nothing: the action before it still stands.
        """
        calls: dict[int, tuple[str, str]] = {}
        answer: str | None = None
        unfinished: str | None = None
        next_id = 1
        written = [text for text in self.outputs if text.strip()]
        for index, text in enumerate(written):
            try:
                action = parse_output(text, next_id).action
            except ParseError:
                # Cut off by new words or the final words (the speculator is stopped mid-call):
                # its start is still a good draft. Earlier unreadable outputs are just skipped.
                last = index == len(written) - 1
                if last and ("<tool_call" in text or "<answer>" in text):
                    unfinished = text
                continue
            if isinstance(action, ToolCallAction):
                calls[action.call_id] = (call_key(action.name, action.arguments), text)
                next_id = max(next_id, action.call_id + 1)
            elif isinstance(action, RemoveAction):
                calls.pop(action.call_id, None)
            elif isinstance(action, AnswerAction):
                answer = text
        return [calls[i] for i in sorted(calls)], answer, unfinished

    def draft_for(self, made: set[str], next_id: int, evidence: str) -> str:
        """The draft for the actor's next generation: the first guessed call it has not made
        (renumbered to the id the actor will use), else the unfinished action, else the
        guessed answer, else nothing.

        Each guess is offered once: the generation it was given to either wrote it (and
        the call is made) or wrote something else in its place. A call draft stops before
        any argument value missing from ``evidence`` (what the actor has heard and read)
        and before a value the speculator was cut off in: where a value was never said the
        model is unsure, and a near-tie could go the draft's way in a batch and the other
        way in plain decoding. The actor writes such values itself.
        """
        calls, answer, unfinished = self.actions()
        guesses = [text for key, text in calls if key not in made] + [unfinished, answer]
        for text in guesses:
            if text is not None and text not in self._offered:
                self._offered.add(text)
                if "<tool_call" not in text:
                    return text  # the answer
                renumbered = _CALL_ID_RE.sub(f'<tool_call id="{next_id}"', text, count=1)
                if self._writes(renumbered):  # the actor decodes a write's arguments itself
                    return renumbered[: renumbered.index(_ARGUMENTS_KEY)]
                return said_values_prefix(renumbered, evidence)
        return ""

    def _writes(self, call_text: str) -> bool:
        """Whether a drafted call is to a state-changing (or unknown) tool and already reached
        its arguments."""
        if self._toolset is None or _ARGUMENTS_KEY not in call_text:
            return False
        name = _NAME_RE.search(call_text[: call_text.index(_ARGUMENTS_KEY)])
        tool = self._toolset.get(name.group(1)) if name else None
        return tool is None or tool.effect.changes_state


class RecordingBackend(ModelBackend):
    """The speculator's view of the model: passes streams through, keeps complete outputs.
    Each request goes to the inner backend as it is (which honours, ignores or refuses its
    fields)."""

    def __init__(self, inner: ModelBackend, book: DraftBook) -> None:
        self.inner, self.book = inner, book
        self.name = inner.name
        self.supports_prefix = inner.supports_prefix
        self.supports_grammar = inner.supports_grammar
        self.ignores = inner.ignores

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        pieces: list[str] = []
        try:
            async with contextlib.aclosing(self.inner.stream(request)) as stream:
                async for piece in stream:
                    pieces.append(piece)
                    yield piece
        finally:
            # Kept even when the session stops reading early (it does once an action is
            # complete) or cuts the generation: a draft is checked before use, so a partial
            # one can only cost its check.
            self.book.outputs.append(request.prefix + "".join(pieces))

    async def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        await self.inner.warm_up(messages)


class DraftingBackend(ModelBackend):
    """The actor's view of the model: every generation is handed the book's next draft.
    A request's ``prefix`` and ``grammar`` go to the inner backend (a continuation gets no
    draft); a request that sets a ``draft`` itself is refused: the book writes them."""

    def __init__(self, inner: ModelBackend, draft: Callable[[], str]) -> None:
        self.inner, self._draft = inner, draft
        self.name = inner.name
        self.supports_prefix = inner.supports_prefix
        self.supports_grammar = inner.supports_grammar
        self.ignores = inner.ignores
        self.drafted_tokens = 0
        self.accepted_tokens = 0
        self._cache_restored = False

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """The inner stream, given the next draft; a ``grammar`` goes with it (llama.cpp
        checks the draft against decoding under the grammar)."""
        self.check_request(request)
        messages = request.messages
        if not self._cache_restored and len(messages) > 1:
            # The speculator left its own context in the model's prefix cache. Put back what
            # sync would find there (the context before this turn's request), so the actor's
            # prompt is evaluated from the same point, in the same batches, as sync's. Like
            # the session's own warm-up, this charges no clock time.
            self._cache_restored = True
            await self.inner.warm_up(messages[:-1])
        draft = "" if request.prefix or not self.inner.supports_draft else self._draft()
        self.inner.last_draft = None
        try:
            async with contextlib.aclosing(
                self.inner.stream(dataclasses.replace(request, draft=draft))
            ) as stream:
                async for piece in stream:
                    yield piece
        finally:  # the session stops reading once the action is complete
            checked = self.inner.last_draft
            if draft and checked is not None:
                self.drafted_tokens += checked.draft_tokens
                self.accepted_tokens += checked.accepted_tokens

    async def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        await self.inner.warm_up(messages)
