"""Grammar-constrained decoding on llama.cpp: a grammar's parse state, moved on token by token.

:class:`~specagent.models.llamacpp.LlamaCppBackend` constrains a generation to a GBNF grammar
(``stream(grammar=...)``, built by :mod:`specagent.protocol.grammar`) with llama.cpp's own
grammar engine, but not through llama-cpp-python's ``grammar=`` option, for three reasons:

* **Continuations.** The grammar covers the whole assistant message. A generation that
  continues a prefix (a call cut at a guess, the rest after a checked draft) must start in
  the grammar's state after that prefix; llama-cpp-python always starts at the beginning.
  Here a :class:`GrammarCursor` is moved over the prefix's tokens first, and if the grammar
  does not allow the prefix the generation is decoded unconstrained (never forced on from a
  state the grammar cannot reach).
* **Safety.** llama.cpp aborts the whole process when a grammar is made to accept a token it
  does not allow. Every token is tested (:meth:`GrammarCursor.allows`) before it is accepted;
  should a token ever be refused, constraining stops for the rest of that generation.
* **Cost.** llama-cpp-python masks the whole vocabulary at every token: 4-10 ms a token for
  SmolLM2's 49k-token vocabulary and 12-25 ms for Qwen2.5's 152k (measured on this 2-core
  machine), as much as a small model's decoding step. Like llama.cpp's server, the sampler
  here tests the model's own greedy choice first and masks the vocabulary only when the
  grammar refuses it. The chosen token is the same: the best token the grammar allows.

Greedy decoding only (the backend always decodes at temperature 0). Worker thread only:
nothing here may run while another thread is inside the model.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from .base import ModelError

__all__ = ["GrammarCursor", "Grammars", "constrained_choices"]

_CANDIDATES = 64
"""Draft checks look for the grammar's best token among the model's top this many."""


def _token_dtype() -> Any:
    import numpy as np

    return np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


class GrammarCursor:
    """One parse of a grammar, moved on by the tokens of one assistant message."""

    def __init__(self, sampler: Any, vocab: Any) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._sampler = sampler
        self._vocab = vocab
        self._one = (llama_cpp.llama_token_data * 1)()
        self._dtype = _token_dtype()
        self.active = True  # False once closed or after a refused token
        self.masked = 0  # positions at which the whole vocabulary was masked

    def allows(self, token: int) -> bool:
        """Whether the grammar allows ``token`` next (an end-of-generation token only where
        the grammar is complete)."""
        if not self.active:
            return False
        self._one[0].id = token
        self._one[0].logit = 0.0
        self._one[0].p = 0.0
        candidates = self._lib.llama_token_data_array(
            data=self._one, size=1, selected=-1, sorted=False
        )
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(candidates))
        return self._one[0].logit != float("-inf")

    def take(self, token: int) -> bool:
        """Move on by ``token`` if the grammar allows it; otherwise stop constraining (the
        cursor goes inactive) and return False. An end-of-generation token ends the message
        and is not fed to the grammar."""
        if not self.allows(token):
            self.active = False
            return False
        if not self._lib.llama_vocab_is_eog(self._vocab, token):
            self._lib.llama_sampler_accept(self._sampler, token)
        return True

    def advance(self, tokens: Sequence[int]) -> bool:
        """Move on by ``tokens`` (text already written); False if the grammar refuses one."""
        return all(self.take(int(token)) for token in tokens)

    def constrain(self, candidates_p: Any) -> None:
        """Sampler step: leave the candidates alone if the greedy choice is allowed, else
        mask every token the grammar refuses (the greedy step then takes the best allowed)."""
        if not self.active:
            return
        import numpy as np

        array = candidates_p.contents
        size = int(array.size)
        buffer = (self._lib.llama_token_data * size).from_address(
            ctypes.addressof(array.data.contents)
        )
        view = np.frombuffer(buffer, dtype=self._dtype, count=size)
        best = int(view["logit"].argmax())  # the greedy step's choice (first of equal bests)
        if self.allows(int(view["id"][best])):
            return
        self.masked += 1
        self._lib.llama_sampler_apply(self._sampler, candidates_p)

    def best(self, row: Any, margin: float | None = None) -> int:
        """The token greedy decoding under the grammar picks from logits ``row``; with
        ``margin``, -1 unless it is ahead of the next allowed token by that much (a token the
        grammar forces needs no margin). The model's top candidates are tested one by one;
        only if fewer than two of them are allowed is the whole vocabulary masked."""
        import numpy as np

        count = min(_CANDIDATES, len(row))
        top = np.argpartition(row, -count)[-count:]
        top = top[np.argsort(row[top], kind="stable")[::-1]]
        allowed: list[int] = []
        for token in top:
            if self.allows(int(token)):
                allowed.append(int(token))
                if margin is None or len(allowed) == 2:
                    break
        if len(allowed) < (1 if margin is None else 2):
            masked = self._masked(row)
            allowed = [int(t) for t in np.argsort(masked, kind="stable")[::-1][:2]]
            allowed = [t for t in allowed if masked[t] != -np.inf]
            if not allowed:
                return -1
            if len(allowed) == 1 or margin is None:
                return allowed[0]
        if margin is None:
            return allowed[0]
        return allowed[0] if row[allowed[0]] - row[allowed[1]] >= margin else -1

    def _masked(self, row: Any) -> Any:
        """``row`` with every token the grammar refuses at -inf (one whole-vocabulary pass)."""
        import numpy as np

        self.masked += 1
        data = np.empty(len(row), dtype=self._dtype)
        data["id"] = np.arange(len(row), dtype=np.int32)
        data["logit"] = row
        data["p"] = 0.0
        candidates = self._lib.llama_token_data_array(
            data=data.ctypes.data_as(ctypes.POINTER(self._lib.llama_token_data)),
            size=len(row),
            selected=-1,
            sorted=False,
        )
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(candidates))
        return data["logit"].copy()

    def close(self) -> None:
        self.active = False
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            self._lib.llama_sampler_free(sampler)

    def __del__(self) -> None:
        self.close()


class Grammars:
    """Grammars parsed once per text for one model's vocabulary; each generation gets a
    fresh :class:`GrammarCursor` cloned from the parsed one."""

    def __init__(self, vocab: Any) -> None:
        self._vocab = vocab
        self._parsed: dict[str, Any] = {}

    def cursor(self, text: str, written: Sequence[int] = ()) -> GrammarCursor | None:
        """A cursor at the start of a message, moved on by ``written`` (its tokens so far);
        None if the grammar does not allow them. Raises ModelError if ``text`` is not a
        grammar llama.cpp can parse."""
        import llama_cpp

        parsed = self._parsed.get(text)
        if parsed is None:
            parsed = llama_cpp.llama_sampler_init_grammar(
                self._vocab, text.encode("utf-8"), b"root"
            )
            if not parsed:
                raise ModelError(
                    "llama.cpp could not parse the grammar (its parser printed why to stderr); "
                    f"it begins: {text[:120]!r}"
                )
            self._parsed[text] = parsed
        cursor = GrammarCursor(llama_cpp.llama_sampler_clone(parsed), self._vocab)
        if not cursor.advance(written):
            cursor.close()
            return None
        return cursor

    def close(self) -> None:
        import llama_cpp

        parsed, self._parsed = self._parsed, {}
        for sampler in parsed.values():
            llama_cpp.llama_sampler_free(sampler)


def constrained_choices(
    cursor: GrammarCursor, rows: Sequence[Any], drafted: Sequence[int], margin: float
) -> list[int]:
    """For a draft check under a grammar: the grammar-constrained greedy choice at each
    position, up to the first that differs from the draft (the cursor moves on by the
    agreeing draft tokens). The first row is exact and needs no margin (see draft_check)."""
    choices: list[int] = []
    for index, row in enumerate(rows):
        choice = cursor.best(row, None if index == 0 else margin)
        choices.append(choice)
        if choice < 0 or index >= len(drafted) or choice != drafted[index]:
            break
        cursor.take(choice)
    return choices
