"""Where train tasks come from: the named sources and ``jsonl:PATH``, one split at a time.

The task model (:class:`~specagent.train.tasks.TrainTask`) lives in ``tasks.py``; each source
module (``assistant_tasks.py``, ``assistant_bench_tasks.py``, ``jsonl_tasks.py``) builds tasks
from it, and this module picks
the source. Keeping the registry apart from the model is what lets the sources import the
model without the model importing them back. A source is imported only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from .tasks import TestSplitError, TrainTask

__all__ = ["TASK_SOURCES", "TaskSource", "load_tasks"]

TaskSource = Callable[[str], list[TrainTask]]
"""``source(split)`` -> the tasks of that split, in a stable order."""


def _assistant(split: str) -> list[TrainTask]:
    from .assistant_tasks import assistant_tasks

    return assistant_tasks(split)


def _assistant_bench(split: str) -> list[TrainTask]:
    from .assistant_bench_tasks import bench_tasks

    return bench_tasks(split)


def _jsonl(path: str, split: str) -> list[TrainTask]:
    from .jsonl_tasks import jsonl_tasks

    return jsonl_tasks(path, split)


TASK_SOURCES: dict[str, TaskSource] = {
    "assistant": _assistant,
    "assistant-bench": _assistant_bench,
}
"""``assistant``: generated requests over the example toolset (``envs/assistant``);
``assistant-bench``: the episodes of the ``assistant`` benchmark (its 20 tools, its split)."""


def load_tasks(source: str, *, split: str = "train", limit: int | None = None) -> list[TrainTask]:
    """Tasks from a named source (or ``jsonl:PATH``) for ``split``, first ``limit`` of them."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if source.startswith("jsonl:"):
        tasks = _jsonl(source.removeprefix("jsonl:"), split)
    else:
        try:
            loader = TASK_SOURCES[source]
        except KeyError:
            raise ValueError(
                f"unknown task source {source!r}; known: {', '.join(TASK_SOURCES)} or jsonl:PATH"
            ) from None
        tasks = loader(split)
    bad = [t.id for t in tasks if t.split != split]
    if bad:  # a source that mixes splits is a bug that could leak test data
        raise TestSplitError(f"source {source!r} returned tasks of another split: {bad[:5]}")
    return tasks if limit is None else tasks[:limit]
