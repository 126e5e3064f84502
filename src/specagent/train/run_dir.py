"""A training run's directory: what the run is, so that it can go on in a later session.

A run on this CPU takes hours, longer than a working session, so ``specagent train`` writes
``run_settings.json`` into the run directory when a run starts: its settings
(:class:`~specagent.train.settings.TrainSettings`) and the fingerprint (sha256, size) of its
data file. ``specagent train --resume RUN_DIR`` reads them back and continues from the newest
complete checkpoint. It refuses, saying exactly what differs, when the data file has changed
or gone, or when an option given on the command line contradicts the stored run; only a
session's own settings (time budget, threads, where the directory now is) may change.

Layout of a run directory::

    run_settings.json     the run: settings + data fingerprint (written once)
    checkpoints/          checkpoint-N/ (adapter, optimizer, scheduler, RNG, trainer state)
    progress.json         the latest progress line (step, loss, s/step, ETA, status)
    progress.jsonl        every progress line, across sessions
    loss_log.jsonl        the loss of every step
    adapter/              the adapter as of the last session's end
    train_report.json     the last session's report
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import SpecagentError
from .settings import SESSION_FIELDS, TrainSettings

__all__ = [
    "CHECKPOINTS",
    "SETTINGS_FILE",
    "RunDirError",
    "RunRecord",
    "checkpoint_step",
    "data_fingerprint",
    "last_checkpoint",
    "load_run",
    "start_run",
    "write_json_atomic",
]

SETTINGS_FILE = "run_settings.json"
CHECKPOINTS = "checkpoints"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


class RunDirError(SpecagentError, ValueError):
    """A run directory cannot be started or resumed as asked; the message says why."""


@dataclass(frozen=True)
class RunRecord:
    """What ``run_settings.json`` holds."""

    settings: dict[str, Any]
    data_sha256: str
    data_bytes: int
    started: str


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON so a reader (or a crash) never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)


def data_fingerprint(path: str | Path) -> tuple[str, int]:
    """``(sha256, size in bytes)`` of a data file."""
    file = Path(path)
    if not file.is_file():
        raise RunDirError(f"data file {file} does not exist")
    digest = hashlib.sha256()
    with file.open("rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest(), file.stat().st_size


def checkpoint_step(path: Path) -> int:
    match = _CHECKPOINT_RE.match(path.name)
    if match is None:
        raise ValueError(f"{path} is not a checkpoint directory")
    return int(match.group(1))


def last_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest *complete* checkpoint (its trainer state is written last), or ``None``."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return None
    done = [
        p
        for p in folder.iterdir()
        if p.is_dir() and _CHECKPOINT_RE.match(p.name) and (p / "trainer_state.json").is_file()
    ]
    return max(done, key=checkpoint_step, default=None)


def start_run(settings: TrainSettings) -> RunRecord:
    """Record a new run in its directory; refuse a directory that already holds one."""
    out = Path(settings.output_dir)
    stored = out / SETTINGS_FILE
    if stored.exists():
        raise RunDirError(
            f"{out} already holds a training run ({SETTINGS_FILE}); continue it with "
            f"`specagent train --resume {out}`, or give another --out"
        )
    sha, size = data_fingerprint(settings.data)
    out.mkdir(parents=True, exist_ok=True)
    record = RunRecord(
        settings=asdict(settings),
        data_sha256=sha,
        data_bytes=size,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    write_json_atomic(stored, asdict(record))
    return record


def load_run(run_dir: str | Path, given: dict[str, Any] | None = None) -> TrainSettings:
    """The stored settings of the run in ``run_dir``, checked against its data file and
    against ``given`` (options stated on the command line; ``None`` values are not given).

    Session settings in ``given`` (see :data:`~specagent.train.settings.SESSION_FIELDS`)
    replace the stored ones (the time budget is never carried over from an earlier session);
    any other given setting must equal the stored one.
    """
    folder = Path(run_dir)
    stored = folder / SETTINGS_FILE
    if not stored.is_file():
        raise RunDirError(
            f"{folder} holds no training run to resume ({SETTINGS_FILE} missing); "
            "start one with `specagent train --data FILE --out DIR`"
        )
    try:
        record = RunRecord(**json.loads(stored.read_text()))
        settings = TrainSettings(**record.settings)
    except (TypeError, ValueError) as exc:
        raise RunDirError(f"{stored} is not a run record this version can read: {exc}") from None
    data = Path(settings.data)
    if not data.is_file():
        raise RunDirError(
            f"the run's data file {data} is gone; a resumed run must train on the same file "
            f"(sha256 {record.data_sha256[:12]}…)"
        )
    sha, size = data_fingerprint(data)
    if sha != record.data_sha256:
        raise RunDirError(
            f"the run's data file {data} has changed since the run started (sha256 "
            f"{sha[:12]}…, {size} bytes; the run started on {record.data_sha256[:12]}…, "
            f"{record.data_bytes} bytes); resume needs the same data: restore the file or "
            "start a new run"
        )
    changed = {}
    # a time budget is one session's: the stored one does not carry over
    session: dict[str, Any] = {"output_dir": str(folder), "max_minutes": None}
    for name, value in (given or {}).items():
        if value is None:
            continue
        if name not in TrainSettings.field_names():
            raise RunDirError(f"unknown training setting {name!r}")
        if name in SESSION_FIELDS:
            session[name] = value
        elif _differs(getattr(settings, name), value, name):
            changed[name] = (getattr(settings, name), value)
    if changed:
        detail = "; ".join(
            f"{k}: run has {old!r}, given {new!r}" for k, (old, new) in changed.items()
        )
        raise RunDirError(
            f"cannot resume {folder} with other settings ({detail}); leave those options out "
            "to keep the run's own, or start a new run"
        )
    values = {**asdict(settings), **session}
    return TrainSettings(**values)


def _differs(stored: Any, given: Any, name: str) -> bool:
    if name == "data":
        return Path(str(stored)).resolve() != Path(str(given)).resolve()
    if isinstance(stored, float) or isinstance(given, float):
        return float(stored) != float(given)
    return bool(stored != given)
