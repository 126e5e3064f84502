"""What one llama.cpp stream cost: prompt, cache, draft and decoded tokens, and the time spent.

:class:`~specagent.models.llamacpp.LlamaCppBackend` fills a :class:`StreamStats` while a stream
runs, from two sources: the counting ``Llama`` (which tokens the prompt really evaluated, see
:mod:`specagent.models.llama_worker`) and, for a stream given a draft, the batched check
(:mod:`specagent.models.draft_check`), which evaluates the prompt itself. The bookkeeping lives
here, apart from the backend, so the stream loop there reads as control flow and the
arithmetic of the counts has one home; callers read the result as ``backend.last_stats``
(draft decoding's modelled charges, the benchmarks, the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .draft_check import DraftCheck
    from .llama_worker import TokenCounts

__all__ = ["StreamStats"]


@dataclass
class StreamStats:
    """What one stream cost. Filled in while the stream runs; final once it has ended."""

    prompt_tokens: int = 0  # tokens of the rendered chat prompt
    cached_tokens: int = 0  # of those, reused from llama.cpp's KV cache
    generated_tokens: int = 0  # tokens sampled (an end-of-turn token counts)
    pieces: int = 0  # non-empty text pieces yielded
    compute_s: float = 0.0  # wall time spent computing in llama.cpp (worker thread)
    first_piece_s: float = 0.0  # compute_s up to and including the first sampled token
    wait_s: float = 0.0  # wall time waiting for a token an earlier, cancelled stream left running
    charged_s: float = 0.0  # clock time this stream slept to pace its tokens
    draft_tokens: int = 0  # tokens of a draft checked in one batch (a request's ``draft``)
    accepted_tokens: int = 0  # of those, the start greedy decoding agreed with
    check_decoded: int = 0  # the model's next token, which the check also gave
    constrained: bool = False  # decoded under the request's ``grammar``
    finished: bool = False  # ran to the end (False: the consumer stopped early or it failed)

    @property
    def new_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.cached_tokens

    @property
    def prompt_tps(self) -> float | None:
        """Rough prompt rate: new prompt tokens over the compute time to the first token."""
        return None if self.first_piece_s <= 0 else self.new_prompt_tokens / self.first_piece_s

    @property
    def decode_tps(self) -> float | None:
        decode_s = self.compute_s - self.first_piece_s
        return (
            None
            if self.generated_tokens <= 1 or decode_s <= 0
            else ((self.generated_tokens - 1) / decode_s)
        )

    def add_check(self, verified: DraftCheck) -> None:
        """Count a draft check: it evaluated the prompt (and the draft but its last token)."""
        self.constrained = verified.constrained
        self.compute_s += verified.compute_s
        self.first_piece_s = verified.compute_s
        written = verified.accepted + verified.decoded
        self.prompt_tokens = len(verified.tokens) - written
        prompt_evaluated = verified.evaluated - max(verified.drafted - 1, 0)
        self.cached_tokens = self.prompt_tokens - prompt_evaluated
        self.draft_tokens = verified.drafted
        self.accepted_tokens = verified.accepted
        self.check_decoded = verified.decoded
        self.generated_tokens = written

    def add_counts(self, counts: TokenCounts) -> None:
        """Take in the counting ``Llama``'s figures for the generation so far."""
        if self.draft_tokens:  # the prompt was evaluated by the draft check; count its tokens
            self.generated_tokens = self.accepted_tokens + self.check_decoded + counts.generated
            return
        self.prompt_tokens = counts.prompt_tokens
        self.cached_tokens = counts.prompt_tokens - counts.prompt_evaluated
        self.generated_tokens = counts.generated
        self.constrained = self.constrained and not counts.grammar_refused
