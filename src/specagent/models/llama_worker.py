"""llama.cpp on its worker thread: what each generation evaluated, stepped one chunk per hop.

:class:`~specagent.models.llamacpp.LlamaCppBackend` runs llama-cpp-python's synchronous stream
iterator one ``next()`` at a time in a dedicated worker thread. These are the parts that live
on both sides of that hop: a ``Llama`` that counts the prompt tokens it really evaluated (the
KV cache reuses the rest), the state one generation shares between the event loop and the
thread (closed exactly once, never while a thread is inside it), and the text of a streamed
chunk. Kept apart from the backend so the threading rules can be read in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .llama_grammar import GrammarCursor

__all__ = [
    "END",
    "Generation",
    "Step",
    "TokenCounts",
    "chunk_text",
    "make_counting_llama",
    "release",
]


@dataclass
class TokenCounts:
    """Filled in by :class:`_CountingLlama` during one ``generate`` call (worker thread)."""

    prompt_tokens: int = 0
    prompt_evaluated: int = 0
    generated: int = 0
    in_prompt: bool = True
    grammar_refused: bool = False  # the grammar refused a sampled token (never expected)


def make_counting_llama(**kwargs: Any) -> Any:
    """Build a ``Llama`` that records what each generation evaluated (see module docstring)."""
    from llama_cpp import Llama

    class _CountingLlama(Llama):  # type: ignore[misc]
        def __init__(self, **kw: Any) -> None:
            self.counts = TokenCounts()
            # The grammar state the next generation is constrained by (see llama_grammar);
            # taken, and closed, by that generation.
            self.grammar: GrammarCursor | None = None
            super().__init__(**kw)

        def _init_sampler(self, *args: Any, **kw: Any) -> Any:
            grammar, self.grammar = self.grammar, None  # one generation's only
            if grammar is None:
                return super()._init_sampler(*args, **kw)
            if kw.get("temp") != 0.0:
                raise ValueError("grammar-constrained decoding is greedy only (temperature 0)")
            from llama_cpp import _internals

            sampler = _internals.LlamaSampler()
            sampler.add_custom(grammar.constrain)  # masks only what the greedy step needs
            sampler.add_greedy()
            return sampler

        def eval(self, tokens: Sequence[int]) -> None:
            if self.counts.in_prompt:
                self.counts.prompt_evaluated += len(tokens)
            super().eval(tokens)

        def generate(  # type: ignore[override]
            self, tokens: Sequence[int], *args: Any, **kw: Any
        ) -> Generator[int, Sequence[int] | None, None]:
            counts = self.counts = TokenCounts(prompt_tokens=len(tokens))
            grammar = self.grammar
            inner = super().generate(tokens, *args, **kw)
            try:
                sent: Sequence[int] | None = None
                while True:
                    try:
                        token = inner.send(sent)
                    except StopIteration:
                        return
                    if grammar is not None and grammar.active and not grammar.take(token):
                        # Never expected (the sampler only picks allowed tokens): constraining
                        # stops for this generation instead of llama.cpp aborting the process.
                        counts.grammar_refused = True
                    counts.in_prompt = False
                    counts.generated += 1
                    sent = yield token
            finally:
                inner.close()
                if grammar is not None:
                    grammar.close()

    return _CountingLlama(**kwargs)


END = object()


@dataclass
class Step:
    """The outcome of one worker-thread hop."""

    chunk: Any  # a chat completion chunk, or END
    compute_s: float
    wait_s: float = 0.0  # from submission until the thread got the model (an abandoned token)
    error: BaseException | None = None


@dataclass
class Generation:
    """One stream's llama iterator, shared between the event loop and the worker thread.

    ``mutex`` guards ``running``/``abandoned``: whichever side sees the hop finished closes the
    iterator, so it is closed exactly once and never while a thread is inside it.
    """

    factory: Callable[[], Iterator[Any]]
    iterator: Iterator[Any] | None = None
    running: bool = False  # a worker thread is inside step()
    abandoned: bool = False  # the consumer has left; no further step may start
    mutex: threading.Lock = field(default_factory=threading.Lock)

    def step(self) -> Any:
        if self.iterator is None:
            self.iterator = self.factory()
        return next(self.iterator, END)

    def close(self) -> None:
        it, self.iterator = self.iterator, None
        close = getattr(it, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - closing must not mask the real outcome
                pass


def release(gen: Generation) -> None:
    """Stop a generation: close it now, or let the thread inside it close it when done."""
    with gen.mutex:
        gen.abandoned = True
        in_flight = gen.running
    if not in_flight:
        gen.close()


def chunk_text(chunk: Any) -> str:
    """The text of a streamed chunk: a chat delta, or a plain completion's ``text``."""
    try:
        choice = chunk["choices"][0]
    except (KeyError, IndexError, TypeError):
        return ""
    if not isinstance(choice, dict):
        return ""
    delta = choice.get("delta")
    content = delta.get("content") if isinstance(delta, dict) else choice.get("text")
    return content if isinstance(content, str) else ""
