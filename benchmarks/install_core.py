"""How long ``pip install specagent`` (the core, no extras) takes in a fresh venv here.

Copies the package's own files (src/, pyproject.toml, README.md) to a temporary directory,
creates a venv without system site packages, installs, and records the wall time and what
got installed. llama-cpp-python builds from source; ``scripts/setup.sh`` built it once and
pip's wheel cache serves that build, which is what ``tests/test_install_core.py`` relies on.

    .venv/bin/python benchmarks/install_core.py --out docs/install-core.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        src = base / "src-copy"
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
        shutil.copytree(ROOT / "src", src / "src", ignore=ignore)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, src / name)
        started = time.perf_counter()
        venv.EnvBuilder(with_pip=True, system_site_packages=False).create(base / "venv")
        made = time.perf_counter()
        python = str(base / "venv" / "bin" / "python")
        subprocess.run(
            [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", str(src)],
            check=True, capture_output=True, text=True,
        )
        done = time.perf_counter()
        frozen = subprocess.run(
            [python, "-m", "pip", "freeze", "--disable-pip-version-check"],
            check=True, capture_output=True, text=True,
        ).stdout.splitlines()
    record = {
        "command": "benchmarks/install_core.py " + " ".join(sys.argv[1:]),
        "venv_s": round(made - started, 1),
        "pip_install_s": round(done - made, 1),
        "total_s": round(done - started, 1),
        "packages": len(frozen),
        "installed": sorted(line.split(" @ ")[0] for line in frozen),
        "machine_cpus": os.cpu_count(),
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
