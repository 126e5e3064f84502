"""Measure a local model's speed on this machine, to write a modelled latency profile.

A modelled profile (``specagent.profiles``) charges model time from three numbers: time to
first token, prompt (prefill) tokens per second and decode tokens per second. Charging by a
profile instead of by each token's wall time makes benchmark runs independent of whatever else
the machine is doing, so they can be reproduced to the bit; this script measures the numbers
the profile uses. Run it on an otherwise idle machine:

    .venv/bin/python benchmarks/model_profile.py --model qwen2.5-coder-1.5b --out docs/profile-qwen1.5b.json

Prefill: a fresh ~1,000-token prompt, timed to its first generated token (median of runs).
Decode: 64 tokens after a short prompt, time per token after the first (median of runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import specagent  # noqa: F401 - sets OMP_WAIT_POLICY before llama.cpp loads
from llama_cpp import Llama

from specagent.models.registry import DEFAULT_MODEL, ensure_model


def _first_token_s(llm: Llama, prompt: str) -> float:
    llm.reset()
    start = time.perf_counter()
    for _ in llm.create_completion(prompt, max_tokens=1, stream=True, temperature=0.0):
        break
    return time.perf_counter() - start


def _decode_tps(llm: Llama, prompt: str, tokens: int) -> float:
    llm.reset()
    stamps = []
    for _ in llm.create_completion(
        prompt, max_tokens=tokens, stream=True, temperature=0.0, stop=[]
    ):
        stamps.append(time.perf_counter())
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return 1.0 / statistics.median(gaps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    llm = Llama(model_path=str(ensure_model(args.model)), n_ctx=4096, n_threads=2, verbose=False)
    words = ("the quick brown fox jumps over a lazy dog while tools run " * 120).strip()
    long_tokens = len(llm.tokenize(words.encode()))
    short = "Count from one to one hundred: one, two, three,"
    short_tokens = len(llm.tokenize(short.encode()))
    short_first = statistics.median(_first_token_s(llm, short) for _ in range(args.runs))
    long_first = statistics.median(_first_token_s(llm, words) for _ in range(args.runs))
    prefill_tps = (long_tokens - short_tokens) / max(long_first - short_first, 1e-9)
    decode_tps = statistics.median(_decode_tps(llm, short, 64) for _ in range(args.runs))
    ttft_s = max(short_first - short_tokens / prefill_tps, 0.0)
    result = {
        "model": args.model,
        "ttft_s": round(ttft_s, 3),
        "prefill_tps": round(prefill_tps, 1),
        "decode_tps": round(decode_tps, 2),
        "prompt_tokens_long": long_tokens,
        "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_1m": os.getloadavg()[0],
        "measured": time.strftime("%Y-%m-%d %H:%M"),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
