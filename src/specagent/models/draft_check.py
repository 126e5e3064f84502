"""Checking a drafted continuation against llama.cpp's greedy decoding in one batched pass.

A draft is text another run guessed the model would write next (see
:mod:`specagent.agent.verified`). Decoding it token by token would cost as much as writing it.
Instead, the context's new tokens and all draft tokens are evaluated in one batch (prompt
speed), with logits requested at every draft position. At each position the model's greedy
choice is compared with the draft's token; the draft is kept up to the first disagreement, or
the first near-tie (:data:`MARGIN`). The text kept is therefore what greedy decoding would
have produced, and decoding carries on after it. (Exactly so, but for one caveat: the kept
tokens' cache entries were computed in a batch, and the last bits of floating-point rounding
differ from one-by-one evaluation; a later near-tie can therefore still go the other way.)

This uses llama-cpp-python's public low-level API (``llama_batch_init``, ``llama_decode``,
``llama_get_logits_ith``, ``llama_memory_seq_rm``) and keeps the ``Llama`` object's token
bookkeeping (``input_ids``, ``n_tokens``) in step, so its prefix cache keeps working.
Worker thread only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import ModelError
from .llama_grammar import GrammarCursor, constrained_choices

__all__ = ["DraftCheck", "MARGIN", "check_draft"]


@dataclass
class DraftCheck:
    """The outcome of checking one draft."""

    tokens: list[int]  # the context's tokens and the accepted draft tokens: decoding goes on here
    text: str  # the accepted draft tokens as text
    pieces: list[str]  # the same text cut at token boundaries (a character split over tokens
    # comes with its last token)
    accepted: int  # draft tokens kept
    drafted: int  # draft tokens checked
    evaluated: int  # tokens evaluated (the context's new tokens, the draft but its last)
    decoded: int = 0  # the model's own first token when no draft token was kept (exact row)
    ended: bool = False  # that next token ends the turn: nothing more to decode
    compute_s: float = 0.0
    template: Any = None  # the rendered chat template (stop rules for the continuation)
    constrained: bool = False  # checked against decoding under a grammar


def _common_prefix(a: Any, b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if int(x) != y:
            break
        n += 1
    return n


def _whole_characters(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


MARGIN = 0.1
"""A draft token is kept only if the model prefers it by at least this many logits. A batch
evaluated at once rounds differently from tokens evaluated one by one (llama.cpp's CPU
kernels differ), so a near-tie could resolve differently than in plain decoding; there,
decoding decides instead of the draft."""


def check_draft(
    llama: Any,
    prompt: list[int],
    drafted: list[int],
    margin: float = MARGIN,
    grammar: GrammarCursor | None = None,
) -> DraftCheck:
    """Evaluate ``prompt`` + ``drafted`` and keep the draft's longest greedy-agreeing start
    (each kept token the model's clear first choice, see :data:`MARGIN`). With ``grammar``
    (its state where the draft begins; it is moved on) the choices are those of greedy
    decoding under that grammar."""
    import llama_cpp
    import numpy as np

    total = len(prompt) + len(drafted)
    if total > llama.n_ctx():
        raise ModelError(
            f"prompt and draft ({total} tokens) exceed the context window ({llama.n_ctx()})"
        )
    # Reuse the cached start of the context and evaluate the rest of it exactly as plain
    # decoding does (same start, same batches); its last row predicts the draft's first token.
    start = min(_common_prefix(llama.input_ids[: llama.n_tokens], prompt), len(prompt) - 1)
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llama.ctx), -1, start, -1)
    llama.n_tokens = start
    rows = _decode(llama, prompt[start:], logits_from=len(prompt) - start - 1)
    rows += _decode(llama, drafted[:-1], logits_from=0) if len(drafted) > 1 else []
    if grammar is not None:
        choices = constrained_choices(grammar, rows, drafted, margin)
    else:
        # The first row is the very one plain decoding samples from: its argmax needs no margin.
        choices = [int(rows[0].argmax())]
        for row in rows[1:]:
            best, runner_up = np.partition(row, -2)[-2:][::-1]
            choices.append(int(row.argmax()) if best - runner_up >= margin else -1)
    accepted = 0
    while accepted < len(drafted) and choices[accepted] == drafted[accepted]:
        accepted += 1
    while accepted and not _whole_characters(
        llama.detokenize(drafted[:accepted], prev_tokens=prompt)
    ):
        accepted -= 1  # end on a whole character: decoding goes on from here byte-exact
    kept = drafted[:accepted]
    # When nothing was kept, the model's own next token is known from the exact row above and
    # is written as the first decoded token. After kept tokens it is not taken from the batch:
    # that position is where the draft and the model part ways, often a near-tie that batch
    # rounding could tip (docs/batch-noise.json), so plain decoding chooses it.
    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    nxt = choices[0] if accepted == 0 else -1
    ended = nxt >= 0 and bool(llama_cpp.llama_vocab_is_eog(vocab, nxt))
    decoded = [nxt] if nxt >= 0 and not ended else []
    written = kept + decoded
    if decoded and not _whole_characters(llama.detokenize(written, prev_tokens=prompt)):
        written, decoded = kept, []  # half a character: let decoding write it whole
    pieces = _pieces(llama, written, prompt)
    shown = "".join(pieces)
    return DraftCheck(
        tokens=prompt + written,
        text=shown,
        pieces=pieces,
        accepted=accepted,
        drafted=len(drafted),
        evaluated=len(prompt) - start + max(len(drafted) - 1, 0),
        decoded=len(decoded),
        ended=ended,
    )


def _pieces(llama: Any, tokens: list[int], prompt: list[int]) -> list[str]:
    pieces: list[str] = []
    shown = ""
    for n in range(1, len(tokens) + 1):
        text = llama.detokenize(tokens[:n], prev_tokens=prompt).decode("utf-8", errors="ignore")
        if len(text) > len(shown):
            pieces.append(text[len(shown) :])
            shown = text
    return pieces


def _decode(llama: Any, tokens: list[int], logits_from: int) -> list[Any]:
    """Evaluate ``tokens`` after the cache, in ``n_batch`` chunks as ``Llama.eval`` does; the
    logits rows of positions from ``logits_from`` on, in order."""
    import llama_cpp
    import numpy as np

    n_vocab = llama.n_vocab()
    rows: list[Any] = []
    for offset in range(0, len(tokens), llama.n_batch):
        chunk = tokens[offset : offset + llama.n_batch]
        batch = llama_cpp.llama_batch_init(len(chunk), 0, 1)
        try:
            for i, token in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = llama.n_tokens + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = offset + i >= logits_from
            batch.n_tokens = len(chunk)
            code = llama_cpp.llama_decode(llama.ctx, batch)
            if code != 0:
                raise ModelError(f"llama_decode failed with code {code} while checking a draft")
            for i in range(len(chunk)):
                if offset + i >= logits_from:
                    row = llama_cpp.llama_get_logits_ith(llama.ctx, i)
                    rows.append(np.ctypeslib.as_array(row, shape=(n_vocab,)).copy())
        finally:
            llama_cpp.llama_batch_free(batch)
        llama.input_ids[llama.n_tokens : llama.n_tokens + len(chunk)] = chunk
        llama.n_tokens += len(chunk)
    return rows
