"""How model compute is charged to the clock.

On the real clock a generation simply takes the time it takes. On the virtual clock nothing
passes unless someone charges it, so every backend paces its tokens through a profile:

* :class:`MeasuredProfile` charges the real wall time each token took to compute locally
  (the model really runs; simulated time advances by exactly its cost).
* :class:`ModelledProfile` charges a time to first token plus prefill and decode rates, for
  simulating a model you do not run here. Every named profile states its source.
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

    def prefill_s(self, new_prompt_tokens: int) -> float:
        return self.ttft_s + max(0, new_prompt_tokens) / self.prefill_tps

    def decode_s(self) -> float:
        return 1.0 / self.decode_tps


LatencyProfile = MeasuredProfile | ModelledProfile

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
