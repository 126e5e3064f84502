"""Dataset adapters: one module per benchmark, each turning its files into :class:`Episode` s.

Adapters are imported only when their dataset is asked for, so a missing optional data package
gives a clear :class:`DatasetUnavailable` error for that dataset alone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import SpecagentError
from ..episode import Episode

__all__ = ["DATASETS", "DatasetInfo", "DatasetUnavailable", "UnknownDataset", "load_dataset"]


class UnknownDataset(SpecagentError, ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or jsonl:PATH"
        )


class DatasetUnavailable(SpecagentError, RuntimeError):
    """The dataset's data package is not installed (or not readable)."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    module: str
    """Module under ``specagent.bench.datasets`` with ``load(variant, split, limit)``."""
    variant: str
    description: str


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo(
            "assistant",
            "assistant",
            "assistant",
            "Multi-step assistant requests over 20 real tools (docs/assistant-benchmark.md).",
        ),
        DatasetInfo(
            "assistant-quick",
            "assistant",
            "quick",
            "The main job: 8 fixed test episodes of assistant (specagent bench).",
        ),
        DatasetInfo("bfcl-multi-turn", "bfcl", "multi_turn_base", "BFCL v4 multi-turn base."),
        DatasetInfo(
            "bfcl-multi-turn-long-context",
            "bfcl",
            "multi_turn_long_context",
            "BFCL v4 multi-turn with long tool outputs.",
        ),
        DatasetInfo("bfcl-simple", "bfcl", "simple_python", "BFCL v4 single call."),
        DatasetInfo("bfcl-multiple", "bfcl", "multiple", "BFCL v4 one call among several tools."),
        DatasetInfo("bfcl-parallel", "bfcl", "parallel", "BFCL v4 parallel calls."),
        DatasetInfo(
            "bfcl-parallel-multiple", "bfcl", "parallel_multiple", "BFCL v4 parallel, several tools."
        ),
        DatasetInfo("bfcl-live-multiple", "bfcl", "live_multiple", "BFCL v4 live, several tools."),
        DatasetInfo("tau2-retail", "tau2", "retail", "tau2-bench retail (scripted user)."),
        DatasetInfo("tau2-airline", "tau2", "airline", "tau2-bench airline (scripted user)."),
        DatasetInfo("tooltalk", "tooltalk", "tooltalk", "ToolTalk conversations."),
    ]
}


def load_dataset(name: str, *, split: str = "test", limit: int | None = None) -> list[Episode]:
    """Episodes of a named dataset (or ``jsonl:PATH``), first ``limit`` in a stable order."""
    loader: Callable[..., list[Episode]]
    if name.startswith("jsonl:"):
        from . import jsonl

        episodes = jsonl.load_file(name.removeprefix("jsonl:"), split=split)
    else:
        info = DATASETS.get(name)
        if info is None:
            raise UnknownDataset(name)
        module = importlib.import_module(f"{__name__}.{info.module}")
        loader = module.load
        episodes = loader(info.variant, split=split)
    return episodes if limit is None else episodes[:limit]
