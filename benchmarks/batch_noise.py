"""How much llama.cpp's logits move when tokens are evaluated in one batch instead of one by one.

The ``verified`` policy checks a draft in one batch and keeps a token only when the model
prefers it by ``draft_check.MARGIN`` logits (docs/verified.md). Plain decoding evaluates the
same tokens one at a time. This script measures the difference on a protocol-shaped text
(a request, a ``<think>`` and a tool call): for every position, the change of the gap between
the model's first and second choice, and how often the first choice itself differs.

    .venv/bin/python benchmarks/batch_noise.py --out docs/batch-noise.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from specagent.clock import VirtualClock
from specagent.models.draft_check import MARGIN, _decode
from specagent.train.evaluate import load_eval_backend

_CONTEXT = 40  # tokens evaluated first, the same way in both runs

TEXTS = [
    "<|im_start|>system\nYou are a voice assistant that calls tools.<|im_end|>\n"
    "<|im_start|>user\n<final_query_update>Book the cheapest flight from Toronto to Lisbon on "
    "Sunday, actually do not book it yet.</final_query_update><|im_end|>\n<|im_start|>assistant\n"
    "<think>Look up flights from Toronto to Lisbon now.</think><tool_call id=\"1\">"
    '{"name": "search_flights", "arguments": {"origin": "Toronto", "destination": "Lisbon", '
    '"date": "sunday"}}</tool_call>',
    "<|im_start|>system\nYou are a voice assistant that calls tools.<|im_end|>\n"
    "<|im_start|>user\n<final_query_update>Find the area of a triangle with a base of 10 units "
    "and height of 5 units.</final_query_update><|im_end|>\n<|im_start|>assistant\n"
    '<tool_call id="1">{"name": "calculate_triangle_area", "arguments": {"base": 10, '
    '"height": 5, "unit": "units"}}</tool_call>',
]


def _gap(row: np.ndarray) -> float:
    best, second = np.partition(row, -2)[-2:][::-1]
    return float(best - second)


def measure(model: str) -> dict:
    import llama_cpp

    backend = load_eval_backend(model, VirtualClock())
    llama = backend._llama  # the measurement needs the raw llama.cpp context

    def rows(tokens: list[int], one_by_one: bool) -> list[np.ndarray]:
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llama.ctx), -1, 0, -1)
        llama.n_tokens = 0
        _decode(llama, tokens[:_CONTEXT], logits_from=_CONTEXT)
        rest = tokens[_CONTEXT:]
        if not one_by_one:
            return _decode(llama, rest, logits_from=0)
        return [row for token in rest for row in _decode(llama, [token], logits_from=0)]

    gap_changes: list[float] = []
    gaps: list[float] = []
    flips = positions = near_ties = 0
    for text in TEXTS:
        tokens = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        batch, single = rows(tokens, False), rows(tokens, True)
        for b, s in zip(batch, single):
            positions += 1
            gap_changes.append(abs(_gap(b) - _gap(s)))
            flips += int(b.argmax() != s.argmax())
            near_ties += int(_gap(s) < MARGIN)
            gaps.append(_gap(s))
    VirtualClock().run(backend.aclose())
    gap_changes.sort()
    return {
        "model": model,
        "positions": positions,
        "first_choice_differs": flips,
        "one_by_one_gap_below_margin": near_ties,
        "gap_change_median": round(statistics.median(gap_changes), 4),
        "gap_change_p90": round(gap_changes[int(0.9 * (len(gap_changes) - 1))], 4),
        "gap_change_max": round(gap_changes[-1], 4),
        # what a larger margin would cost: the share of positions it would not let a draft keep
        "share_of_gaps_below": {
            str(m): round(sum(g < m for g in gaps) / len(gaps), 3) for m in (0.1, 0.25, 0.5, 1.0)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", default="qwen2.5-coder-1.5b,smollm2-135m,smollm2-135m-async"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    for model in args.models.split(","):
        results.append(measure(model.strip()))
        print(json.dumps(results[-1]), flush=True)
    if args.out:
        args.out.write_text(
            json.dumps({"margin": MARGIN, "context_tokens": _CONTEXT, "results": results}, indent=1)
            + "\n"
        )


if __name__ == "__main__":
    main()
