"""A small benchmark end to end with the default local model: CLI, store, reports.

One example request under two policies (a few minutes on 2 cores). It checks the run is
complete and the documented report fields are there; it asserts nothing about speed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specagent.cli import app

pytestmark = pytest.mark.real_model


def test_bench_command_writes_every_report(tmp_path: Path) -> None:
    args = ["bench", "--dataset", "assistant", "--limit", "1", "--policies", "sync,speculative",
            "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["policies"]) == {"sync", "speculative"}
    for name in ("sync", "speculative"):
        policy = data["policies"][name]
        assert policy["episodes"] == 1
        assert 0.0 <= policy["accuracy"] <= 1.0
        assert "mean_latency_s" in policy and "speedup_vs_sync" in policy
    assert data["policies"]["sync"]["speedup_vs_sync"] in (1.0, None)
    assert data["settings"]["model"] == "qwen2.5-coder-1.5b"
    assert len(data["episodes"]) == 2 and all(e["timeline"] for e in data["episodes"])
    for name in ("episodes.csv", "latency_cdf.png", "speedup_accuracy.png", "report.html"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "speculative" in result.output and "accuracy" in result.output
    # the same command again reuses the stored runs instead of running the model
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and again.output.count("(stored)") == 2
