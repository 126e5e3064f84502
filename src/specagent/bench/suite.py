"""Runs a whole benchmark: plans the episode runs, spreads them over workers, stores results.

Three ways to execute the same :class:`~specagent.bench.runner.EpisodeRun` jobs:

* ``workers=1`` (default): in this process, one model loaded once;
* ``workers=N``: N local processes, each with its own model (useful with an OpenAI-compatible
  server or more cores than one model uses);
* ``ray_address``: Ray actors on a cluster (``"local"`` starts a private one), each with its
  own model; the cluster's machines need specagent and the model installed.

Whichever is used, each outcome is stored (SQLite) as soon as it arrives, so an interrupted run
resumes where it stopped, and a progress callback sees every outcome.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ..extras import require
from .datasets import load_dataset
from .runner import BenchSettings, EpisodeOutcome, EpisodeRun, Worker
from .store import ResultStore

__all__ = ["BenchProgress", "plan_runs", "run_bench"]


def plan_runs(
    datasets: Sequence[str],
    policies: Sequence[str],
    *,
    limit: int | None,
    split: str = "test",
    episode_ids: Sequence[str] = (),
) -> list[EpisodeRun]:
    """Every (episode, policy) pair: episodes in dataset order, policies inner, so a partial run
    already pairs each episode's policies for comparison. ``episode_ids``: only these episodes
    (each must exist in some dataset's split); ``limit`` then applies to what is left."""
    wanted = set(episode_ids)
    found: set[str] = set()
    runs = []
    for name in datasets:
        episodes = load_dataset(name, split=split, limit=None if wanted else limit)
        if wanted:
            episodes = [e for e in episodes if e.id in wanted][:limit]
            found.update(e.id for e in episodes)
        for episode in episodes:
            for policy in policies:
                runs.append(EpisodeRun(name, episode.id, policy))
    if wanted - found:
        missing = ", ".join(sorted(wanted - found))
        raise ValueError(f"no episode {missing} in {', '.join(datasets)} (split {split})")
    return runs


@dataclass(frozen=True)
class BenchProgress:
    outcome: EpisodeOutcome
    finished: int
    total: int
    reused: bool
    """Taken from the result store (an earlier, interrupted run) rather than run now."""


# -- executors ------------------------------------------------------------------------------

_process_worker: Worker | None = None


def _init_process(settings: BenchSettings) -> None:
    global _process_worker
    _process_worker = Worker(settings)


def _run_in_process(job: EpisodeRun) -> EpisodeOutcome:
    assert _process_worker is not None, "process pool started without its initializer"
    return _process_worker.run(job)


def _local(settings: BenchSettings, jobs: Sequence[EpisodeRun], worker: Worker | None):
    own = worker is None
    worker = worker or Worker(settings)
    try:
        for job in jobs:
            yield worker.run(job)
    finally:
        if own:
            worker.close()


def _processes(settings: BenchSettings, jobs: Sequence[EpisodeRun], workers: int):
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, initializer=_init_process, initargs=(settings,)
    ) as pool:
        futures = [pool.submit(_run_in_process, job) for job in jobs]
        try:
            for future in concurrent.futures.as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _ray(settings: BenchSettings, jobs: Sequence[EpisodeRun], address: str, workers: int):
    ray = require("ray", extra="ray", feature="--ray")

    started_here = not ray.is_initialized()
    if started_here:
        if address == "local":
            ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        actor_class = ray.remote(num_cpus=1)(_RayWorker)
        actors = [actor_class.remote(settings) for _ in range(max(workers, 1))]
        pending: dict[object, int] = {}
        queue = list(jobs)
        for index, actor in enumerate(actors):
            if queue:
                pending[actor.run.remote(queue.pop(0))] = index
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            index = pending.pop(ref)
            if queue:
                pending[actors[index].run.remote(queue.pop(0))] = index
            yield ray.get(ref)
        for actor in actors:
            ray.kill(actor)
    finally:
        if started_here:
            ray.shutdown()


class _RayWorker:
    """A Ray actor holding one :class:`Worker` (one loaded model) for many jobs."""

    def __init__(self, settings: BenchSettings) -> None:
        self._worker = Worker(settings)

    def run(self, job: EpisodeRun) -> EpisodeOutcome:
        return self._worker.run(job)


# -- the benchmark --------------------------------------------------------------------------


def run_bench(
    settings: BenchSettings,
    runs: Sequence[EpisodeRun],
    store: ResultStore,
    *,
    workers: int = 1,
    ray_address: str | None = None,
    on_progress: Callable[[BenchProgress], None] | None = None,
    worker: Worker | None = None,
) -> list[EpisodeOutcome]:
    """Run what ``store`` does not hold yet; return every outcome of ``runs`` in plan order.

    ``worker`` lets a caller supply an in-process worker (e.g. with a scripted backend for
    tests); it is used only when ``workers == 1`` and no Ray address is given.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    done = store.done()
    total = len(runs)
    finished = 0
    for outcome in store.load(r for r in runs if r in done):
        finished += 1
        if on_progress:
            on_progress(BenchProgress(outcome, finished, total, reused=True))
    todo = [r for r in runs if r not in done]
    stream: Iterator[EpisodeOutcome]
    if ray_address is not None:
        stream = _ray(settings, todo, ray_address, workers)
    elif workers > 1:
        stream = _processes(settings, todo, workers)
    else:
        stream = _local(settings, todo, worker)
    for outcome in stream:
        store.save(outcome)
        finished += 1
        if on_progress:
            on_progress(BenchProgress(outcome, finished, total, reused=False))
    by_key = {(o.dataset, o.episode_id, o.policy): o for o in store.load(runs)}
    return [
        by_key[(r.dataset, r.episode_id, r.policy)]
        for r in runs
        if (r.dataset, r.episode_id, r.policy) in by_key
    ]
