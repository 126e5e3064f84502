"""A session killed with SIGKILL at many points resumes in a new process and ends as if never
killed: no irreversible effect repeated, none lost, the world equal to the uninterrupted run's.

Each point runs ``kill_scenario.py`` twice in fresh processes: once until it kills itself at
the N-th step (a ledger event stored, or a tool effect stored before its tool returned), once
resuming the stored session. The world is durable (SQLite) and its writes take idempotency
keys, so a call the crash caught in flight may be sent again: the check allows a second attempt
only for such a call (started, no outcome in the ledger at the crash).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from specagent.events import (
    SessionEnded,
    ToolCallCommitted,
    ToolCallCompensated,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
)
from specagent.ledger import Ledger, SQLiteLedgerStore

SCRIPT = Path(__file__).with_name("kill_scenario.py")
# (policy, every k-th step): speculative at every step, the others at a stride
PLAN = (("speculative", 1), ("async", 2), ("sync", 3), ("verified", 3))


def run(directory: Path, policy: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent / "src"))
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(directory), policy, *extra],
        capture_output=True, text=True, timeout=120, env=env,
    )


def effects(directory: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(directory / "world.db")
    try:
        return sorted(db.execute("SELECT tool, payload FROM effects").fetchall())
    finally:
        db.close()


def attempts(directory: Path) -> Counter[str]:
    db = sqlite3.connect(directory / "world.db")
    try:
        return Counter(key for (key,) in db.execute("SELECT key FROM attempts"))
    finally:
        db.close()


def ledger(directory: Path) -> Ledger:
    return Ledger.load(SQLiteLedgerStore(directory / "ledger.db"),
                       (directory / "session.txt").read_text())


def in_flight(events: Ledger) -> set[str]:
    """Keys of the call versions that had started but had no outcome when the process died."""
    started, ended = set(), set()
    for e in events:
        if isinstance(e, ToolCallStarted):
            started.add((e.call_id, e.version))
        elif isinstance(e, (ToolCallFinished, ToolCallFailed)):
            ended.add((e.call_id, e.version))
    return {f"{events.session_id}:{c}:{v}" for c, v in started - ended}


def kill_and_resume(root: Path, policy: str, point: int) -> str | None:
    """Returns a description of what went wrong, or None."""
    directory = root / f"{policy}-{point}"
    directory.mkdir()
    killed = run(directory, policy, "--kill-at", str(point))
    if killed.returncode != -9:
        return f"kill at {point}: exit {killed.returncode} {killed.stderr[-500:]}"
    stored = ledger(directory)
    caught = in_flight(stored)
    if not isinstance(stored.events[-1], SessionEnded):  # else it died having finished
        resumed = run(directory, policy, "--resume")
        if resumed.returncode != 0:
            return f"resume after {point}: exit {resumed.returncode} {resumed.stderr[-800:]}"
        if json.loads(resumed.stdout)["ended"] != "answered":
            return f"resume after {point}: {resumed.stdout}"
    repeated = {k for k, n in attempts(directory).items() if n > 1} - caught
    if repeated:
        return f"kill at {point}: sent again though its outcome was known: {repeated}"
    final = ledger(directory)
    commits = Counter((e.call_id, e.version) for e in final if isinstance(e, ToolCallCommitted))
    undone = {(e.call_id, e.version) for e in final if isinstance(e, ToolCallCompensated)}
    if any(n > 1 for n in commits.values()) or set(commits) & undone:
        return f"kill at {point}: a version committed twice or committed and undone: {commits}"
    return None


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list, int]]:
    """Each policy's uninterrupted run: its world and how many steps it counted."""
    out = {}
    for policy, _ in PLAN:
        directory = tmp_path_factory.mktemp(f"baseline-{policy}")
        done = run(directory, policy)
        assert done.returncode == 0, done.stderr
        out[policy] = (effects(directory), json.loads(done.stdout)["steps"])
    return out


def test_killed_at_every_point_the_resumed_world_equals_the_uninterrupted_one(
    baseline: dict[str, tuple[list, int]], tmp_path: Path
) -> None:
    jobs = [
        (policy, point)
        for policy, stride in PLAN
        for point in range(1, baseline[policy][1] + 1, stride)
    ]
    assert len(jobs) >= 50
    problems: list[str] = []
    worlds: dict[tuple[str, int], list] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {pool.submit(kill_and_resume, tmp_path, p, n): (p, n) for p, n in jobs}
        for future in concurrent.futures.as_completed(futures):
            policy, point = futures[future]
            problem = future.result()
            if problem:
                problems.append(f"{policy}: {problem}")
            else:
                worlds[(policy, point)] = effects(tmp_path / f"{policy}-{point}")
    assert not problems, "\n".join(sorted(problems)[:10])
    wrong = [job for job, world in worlds.items() if world != baseline[job[0]][0]]
    assert not wrong, f"{len(wrong)} resumed worlds differ, e.g. {wrong[:5]}"
