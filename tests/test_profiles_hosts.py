"""Host latency profiles: each loads, states a published source, and charges time as stated."""

from __future__ import annotations

import pytest

from specagent.clock import VirtualClock
from specagent.models.pacing import charge_end, charge_piece
from specagent.profiles import PROFILES, ModelledProfile, get_profile


def test_every_named_profile_loads_and_states_its_source() -> None:
    assert {"measured", "qwen1.5b-cpu2", "gpu-h100", "hosted-api"} <= set(PROFILES)
    for name, profile in PROFILES.items():
        assert get_profile(name) is profile
        assert profile.name == name
        assert len(profile.source) > 40, name


def test_host_profiles_cite_published_measurements() -> None:
    h100, api = get_profile("gpu-h100"), get_profile("hosted-api")
    assert isinstance(h100, ModelledProfile) and isinstance(api, ModelledProfile)
    assert "speed_benchmark" in h100.source and "183.33" in h100.source
    assert "artificialanalysis.ai" in api.source and "0.93" in api.source and "77.2" in api.source
    # the figures in the code are the ones quoted in the source text
    assert h100.decode_tps == 183.33 and h100.ttft_s == round(1 / 183.33, 4)
    assert api.ttft_s == 0.93 and api.decode_tps == 77.2


def _charged(profile_name: str, prompt_tokens: int, pieces: int) -> float:
    """Virtual seconds a stream of ``pieces`` tokens after ``prompt_tokens`` new prompt tokens costs."""
    clock = VirtualClock()
    profile = get_profile(profile_name)

    async def stream() -> float:
        start = clock.now()
        for index in range(pieces):
            # measured cost of 9 s per piece: a modelled profile must ignore it
            await charge_piece(clock, profile, 9.0, first=index == 0, prompt_tokens=prompt_tokens)
        await charge_end(clock, profile, 9.0, pieces=pieces, prompt_tokens=prompt_tokens)
        return clock.now() - start

    return clock.run(stream())


def test_gpu_h100_charges_ttft_prefill_then_decode() -> None:
    # 0.0055 s + 200 / 14600 s for the first token, then 1 / 183.33 s for each of 39 more
    expected = 0.0055 + 200 / 14600 + 39 / 183.33
    assert _charged("gpu-h100", 200, 40) == pytest.approx(expected, rel=1e-9)


def test_hosted_api_charges_its_measured_ttft_whatever_the_prompt() -> None:
    # 0.93 s to the first token (prompt included), then 1 / 77.2 s per token
    assert _charged("hosted-api", 10, 20) == pytest.approx(0.93 + 19 / 77.2, rel=1e-9)
    assert _charged("hosted-api", 5000, 20) == pytest.approx(0.93 + 19 / 77.2, rel=1e-9)


def test_a_stream_that_showed_nothing_still_pays_its_first_token() -> None:
    assert _charged("hosted-api", 10, 0) == pytest.approx(0.93)


def test_bad_profiles_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown latency profile"):
        get_profile("gpu-h200")
    with pytest.raises(ValueError, match="rates"):
        ModelledProfile(name="x", ttft_s=0.1, prefill_tps=0.0, decode_tps=10.0, source="s")
