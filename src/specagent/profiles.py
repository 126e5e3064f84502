"""How model compute is charged to the clock.

On the real clock a generation simply takes the time it takes. On the virtual clock nothing
passes unless someone charges it, so every backend paces its tokens through a profile:

* :class:`MeasuredProfile` charges the real wall time each token took to compute locally
  (the model really runs; simulated time advances by exactly its cost).
* :class:`ModelledProfile` charges a time to first token plus prefill and decode rates, for
  simulating a model you do not run here. Every named profile states its source.

Besides this machine's CPU, two profiles model the hosts a user would deploy on, from
published measurements (``docs/profiles.md`` quotes each figure and the arithmetic):
``gpu-h100`` (the default model on one datacenter GPU under vLLM) and ``hosted-api`` (a hosted
small model behind an API). The real model still writes every token; only the clock is
charged as such a host would charge it, so accuracy is the real model's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LatencyProfile", "MeasuredProfile", "ModelledProfile", "PROFILES", "get_profile"]


@dataclass(frozen=True)
class MeasuredProfile:
    """Charge what the local computation really took."""

    name: str = "measured"
    source: str = "wall time of each token computed on this machine"


@dataclass(frozen=True)
class ModelledProfile:
    """Charge ``ttft_s + new_prompt_tokens / prefill_tps`` before the first token and
    ``1 / decode_tps`` per token after it."""

    name: str
    ttft_s: float
    prefill_tps: float
    decode_tps: float
    source: str

    def __post_init__(self) -> None:
        if self.ttft_s < 0 or self.prefill_tps <= 0 or self.decode_tps <= 0:
            raise ValueError(f"profile {self.name!r}: times must be >= 0 and rates > 0")

    def prefill_s(self, new_prompt_tokens: int) -> float:
        """``prefill_tps`` may be infinite when the measured ``ttft_s`` already includes the
        prompt (a hosted API measured with a fixed prompt length)."""
        return self.ttft_s + max(0, new_prompt_tokens) / self.prefill_tps

    def decode_s(self) -> float:
        return 1.0 / self.decode_tps


LatencyProfile = MeasuredProfile | ModelledProfile

_QWEN_SPEED = (
    "Qwen2.5 Speed Benchmark (Qwen team, qwen.readthedocs.io benchmark/speed_benchmark; source "
    "QwenLM/Qwen2.5 docs/source/benchmark/speed_benchmark.rst), vLLM 0.6.3, BF16, batch 1, "
    "2048 tokens generated: Qwen2.5-1.5B-Instruct 183.33 tok/s from a 1-token input, 176.68 "
    "tok/s from a 6144-token input"
)

PROFILES: dict[str, LatencyProfile] = {
    "measured": MeasuredProfile(),
    "qwen0.5b-cpu2": ModelledProfile(
        name="qwen0.5b-cpu2",
        ttft_s=0.09,
        prefill_tps=204.0,
        decode_tps=58.0,
        source="Qwen2.5-Coder-0.5B Q4_K_M, llama.cpp, 2 threads: 204 tok/s prompt, 58 tok/s "
        "decode, first streamed token 0.09 s (shared/RESOURCES.md, measured on this kind of "
        "machine)",
    ),
    "qwen1.5b-cpu2": ModelledProfile(
        name="qwen1.5b-cpu2",
        ttft_s=0.196,
        prefill_tps=55.4,
        decode_tps=15.12,
        source="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the default model), llama.cpp, 2 threads, "
        "idle machine: benchmarks/model_profile.py, docs/profile-qwen2.5-coder-1.5b.json",
    ),
    "gpu-h100": ModelledProfile(
        name="gpu-h100",
        # one forward step (1 / 183.33 s) before the first token, besides the prompt's prefill
        ttft_s=round(1 / 183.33, 4),
        # 6143 more prompt tokens cost at most 2048/176.68 - 2048/183.33 = 0.4205 s (that
        # difference also holds the slower decode over a longer context): >= 14,600 tok/s
        prefill_tps=14600.0,
        decode_tps=183.33,
        source=_QWEN_SPEED + ". Measured on one A100 80GB: the closest published single-request "
        "figure for the default model's size on a datacenter GPU; an H100 (1.6x the memory "
        "bandwidth) is not slower, so these latencies are an upper bound for one H100. "
        "Derivation in docs/profiles.md.",
    ),
    "hosted-api": ModelledProfile(
        name="hosted-api",
        ttft_s=0.93,
        prefill_tps=float("inf"),
        decode_tps=77.2,
        source="Artificial Analysis, GPT-4.1 mini API provider benchmarks "
        "(artificialanalysis.ai/models/gpt-4-1-mini/providers), OpenAI endpoint: time to first "
        "token 0.93 s, output speed 77.2 tok/s, medians on its default workload of 10k input "
        "tokens. The prompt's cost is inside the measured time to first token, so no separate "
        "prefill is charged (docs/profiles.md).",
    ),
    "smollm2-135m-cpu2": ModelledProfile(
        name="smollm2-135m-cpu2",
        ttft_s=0.09,
        prefill_tps=347.0,
        decode_tps=139.0,
        source="SmolLM2-135M Q4_1, llama.cpp, 2 threads: 347 tok/s prompt, 139 tok/s decode "
        "(shared/RESOURCES.md, measured on this kind of machine)",
    ),
}


def get_profile(name: str) -> LatencyProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown latency profile {name!r}; known: {', '.join(sorted(PROFILES))}"
        ) from None
