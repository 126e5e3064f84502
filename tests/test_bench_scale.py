"""The same benchmark run in this process, in worker processes and on a local Ray cluster.

Uses the smallest real model (SmolLM2-135M) with a modelled latency profile, so virtual time
does not depend on how busy the machine is and every executor must give identical outcomes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specagent.bench.runner import BenchSettings
from specagent.bench.store import ResultStore
from specagent.bench.suite import plan_runs, run_bench

pytestmark = pytest.mark.real_model

TOOL = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "effect": "read_only",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
    "returns": {"sky": "sunny"},
}


@pytest.fixture(scope="module")
def episodes(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("episodes") / "e.jsonl"
    lines = [
        {"id": f"w{i}", "turns": [f"What is the weather in {city}?"], "tools": [TOOL],
         "expected_calls": [{"name": "get_weather", "arguments": {"city": city}}]}
        for i, city in enumerate(["Paris", "Oslo", "Lima"])
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return f"jsonl:{path}"


SETTINGS = BenchSettings(model="smollm2-135m", profile="smollm2-135m-cpu2")


def _bench(dataset: str, db: Path, **how) -> list[dict]:
    runs = plan_runs([dataset], ["sync", "async"], limit=None)
    with ResultStore(db, SETTINGS.key(), SETTINGS.to_json()) as store:
        outcomes = run_bench(SETTINGS, runs, store, **how)
    assert len(outcomes) == len(runs)
    return [{**o.to_json(), "wall_s": 0} for o in outcomes]


@pytest.fixture(scope="module")
def local(episodes: str, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return _bench(episodes, tmp_path_factory.mktemp("local") / "r.sqlite")


def test_worker_processes_match_the_local_run(
    episodes: str, local: list[dict], tmp_path: Path
) -> None:
    assert _bench(episodes, tmp_path / "r.sqlite", workers=2) == local


def test_local_ray_cluster_matches_the_local_run(
    episodes: str, local: list[dict], tmp_path: Path
) -> None:
    import ray
    assert _bench(episodes, tmp_path / "r.sqlite", workers=2, ray_address="local") == local
    assert not ray.is_initialized()  # the private cluster is shut down again
