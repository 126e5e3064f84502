"""``pip install specagent`` without extras: a fresh venv (no system site packages) gets the
core alone, runs a session with the scripted model, and a feature whose extra is missing
says, in one line, which extra to install.

The install needs the package registry (PyPI) and llama-cpp-python, which builds from
source; ``scripts/setup.sh`` has already built it once, and pip's wheel cache serves that
build here (25-60 s on this project's 2-core machine with the cache warm, depending on load;
benchmarks/install_core.py records it in docs/install-core.json).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SESSION = r"""
import asyncio
from specagent.agent import Policy, Session
from specagent.clock import VirtualClock
from specagent.events import UserSpeech
from specagent.models import ScriptedBackend
from specagent.tools import Effect, Toolset, tool

@tool(effect=Effect.READ_ONLY)
async def get_weather(city: str) -> dict:
    "Weather for a city."
    return {"city": city, "sky": "sunny"}

def respond(messages):
    said = "\n".join(m.content for m in messages if m.role == "user")
    if "<tool_result" in said:
        return "<answer>Sunny in Paris.</answer>"
    if "Paris" in said:
        return '<tool_call id="1">{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
    return "<pause/>"

clock = VirtualClock()
session = Session(ScriptedBackend(clock, respond), Toolset([get_weather]), clock, Policy.ASYNC)
speech = [UserSpeech(t=0.5, text="weather in"), UserSpeech(t=1.0, text="Paris", final=True)]
result = clock.run(session.run(speech))
print(result.ended, result.answer, result.tool_calls[0].status)
"""

EXTRAS = {
    "mcp": "mcp",
    "opentelemetry.sdk": "otel",
    "matplotlib": "bench",
    "chess": "actions",
    "ray": "ray",
    "faster_whisper": "voice",
    "torch": "train",
}


def _source_copy(into: Path) -> Path:
    """The package's own files only (no build artefacts land in the work tree)."""
    src = into / "specagent-src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", src / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    return src


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("core")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    started = time.monotonic()
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         str(_source_copy(base))],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"core install took {time.monotonic() - started:.0f} s")
    return env_dir


def _run(env_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300,
                          cwd=env_dir, env={"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin"})


def test_the_core_runs_a_scripted_session_without_any_extra(core_venv: Path) -> None:
    python = str(core_venv / "bin" / "python")
    present = _run(core_venv, python, "-c", (
        "import importlib.util as u; "
        f"print([m for m in {list(EXTRAS)!r} if u.find_spec(m.split('.')[0])])"
    ))
    assert present.stdout.strip() == "[]", present.stdout + present.stderr
    session = _run(core_venv, python, "-c", SESSION)
    assert session.returncode == 0, session.stderr[-2000:]
    assert session.stdout.strip() == "answered Sunny in Paris. done"


def test_the_core_cli_works_and_names_a_missing_extra_in_one_line(core_venv: Path) -> None:
    specagent = str(core_venv / "bin" / "specagent")
    helped = _run(core_venv, specagent, "--help")
    assert helped.returncode == 0 and "tools" in helped.stdout, helped.stderr[-2000:]
    listed = _run(core_venv, specagent, "tools", "--json")
    assert listed.returncode == 0 and '"get_weather"' in listed.stdout, listed.stderr
    for args, extra in (
        (["tools", "--mcp", "python server.py"], "mcp"),
        (["run", "hi", "--trace", "console"], "otel"),
        (["actions", "chess", "--games", "1"], "actions"),
        (["bench", "--dataset", "assistant"], "bench"),
    ):
        done = _run(core_venv, specagent, *args)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"pip install 'specagent[{extra}]'" in lines[0], lines[0]
