"""Load on ``specagent serve``: many concurrent WebSocket conversations on 127.0.0.1.

The server runs in its own process (this script with ``--serve-fd``, started by the script
itself): the ``async`` policy, the example assistant toolset with its simulated tool latency
(0.5-1.0 s a call) and the rule-based scripted model (``--ttft-s`` to the first token,
``--token-s`` per token), so what is measured is the server, not a language model. One client
process opens ``--sessions`` WebSocket conversations at once; each speaks requests word by word
(``--gap-s`` between words), waits for the answer and speaks again, until ``--duration-s`` has
passed. Each conversation's requests carry its own marker (``Kx0042``).

Reported:

* **event latency through the server**: for every message carrying an event time, the client's
  receive time minus the server's event time (both on this machine's monotonic clock; the
  ``ready`` message gives the server clock's origin). p50, p99 and max, in milliseconds. It
  includes serialisation, the send queue, the socket and the client process's own scheduling
  delay: client and server share the machine's cores;
* **memory per session**: the server's RSS with every conversation connected and past its first
  turn, minus its RSS after one warm-up conversation, divided by the number of sessions;
* **isolation**: no message a conversation receives names another conversation's marker or
  conversation id, every answer is its own request's answer;
* turn latency (the server's ``latency_s``: final words to answer complete), throughput, the
  server's CPU time per message, and the machine's load average (other work on the machine
  shows in the delays).

``event_latency_after_ramp_ms`` counts only messages received once every conversation has
finished its first turn: the ramp, when all of them connect at once, costs the server most
(each new conversation builds its own example toolset and world).

Run::

    .venv/bin/python benchmarks/serve_load.py --sessions 200 --duration-s 60 \\
        --out docs/serve-load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

MARKER = re.compile(r"Kx\d{4}")
CITIES = ["Paris", "London", "Boston", "Denver", "Tokyo"]
WEATHER = {"Paris": "sunny, 21", "London": "light rain, 15", "Boston": "cloudy, 12",
           "Denver": "clear, 18", "Tokyo": "humid, 27"}  # fmt: skip


# -- the server process ---------------------------------------------------------------------------


def serve(fd: int, args: argparse.Namespace) -> None:
    from specagent.agent import Policy
    from specagent.serve import Hub, ScriptedModels, ServeConfig, example_tools
    from specagent.serve.server import uvicorn_server

    sock = socket.socket(fileno=fd)
    hub = Hub(
        ServeConfig(policy=Policy.ASYNC, keep_detached=10 * args.sessions),
        ScriptedModels(ttft_s=args.ttft_s, token_s=args.token_s),
        example_tools(seed=0),
    )
    server = uvicorn_server(hub)
    server.run(sockets=[sock])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# -- the clients ----------------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Conversation:
    index: int
    marker: str
    conversation_id: str = ""
    latencies_ms: list[float] = field(default_factory=list)
    steady_ms: list[float] = field(default_factory=list)  # after every session's first turn
    turn_latencies_s: list[float] = field(default_factory=list)
    turns: int = 0
    messages: int = 0
    violations: list[str] = field(default_factory=list)
    error: str | None = None


def request(conv: Conversation, turn: int) -> tuple[str, str]:
    city = CITIES[(conv.index + turn) % len(CITIES)]
    code = conv.marker[2:]
    words = f"What's the weather in {city} and text {conv.marker} that code {code} is ready"
    expected = f"{city}: {WEATHER[city]} C. Message sent to {conv.marker}."
    return words, expected


async def converse(
    base: str, conv: Conversation, args: argparse.Namespace, deadline: float, first_turns: Any
) -> None:
    """Speak turns until ``deadline``; a reader takes every message as soon as it arrives."""
    try:
        async with websockets.connect(f"{base}/ws", max_size=None, open_timeout=60) as ws:
            ready = json.loads(await ws.recv())
            conv.conversation_id = ready["conversation_id"]
            answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            reader = asyncio.create_task(
                read(ws, conv, ready["clock_origin_s"], answers, first_turns.all_done)
            )
            try:
                turn = 0
                while turn == 0 or time.monotonic() < deadline:
                    words, expected = request(conv, turn)
                    split = words.split()
                    await asyncio.sleep(random.uniform(0, args.gap_s))  # speakers not in step
                    for i, word in enumerate(split):
                        final = i == len(split) - 1
                        await ws.send(json.dumps({"type": "speech", "text": word, "final": final}))
                        if not final:
                            await asyncio.sleep(args.gap_s)
                    answer = await answers.get()
                    if answer["text"] != expected:
                        conv.violations.append(f"turn {turn + 1}: answered {answer['text']!r}")
                    if answer["latency_s"] is not None:
                        conv.turn_latencies_s.append(answer["latency_s"])
                    conv.turns += 1
                    turn += 1
                    if turn == 1:
                        first_turns.release()
                        await first_turns.all_done.wait()  # all connected, past a turn: RSS
            finally:
                reader.cancel()
    except Exception as exc:  # reported, counted as a failed session
        conv.error = f"{type(exc).__name__}: {exc}"
        if conv.turns == 0:
            first_turns.release()


async def read(
    ws: Any,
    conv: Conversation,
    origin: float,
    answers: asyncio.Queue[dict[str, Any]],
    ramped: asyncio.Event,
) -> None:
    while True:
        raw = await ws.recv()
        received = time.monotonic()
        conv.messages += 1
        message = json.loads(raw)
        if "t" in message:
            delay_ms = (received - (origin + message["t"])) * 1000
            conv.latencies_ms.append(delay_ms)
            if ramped.is_set():
                conv.steady_ms.append(delay_ms)
        others = set(MARKER.findall(raw)) - {conv.marker}
        if others:
            conv.violations.append(f"saw {sorted(others)} in {message['type']}")
        if message["type"] == "answer":
            answers.put_nowait(message)


class Barrier:
    """Counts sessions past their first turn; ``all_done`` once the last one is."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.all_done = asyncio.Event()

    def release(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.all_done.set()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def load(args: argparse.Namespace, port: int, server_pid: int) -> dict[str, Any]:
    base = f"ws://127.0.0.1:{port}"
    # a warm-up conversation also waits for the server to accept (the socket queues us)
    warm = Conversation(-1, "Kx9999")
    await converse(base, warm, argparse.Namespace(**{**vars(args), "gap_s": 0.0}), 0, Barrier(1))
    if warm.error:
        raise RuntimeError(f"warm-up conversation failed: {warm.error}")
    baseline = rss_mb(server_pid)
    cpu_before = cpu_s(server_pid)
    load_before = os.getloadavg()[0]
    conversations = [Conversation(i, f"Kx{i:04d}") for i in range(args.sessions)]
    barrier = Barrier(args.sessions)
    started = time.monotonic()
    deadline = started + args.duration_s
    peak = baseline
    all_connected: float | None = None

    async def sample() -> None:
        nonlocal peak, all_connected
        while True:
            peak = max(peak, rss_mb(server_pid))
            if barrier.all_done.is_set() and all_connected is None:
                all_connected = rss_mb(server_pid)
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(converse(base, c, args, deadline, barrier) for c in conversations))
    elapsed = time.monotonic() - started
    server_cpu = cpu_s(server_pid) - cpu_before
    load_after = os.getloadavg()[0]
    sampler.cancel()
    latencies = [x for c in conversations for x in c.latencies_ms]
    steady = [x for c in conversations for x in c.steady_ms]
    turn_latencies = [x for c in conversations for x in c.turn_latencies_s]
    ids = [c.conversation_id for c in conversations if c.conversation_id]
    failed = [c for c in conversations if c.error]
    violations = [f"{c.marker}: {v}" for c in conversations for v in c.violations]
    if len(set(ids)) != len(ids):
        violations.append("two sessions got the same conversation id")
    per_session = None if all_connected is None else (all_connected - baseline) / args.sessions
    messages = sum(c.messages for c in conversations)

    def summary(values: list[float]) -> dict[str, float]:
        if not values:
            return {"count": 0}
        return {
            "count": len(values),
            "p50": round(statistics.median(values), 3),
            "p99": round(pct(values, 99), 3),
            "max": round(max(values), 3),
        }

    return {
        "sessions": args.sessions,
        "sessions_failed": len(failed),
        "failures": [f"{c.marker}: {c.error}" for c in failed][:10],
        "elapsed_s": round(elapsed, 2),
        "turns": sum(c.turns for c in conversations),
        "messages": messages,
        "messages_per_s": round(messages / elapsed, 1),
        "event_latency_ms": summary(latencies),
        "event_latency_after_ramp_ms": summary(steady),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_us_per_message": round(server_cpu / messages * 1e6, 1),
        "load_average_1min": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "turn_latency_s": {
            "p50": round(statistics.median(turn_latencies), 3),
            "p99": round(pct(turn_latencies, 99), 3),
        },
        "memory": {
            "rss_after_warmup_mb": round(baseline, 1),
            "rss_all_connected_mb": None if all_connected is None else round(all_connected, 1),
            "rss_peak_mb": round(peak, 1),
            "per_session_kb": None if per_session is None else round(per_session * 1024, 1),
        },
        "isolation": {"violations": len(violations), "examples": violations[:10]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--gap-s", type=float, default=0.3, help="between words")
    parser.add_argument("--ttft-s", type=float, default=0.05)
    parser.add_argument("--token-s", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--serve-fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fd is not None:
        serve(args.serve_fd, args)
        return
    random.seed(args.seed)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, __file__, *sys.argv[1:], "--serve-fd", str(sock.fileno())],
        pass_fds=[sock.fileno()],
    )
    try:
        results = asyncio.run(load(args, port, child.pid))
    finally:
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=60)
        sock.close()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: -SIGTERM is a clean exit
    results["server_exit"] = "clean" if code in (0, -signal.SIGTERM) else f"exit code {code}"
    report = {
        "command": "python benchmarks/serve_load.py " + " ".join(sys.argv[1:]),
        "settings": {
            "policy": "async",
            "model": f"scripted (ttft {args.ttft_s} s, {args.token_s} s a token)",
            "tools": "example assistant toolset, simulated latency 0.5-1.0 s a call",
            "gap_between_words_s": args.gap_s,
            "duration_s": args.duration_s,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), "
            f"Python {platform.python_version()}",
            "note": "client and server processes share the machine's cores; the event latency "
            "includes the client's own scheduling delay",
        },
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    ok = (
        results["isolation"]["violations"] == 0
        and results["sessions_failed"] == 0
        and results["server_exit"] == "clean"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
