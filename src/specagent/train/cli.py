"""Command line of the training package: ``specagent synth``, ``train``, ``export``, ``evaluate``.

A Typer sub-app; the main CLI mounts its commands. ``synth`` needs only the core;
``train`` (and ``evaluate``) need the optional training stack and say how to install it when
it is missing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..errors import SpecagentError
from .sources import load_tasks
from .tasks import TestSplitError

__all__ = ["app", "evaluate", "export", "synth", "train"]

app = typer.Typer(help="Clock-based training data and fine-tuning.", no_args_is_help=True)
_err = Console(stderr=True)


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write.")],
    count: Annotated[
        int, typer.Option("--count", "-n", help="Traces to play (invalid ones dropped).")
    ] = 1000,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="Task source: assistant-bench (the assistant benchmark's train split), "
            "assistant (the example toolset's generated requests) or jsonl:PATH.",
        ),
    ] = "assistant-bench",
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same file.")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the synthesis report here.")
    ] = None,
) -> None:
    """Synthesize clock-based training traces from a train split (never a test split)."""
    from rich.progress import Progress

    from .synth import synthesize, write_jsonl

    try:
        tasks = load_tasks(source, split="train")
    except (ValueError, FileNotFoundError, TestSplitError) as exc:
        _err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if not tasks:
        _err.print(f"[red]error:[/red] source {source!r} has no train tasks")
        raise typer.Exit(2)
    with Progress(console=_err, transient=True) as progress:
        bar = progress.add_task("synthesizing", total=count)
        traces, result = synthesize(
            tasks, count, seed=seed, progress=lambda done, _: progress.update(bar, completed=done)
        )
    write_jsonl(traces, out)
    summary = {
        "source": source,
        "tasks": len(tasks),
        "tasks_by_turns": dict(sorted(Counter(len(t.turns) for t in tasks).items())),
        "tasks_with_a_revised_call": sum(
            any(len(c.versions) > 1 for turn in t.turns for c in turn.calls) for t in tasks
        ),
        **result.to_json(),
    }
    if source == "assistant-bench":
        from .assistant_bench_tasks import skipped_train_episodes

        summary["skipped_episodes"] = [
            {"episode_id": s.episode_id, "reason": s.reason} for s in skipped_train_episodes()
        ]
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(summary, indent=1))
    typer.echo(json.dumps({"out": str(out), **summary}))


@app.command()
def train(
    data: Annotated[
        Path | None, typer.Option("--data", help="Synth JSONL file (from `specagent synth`).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Run directory (settings, checkpoints, progress)."),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue the run in this directory from its newest checkpoint, with its "
            "stored settings (refused if its data file or a given option differs).",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Base model from the registry.")
    ] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Optimizer steps.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size")] = None,
    grad_accum: Annotated[int | None, typer.Option("--grad-accum")] = None,
    learning_rate: Annotated[float | None, typer.Option("--lr")] = None,
    warmup: Annotated[int | None, typer.Option("--warmup", help="Warm-up steps.")] = None,
    lora_r: Annotated[int | None, typer.Option("--lora-r", help="LoRA rank (alpha = 2 r).")] = None,
    max_length: Annotated[
        int | None, typer.Option("--max-length", help="Longer traces are dropped.")
    ] = None,
    max_examples: Annotated[
        int | None, typer.Option("--max-examples", help="Use only the first N traces.")
    ] = None,
    save_steps: Annotated[
        int | None, typer.Option("--save-steps", help="A checkpoint every N steps.")
    ] = None,
    max_minutes: Annotated[
        float | None,
        typer.Option(
            "--max-minutes",
            help="This session's budget: stop with a checkpoint before another step would "
            "overrun it (resume later with --resume).",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    export: Annotated[
        bool,
        typer.Option(
            "--export/--no-export", help="Once every step is done, write merged weights and GGUFs."
        ),
    ] = True,
    name: Annotated[
        str | None, typer.Option("--name", help="Name of the trained model (MODEL-async).")
    ] = None,
) -> None:
    """Fine-tune a registry model with LoRA on synthesized traces (resumable), then export it."""
    from .run_dir import RunDirError, load_run
    from .settings import TrainSettings

    given = {
        "data": str(data.resolve()) if data is not None else None,
        "model": model,
        "max_steps": steps,
        "batch_size": batch_size,
        "grad_accum": grad_accum,
        "learning_rate": learning_rate,
        "warmup_steps": warmup,
        "lora_r": lora_r,
        "lora_alpha": 2 * lora_r if lora_r is not None else None,
        "max_length": max_length,
        "max_examples": max_examples,
        "save_steps": save_steps,
        "max_minutes": max_minutes,
        "seed": seed,
    }
    try:
        if resume is not None:
            if out is not None and out.resolve() != resume.resolve():
                raise RunDirError("give the run directory once: --resume RUN_DIR (without --out)")
            settings = load_run(resume, given)
            run_dir = resume
        else:
            if data is None or out is None:
                raise RunDirError("a new run needs --data and --out (or --resume RUN_DIR)")
            settings = TrainSettings(
                output_dir=str(out), **{k: v for k, v in given.items() if v is not None}
            )
            run_dir = out
    except RunDirError as exc:
        _err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _train_and_export(settings, run_dir, resume is not None, export, name)


def _train_and_export(
    settings: Any, run_dir: Path, resume: bool, export: bool, name: str | None
) -> None:
    from .sft import TrainingStackMissing, plot_loss
    from .sft import train as run_training

    try:
        report = run_training(settings, resume=resume, echo=lambda line: _err.print(line))
    except (TrainingStackMissing, ValueError, FileNotFoundError) as exc:  # RunDirError too
        _err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    plot_loss(
        report.log,
        run_dir / "loss.png",
        f"{settings.model} LoRA r{settings.lora_r}: {report.steps} steps",
    )
    result = {k: v for k, v in report.to_json().items() if k != "log"}
    if not report.complete:
        _err.print(
            f"stopped at step {report.steps}/{settings.max_steps} (checkpoint saved); "
            f"continue with: specagent train --resume {run_dir}"
        )
    elif export:
        from .export import export_all

        result["export"] = export_all(
            run_dir / "adapter",
            run_dir / "export",
            settings.model,
            name or f"{settings.model}-async",
        ).to_json()
    typer.echo(json.dumps(result, indent=1))


@app.command()
def export(
    run: Annotated[Path, typer.Option("--run", help="Run directory of `train` (holds adapter/).")],
    model: Annotated[
        str, typer.Option("--model", help="Base model the adapter is for.")
    ] = "smollm2-135m",
    name: Annotated[
        str, typer.Option("--name", help="Name of the trained model.")
    ] = "smollm2-135m-async",
    checkpoint: Annotated[
        int | None,
        typer.Option(
            "--checkpoint",
            help="Export the checkpoint saved at this step (run/checkpoints/checkpoint-N) "
            "into run/export-step-N, e.g. to evaluate a run still training.",
        ),
    ] = None,
) -> None:
    """Write merged weights, a merged GGUF and a GGUF LoRA adapter for a trained run."""
    from .export import ExportError, export_all

    adapter, out = run / "adapter", run / "export"
    if checkpoint is not None:
        adapter = run / "checkpoints" / f"checkpoint-{checkpoint}"
        out = run / f"export-step-{checkpoint}"
        name = f"{name}-step{checkpoint}"
    try:
        report = export_all(adapter, out, model, name)
    except ExportError as exc:
        _err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report.to_json(), indent=1))


@app.command()
def evaluate(
    model: Annotated[
        str,
        typer.Option(
            "--model", help="Registry or trained model name, BASE+ADAPTER.gguf, or a .gguf path."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results JSON to write.")],
    limit: Annotated[int, typer.Option("--limit", help="Held-out (test split) tasks to run.")] = 20,
    policies: Annotated[str, typer.Option("--policies")] = "sync,speculative",
) -> None:
    """Protocol check: held-out generated requests (source `assistant`, test split), one turn
    each, scored for valid protocol, call recall and speedup.

    Benchmark accuracy: `specagent bench --dataset assistant --split test --model SPEC`.
    """
    from .evaluate import evaluate_model

    try:
        result = evaluate_model(model, limit=limit, policies=policies.split(","))
    except (SpecagentError, ValueError, FileNotFoundError) as exc:  # a missing model included
        _err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    typer.echo(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    app()
