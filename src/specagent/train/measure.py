"""How long a real run will take: one measured training session, turned into a sizing.

A run must be sized before it is started: on this CPU a step of the 0.5B model takes tens of
seconds, so "one epoch" may mean days. This reads a short session made by the real pipeline
(``specagent train ... --steps N``: the same loader, loss and LoRA as the long run) from its
run directory and writes what it implies:

* seconds per step (the median of the steps after the first, which warms up and is left out;
  a step right after a checkpoint is saved carries the saving time and is reported apart),
  tokens per step (all, shared prompt, learnt), peak memory;
* for 1, 3 and 8 hours: steps, traces seen (steps x batch), and epochs of the data file;
* the machine's load while it ran (the CPU is shared; a busy machine makes steps slower), and
  the processor time a step used, which depends much less on the others' load: from it, the
  pace the process would have with both cores to itself (labelled as derived, not measured).

    python -m specagent.train.measure --run RUN_DIR --out docs/training/FILE.json

Nothing is estimated that was not measured here except the sizing arithmetic, which is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
from pathlib import Path
from typing import Any

from .run_dir import SETTINGS_FILE

__all__ = ["measure_run", "main"]

HOURS = (1, 3, 8)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def cpu_from_samples(path: str | Path, clock_ticks: int = 100) -> dict[int, float]:
    """Processor seconds per step from samples ``EPOCH UTIME STIME STEP`` (``/proc/PID/stat``
    fields 14 and 15 in clock ticks, and ``progress.json``'s step), for runs whose progress
    lines predate the ``cpu_s`` field: a step's time runs from the first sample showing the
    previous step done to the first showing it done (both must have been sampled)."""
    first: dict[int, float] = {}
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        first.setdefault(int(fields[3]), (int(fields[1]) + int(fields[2])) / clock_ticks)
    steps = sorted(first)[1:]  # the sampler may have started during the first step it shows
    return {b: round(first[b] - first[a], 1) for a, b in zip(steps, steps[1:]) if b == a + 1}


def rss_from_samples(path: str | Path) -> dict[str, float]:
    """Largest and last resident memory in samples of ``/proc/PID/status`` (VmRSS, kB)."""
    rss = [int(m) for m in re.findall(r"VmRSS:\s+(\d+) kB", Path(path).read_text())]
    if not rss:
        raise ValueError(f"{path}: no VmRSS samples")
    return {
        "samples": len(rss),
        "max_mb": round(max(rss) / 1024, 1),
        "last_mb": round(rss[-1] / 1024, 1),
    }


def measure_run(
    run_dir: str | Path,
    *,
    load: dict[str, Any] | None = None,
    cpu_samples: dict[int, float] | None = None,
    rss_samples: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The step measurement and sizing of the session(s) recorded in ``run_dir``."""
    folder = Path(run_dir)
    report = json.loads((folder / "train_report.json").read_text())
    record = json.loads((folder / SETTINGS_FILE).read_text())
    settings = report["settings"]
    running = [x for x in _lines(folder / "progress.jsonl") if x["status"] == "running"]
    if len(running) < 2:
        raise ValueError(f"{folder}: need at least two timed steps, found {len(running)}")
    after_save = {
        x["step"]
        for x in running
        if (x["step"] - 1) > 0 and (x["step"] - 1) % settings["save_steps"] == 0
    }
    steady = [x["step_s"] for x in running[1:] if x["step"] not in after_save]
    saving = [x["step_s"] for x in running[1:] if x["step"] in after_save]
    s_step = statistics.median(steady)
    batch = settings["batch_size"] * settings["grad_accum"]
    examples = report["examples"]
    sizing = {
        f"{h}h": {
            "steps": int(3600 * h // s_step),
            "traces_seen": int(3600 * h // s_step) * batch,
            "epochs": round(int(3600 * h // s_step) * batch / examples, 3),
        }
        for h in HOURS
    }
    for x in running:
        if x.get("cpu_s") is None and cpu_samples and x["step"] in cpu_samples:
            x["cpu_s"] = cpu_samples[x["step"]]
    cpu = [x["cpu_s"] for x in running[1:] if x["step"] not in after_save and x.get("cpu_s")]
    cpu_step = statistics.median(cpu) if cpu else None
    own_pace = cpu_step / settings["threads"] if cpu_step else None
    return {
        "command": " ".join(["specagent train", *_command(settings)]),
        "model": settings["model"],
        "data": {
            "file": settings["data"],
            "sha256": record["data_sha256"],
            "traces": examples,
            "dropped_too_long": report["dropped_too_long"],
            "tokens_per_trace": round(report["tokens"] / examples, 1),
            "learnt_tokens_per_trace": round(report["loss_tokens"] / examples, 1),
        },  # fmt: skip
        "settings": {
            k: settings[k]
            for k in (
                "batch_size",
                "grad_accum",
                "lora_r",
                "lora_alpha",
                "max_length",
                "learning_rate",
                "threads",
                "save_steps",
            )
        },  # fmt: skip
        "steps_timed": len(running),
        "first_step_s": running[0]["step_s"],
        "step_s": [x["step_s"] for x in running],
        "s_per_step_median": round(s_step, 2),
        "s_per_step_min": round(min(steady), 2),
        "s_per_step_max": round(max(steady), 2),
        "step_after_checkpoint_s": [round(x, 2) for x in saving],
        "tokens_per_step": report["mean_batch_tokens"],
        "shared_prefix_tokens_per_batch": report["mean_prefix_tokens"],
        "learnt_tokens_per_step": report["mean_learnt_tokens"],
        "peak_rss_mb": report["peak_rss_mb"],
        "peak_rss_note": "ru_maxrss of the whole process: model loading (GGUF dequantised to "
        "float32) included",
        "rss_during_run": rss_samples,
        "cpu_s": [x.get("cpu_s") for x in running],
        "cpu_s_source": "progress lines"
        if all(x.get("cpu_s") for x in running[1:])
        else "samples of /proc/PID/stat taken during the run (--cpu-samples)"
        if cpu
        else None,
        "cpu_s_per_step_median": None if cpu_step is None else round(cpu_step, 1),
        "cpu_share": None
        if cpu_step is None
        else round(cpu_step / s_step / settings["threads"], 3),
        "losses": [x["loss"] for x in running],
        "sizing": sizing,
        "sizing_with_the_cores_to_itself": None
        if own_pace is None
        else {
            "s_per_step": round(own_pace, 1),
            "rule": "cpu_s_per_step_median / threads: the wall time a step would take if the "
            "process got both cores all the time (derived from processor time, not measured "
            "as wall time; parallel losses would make it slower)",
            **{
                f"{h}h": {
                    "steps": int(3600 * h // own_pace),
                    "traces_seen": int(3600 * h // own_pace) * batch,
                    "epochs": round(int(3600 * h // own_pace) * batch / examples, 3),
                }
                for h in HOURS
            },
        },
        "sizing_rule": "steps = floor(hours x 3600 / s_per_step_median); traces = steps x "
        "batch_size x grad_accum; epochs = traces / traces in the file",
        "machine": {"cpus": os.cpu_count(), **(load or {})},
    }


def load_samples(path: str | Path) -> dict[str, Any]:
    """Summary of load samples, one line each: ``EPOCH LOAD1 LOAD5 LOAD15 | TOP PROCESSES``
    (what the launcher in docs/training.md records every 30 s while a session runs)."""
    load1: list[float] = []
    others: dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        head, _, tail = line.partition("|")
        fields = head.split()
        if len(fields) < 4:
            continue
        load1.append(float(fields[1]))
        for proc in tail.split("|"):
            words = proc.split()
            if len(words) < 2 or "specagent train" in proc or float(words[0]) < 20:
                continue
            name = " ".join(words[1:])[:90]
            others[name] = others.get(name, 0) + 1
    if not load1:
        raise ValueError(f"{path}: no load samples")
    return {
        "load1_samples": len(load1),
        "load1_min": min(load1),
        "load1_median": statistics.median(load1),
        "load1_max": max(load1),
        "other_busy_processes": dict(sorted(others.items(), key=lambda kv: -kv[1])[:5]),
        "note": "load average of the 2-core machine sampled every 30 s during the session; "
        "other_busy_processes: how many samples showed each other process above 20% CPU",
    }


def _command(settings: dict[str, Any]) -> list[str]:
    return [
        f"--data {settings['data']}", f"--model {settings['model']}",
        f"--steps {settings['max_steps']}", f"--batch-size {settings['batch_size']}",
        f"--grad-accum {settings['grad_accum']}", f"--warmup {settings['warmup_steps']}",
        f"--lr {settings['learning_rate']}", f"--lora-r {settings['lora_r']}",
        f"--max-length {settings['max_length']}", f"--save-steps {settings['save_steps']}",
        "--no-export",
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="run directory of the session")
    parser.add_argument("--load-samples", type=Path, help="load samples taken during the run")
    parser.add_argument("--cpu-samples", type=Path, help="EPOCH UTIME STIME STEP samples")
    parser.add_argument("--rss-samples", type=Path, help="/proc/PID/status samples (VmRSS)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    result = measure_run(
        args.run,
        load=load_samples(args.load_samples) if args.load_samples else None,
        cpu_samples=cpu_from_samples(args.cpu_samples) if args.cpu_samples else None,
        rss_samples=rss_from_samples(args.rss_samples) if args.rss_samples else None,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("s_per_step_median", "tokens_per_step",
                                             "peak_rss_mb", "sizing")}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
