"""Fixtures for the MCP tests: the demo server (tests/mcp_demo_server.py) over stdio and over
streamable HTTP on 127.0.0.1. The HTTP server prints its port once its socket listens, so the
fixture waits on that line, never on a fixed sleep."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER = Path(__file__).with_name("mcp_demo_server.py")


def stdio_command(*extra: str) -> str:
    """The command line that starts the demo server over stdio."""
    return shlex.join([sys.executable, str(SERVER), "stdio", *extra])


def start_http_server(*extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "http", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the port, once the socket listens (EOF if it crashed)
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError(f"demo MCP server did not start (said {line!r})")
    return proc, f"http://127.0.0.1:{int(line)}/mcp"


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture
def http_server() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc, url = start_http_server()
    try:
        yield proc, url
    finally:
        stop(proc)


@pytest.fixture
def web_http_server() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The demo server over HTTP with every tool name prefixed ``web_``."""
    proc, url = start_http_server("--prefix", "web_")
    try:
        yield proc, url
    finally:
        stop(proc)
