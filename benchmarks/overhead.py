"""Runtime overhead: what the session machinery itself costs, with no real model in the loop.

Two measurements, both on the :class:`VirtualClock` with the :class:`ScriptedBackend`:

1. **Per-event cost of the session loop.** One long request (``--words`` words of simulated
   speech, one word per update) runs through an ``async`` session whose scripted model writes
   zero-time tokens: it mostly answers ``<pause/>``, calls a read-only lookup every
   ``--tool-every`` words, and answers after the final update. Every event the session records in
   its ledger is counted, and the wall time of ``clock.run(...)`` is divided by that count (and by
   the tokens generated). Repeated ``--repeats`` times; median and min are reported.
   Target: under 50 us per event.

2. **Concurrent sessions in virtual time on one core.** ``--sessions`` sessions run together in
   one virtual-clock event loop (``asyncio.gather`` inside one ``clock.run``), each with its own
   scripted model (realistic timings: ``--ttft`` s to first token, ``--token-s`` s per token), its
   own toolset (a read-only lookup taking 0.5-1.0 s through the executor's ``latency=``) and a
   short request (``--short-words`` words at 150 words a minute). Reports wall time, virtual
   time simulated, sessions per wall second, peak RSS and whether every session answered.
   Target: 1,000 concurrent sessions in virtual time on one core.

Run::

    python benchmarks/overhead.py --sessions 1000 --out docs/overhead.json

``--profile`` adds a cProfile of one run of each measurement (top functions by own time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import random
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from specagent.agent import Policy, Session, SessionConfig
from specagent.clock import VirtualClock
from specagent.models import ScriptedBackend
from specagent.protocol import ChatMessage
from specagent.speech.simulator import DEFAULT_WPM, simulate_speech
from specagent.tools import Effect, Toolset, tool

TARGET_US_PER_EVENT = 50.0
TARGET_SESSIONS = 1000

_VOCAB = (
    "please find me a table for four people near the old harbour tomorrow evening around "
    "seven and check whether they have a quiet corner with a view of the water because it "
    "is a birthday dinner for my mother who likes fish"
).split()


def _words(n: int, offset: int = 0) -> str:
    return " ".join(_VOCAB[(offset + i) % len(_VOCAB)] for i in range(n))


def _lookup_tool() -> Toolset:
    @tool(effect=Effect.READ_ONLY, timeout_s=5.0)
    async def lookup(key: str) -> dict:
        """Look something up (read-only)."""
        return {"key": key, "found": True}

    return Toolset([lookup])


def _call(call_id: int, key: str) -> str:
    return (
        f'<tool_call id="{call_id}">{{"name": "lookup", "arguments": {{"key": "{key}"}}}}'
        "</tool_call>"
    )


# -- 1. per-event cost ------------------------------------------------------------------------


class LongResponder:
    """Scripted model for the long request; O(1) work per generation (it only looks at the
    newest message), so the time measured is the runtime's, not the responder's."""

    def __init__(self, tool_every: int) -> None:
        self.tool_every = tool_every
        self.updates_seen = 0
        self.calls = 0
        self.results = 0

    def __call__(self, messages: Sequence[ChatMessage]) -> str:
        last = messages[-1]
        if last.role != "user":  # right after our own action: nothing new to react to
            return "<pause/>"
        text = last.content
        self.results += text.count("<tool_result")
        final = "<final_query_update>" in text
        self.updates_seen += text.count("_query_update>") // 2
        if final and self.results >= self.calls:
            return "<answer>Booked nothing; here is what I found.</answer>"
        if (
            not final
            and "<partial_query_update>" in text
            and self.updates_seen % self.tool_every == 0
        ):
            self.calls += 1
            word = text.rsplit("<partial_query_update>", 1)[1].split("<", 1)[0].split()[-1]
            return _call(self.calls, word)  # a word the user said: the call is grounded
        return "<pause/>"


def run_long_once(words: int, tool_every: int, tool_latency_s: float) -> dict[str, Any]:
    clock = VirtualClock()
    responder = LongResponder(tool_every)
    backend = ScriptedBackend(clock, responder, ttft_s=0.0, token_s=0.0)
    session = Session(
        backend,
        _lookup_tool(),
        clock,
        Policy.ASYNC,
        latency=lambda n, a: tool_latency_s,
        # a long request needs room for one generation per word plus one per tool result
        config=SessionConfig(max_generations=10 * words),
    )
    speech = simulate_speech(_words(words), chunk_words=1)
    gc.collect()
    start = time.perf_counter()
    result = clock.run(session.run(speech))
    wall = time.perf_counter() - start
    events = len(result.ledger)
    return {
        "wall_s": wall,
        "ledger_events": events,
        "tokens": result.tokens_generated,
        "generations": result.generations,
        "tool_calls": len(result.tool_calls),
        "ended": result.ended,
        "virtual_s": clock._now,
        "us_per_event": wall / events * 1e6,
        "us_per_token": wall / max(1, result.tokens_generated) * 1e6,
    }


# -- 2. concurrent sessions -------------------------------------------------------------------


def short_responder(messages: Sequence[ChatMessage]) -> str:
    """Call the lookup once it has heard six words, pause otherwise, answer once it has both
    the user's final update and the result."""
    if messages[-1].role != "user":  # right after our own action: nothing new to react to
        return "<pause/>"
    heard = [m.content for m in messages if m.role == "user"]
    if any("<tool_result" in h for h in heard) and any("<final_query_update>" in h for h in heard):
        return "<answer>There is a table at seven.</answer>"
    called = any("<tool_call" in m.content for m in messages if m.role == "assistant")
    if not called and sum(len(h.split()) for h in heard) >= 6:
        first_word = heard[0].split(">", 1)[1].split()[0]
        return _call(1, first_word)  # a word the user said: the call is grounded
    return "<pause/>"


def build_sessions(
    n: int, short_words: int, ttft_s: float, token_s: float, seed: int
) -> tuple[VirtualClock, list[Session], list[list[Any]]]:
    clock = VirtualClock()
    sessions, speeches = [], []
    for i in range(n):
        rng = random.Random(seed + i)
        backend = ScriptedBackend(clock, short_responder, ttft_s=ttft_s, token_s=token_s)
        session = Session(
            backend,
            _lookup_tool(),
            clock,
            Policy.ASYNC,
            latency=lambda name, args, rng=rng: rng.uniform(0.5, 1.0),
        )
        sessions.append(session)
        start = rng.uniform(0.0, 1.0)  # users do not all start speaking on the same instant
        speeches.append(simulate_speech(_words(short_words, offset=i), start_s=start))
    return clock, sessions, speeches


def run_concurrent(
    n: int, short_words: int, ttft_s: float, token_s: float, seed: int
) -> dict[str, Any]:
    t_build = time.perf_counter()
    clock, sessions, speeches = build_sessions(n, short_words, ttft_s, token_s, seed)
    build_s = time.perf_counter() - t_build

    async def main() -> list[Any]:
        return await asyncio.gather(*(s.run(sp) for s, sp in zip(sessions, speeches)))

    rss_before = _rss_mb()
    gc.collect()
    start = time.perf_counter()
    results = clock.run(main())
    wall = time.perf_counter() - start
    answered = sum(1 for r in results if r.ended == "answered")
    latencies = sorted(r.latency_s for r in results if r.latency_s is not None)
    events = sum(len(r.ledger) for r in results)
    return {
        "sessions": n,
        "answered": answered,
        "all_answered": answered == n,
        "build_s": build_s,
        "wall_s": wall,
        "virtual_s": clock._now,
        "speedup_virtual_over_wall": clock._now / wall if wall else None,
        "sessions_per_s": n / wall,
        "ledger_events": events,
        "us_per_event": wall / events * 1e6,
        "tokens": sum(r.tokens_generated for r in results),
        "tool_calls": sum(len(r.tool_calls) for r in results),
        "median_latency_s": statistics.median(latencies) if latencies else None,
        "rss_before_run_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
    }


# -- helpers ----------------------------------------------------------------------------------


def _rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _profile(fn: Any, *args: Any, top: int = 15) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn(*args)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=TARGET_SESSIONS, help="concurrent sessions")
    ap.add_argument("--words", type=int, default=400, help="words in the long request")
    ap.add_argument("--tool-every", type=int, default=25, help="a lookup every N words")
    ap.add_argument("--tool-latency", type=float, default=0.3, help="lookup latency, long run (s)")
    ap.add_argument("--repeats", type=int, default=7, help="runs of the long request")
    ap.add_argument("--short-words", type=int, default=15, help="words per concurrent request")
    ap.add_argument("--ttft", type=float, default=0.1, help="time to first token (s), concurrent")
    ap.add_argument("--token-s", type=float, default=0.02, help="time per token (s), concurrent")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of each part")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)

    settings = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "words": args.words,
        "chunk_words": 1,
        "words_per_minute": DEFAULT_WPM,
        "tool_every_words": args.tool_every,
        "tool_latency_s": args.tool_latency,
        "repeats": args.repeats,
        "sessions": args.sessions,
        "short_words": args.short_words,
        "ttft_s": args.ttft,
        "token_s": args.token_s,
        "tool_latency_concurrent_s": [0.5, 1.0],
        "seed": args.seed,
        "policy": Policy.ASYNC.value,
    }

    # warm-up run (imports, regex caches, pydantic) outside the measurements
    run_long_once(min(args.words, 40), args.tool_every, args.tool_latency)

    runs = [run_long_once(args.words, args.tool_every, args.tool_latency) for _ in range(args.repeats)]
    ev = [r["us_per_event"] for r in runs]
    tok = [r["us_per_token"] for r in runs]
    wall = [r["wall_s"] for r in runs]
    long_summary = {
        "ledger_events": runs[0]["ledger_events"],
        "tokens": runs[0]["tokens"],
        "generations": runs[0]["generations"],
        "tool_calls": runs[0]["tool_calls"],
        "ended": runs[0]["ended"],
        "virtual_s": runs[0]["virtual_s"],
        "wall_s_median": statistics.median(wall),
        "wall_s_min": min(wall),
        "us_per_event_median": statistics.median(ev),
        "us_per_event_min": min(ev),
        "us_per_token_median": statistics.median(tok),
        "us_per_token_min": min(tok),
        "target_us_per_event": TARGET_US_PER_EVENT,
        "meets_target": statistics.median(ev) < TARGET_US_PER_EVENT,
        "runs": runs,
    }

    conc = run_concurrent(args.sessions, args.short_words, args.ttft, args.token_s, args.seed)
    conc["target_sessions"] = TARGET_SESSIONS
    conc["meets_target"] = conc["all_answered"] and args.sessions >= TARGET_SESSIONS

    print(f"specagent runtime overhead  (Python {settings['python']}, {settings['cpu_count']} CPUs)")
    print()
    print(f"1. session loop, one {args.words}-word request (1 word per update), "
          f"{args.repeats} runs, zero-time scripted tokens")
    print(f"   ledger events {long_summary['ledger_events']}, tokens {long_summary['tokens']}, "
          f"generations {long_summary['generations']}, tool calls {long_summary['tool_calls']}, "
          f"ended {long_summary['ended']}, virtual {long_summary['virtual_s']:.1f} s")
    print(f"   {'':22}{'median':>12}{'min':>12}")
    print(f"   {'wall per run (ms)':22}{long_summary['wall_s_median'] * 1e3:12.2f}"
          f"{long_summary['wall_s_min'] * 1e3:12.2f}")
    print(f"   {'us per ledger event':22}{long_summary['us_per_event_median']:12.2f}"
          f"{long_summary['us_per_event_min']:12.2f}")
    print(f"   {'us per token':22}{long_summary['us_per_token_median']:12.2f}"
          f"{long_summary['us_per_token_min']:12.2f}")
    print(f"   target < {TARGET_US_PER_EVENT:g} us/event: "
          f"{'met' if long_summary['meets_target'] else 'MISSED'}")
    print()
    print(f"2. {args.sessions} concurrent sessions in one virtual-clock loop "
          f"({args.short_words} words each, ttft {args.ttft} s, {args.token_s} s/token, "
          "lookup 0.5-1.0 s)")
    rows = [
        ("answered", f"{conc['answered']}/{conc['sessions']}"),
        ("build (s)", f"{conc['build_s']:.3f}"),
        ("wall, clock.run (s)", f"{conc['wall_s']:.3f}"),
        ("virtual time (s)", f"{conc['virtual_s']:.2f}"),
        ("sessions / wall s", f"{conc['sessions_per_s']:.0f}"),
        ("ledger events", f"{conc['ledger_events']}"),
        ("us per ledger event", f"{conc['us_per_event']:.2f}"),
        ("tokens", f"{conc['tokens']}"),
        ("median latency (s)", f"{conc['median_latency_s']:.3f}"),
        ("RSS before run (MB)", f"{conc['rss_before_run_mb']:.1f}"),
        ("peak RSS (MB)", f"{conc['peak_rss_mb']:.1f}"),
    ]
    for name, value in rows:
        print(f"   {name:22}{value:>12}")
    print(f"   target {TARGET_SESSIONS} sessions, all answered: "
          f"{'met' if conc['meets_target'] else 'MISSED'}")

    profiles: dict[str, str] = {}
    if args.profile:
        profiles["long"] = _profile(run_long_once, args.words, args.tool_every, args.tool_latency)
        profiles["concurrent"] = _profile(
            run_concurrent, args.sessions, args.short_words, args.ttft, args.token_s, args.seed
        )
        for name, text in profiles.items():
            print(f"\n--- cProfile: {name} ---\n{text}")

    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "settings": settings,
            "session_loop": long_summary,
            "concurrent": conc,
        }
        if profiles:
            payload["profiles"] = profiles
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
