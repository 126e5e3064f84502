"""What an MCP call costs through specagent, over stdio and streamable HTTP on this machine.

Connects to the test suite's demo server (``tests/mcp_demo_server.py``, written with the MCP
SDK), then times ``--calls`` calls of its read-only ``get_weather`` tool through
``Toolset.from_mcp`` on the real clock (bridge thread, SDK client, server and back), and the
time to connect and list tools. Writes the figures and settings as JSON.

    .venv/bin/python benchmarks/mcp_overhead.py --calls 200 --out docs/mcp-overhead.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mcp_fixtures import start_http_server, stdio_command, stop  # noqa: E402

from specagent.clock import RealClock  # noqa: E402
from specagent.tools import Toolset  # noqa: E402


def measure(server: str, calls: int) -> dict:
    clock = RealClock()

    async def main() -> dict:
        started = time.perf_counter()
        async with Toolset.from_mcp(server, clock=clock) as tools:
            connect_s = time.perf_counter() - started
            weather = tools["get_weather"]
            times = []
            for i in range(calls):
                t0 = time.perf_counter()
                await weather.call({"city": f"City{i}"})
                times.append(time.perf_counter() - t0)
            closing = time.perf_counter()
        close_s = time.perf_counter() - closing
        times.sort()
        return {
            "connect_and_list_s": round(connect_s, 4),
            "calls": calls,
            "call_median_ms": round(1000 * statistics.median(times), 3),
            "call_p90_ms": round(1000 * times[int(0.9 * (len(times) - 1))], 3),
            "call_max_ms": round(1000 * times[-1], 3),
            "close_s": round(close_s, 4),
        }

    return clock.run(main())


def measure_sdk_alone(server: str, calls: int) -> float:
    """The same calls with the SDK's own client on a plain asyncio loop (no specagent)."""
    import asyncio
    import shlex

    from mcp import Client, StdioServerParameters

    target = server
    if not server.startswith("http"):
        program, *rest = shlex.split(server)
        target = StdioServerParameters(command=program, args=rest)

    async def main() -> float:
        async with Client(target, cache=None) as client:
            times = []
            for i in range(calls):
                t0 = time.perf_counter()
                await client.call_tool("get_weather", {"city": f"City{i}"})
                times.append(time.perf_counter() - t0)
        return round(1000 * statistics.median(times), 3)

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = {"stdio": measure(stdio_command(), args.calls)}
    results["stdio"]["sdk_alone_call_median_ms"] = measure_sdk_alone(stdio_command(), args.calls)
    proc, url = start_http_server()
    try:
        results["streamable_http"] = measure(url, args.calls)
        results["streamable_http"]["sdk_alone_call_median_ms"] = measure_sdk_alone(url, args.calls)
    finally:
        stop(proc)
    record = {
        "command": "benchmarks/mcp_overhead.py " + " ".join(sys.argv[1:]),
        "what": "real-clock round trip of one read-only MCP tool call through Toolset.from_mcp "
        "(sdk_alone: the same call with the SDK's Client on a plain asyncio loop)",
        "machine": {"cpus": __import__("os").cpu_count(), "platform": platform.platform()},
        "mcp_sdk": subprocess.run(
            [sys.executable, "-c", "import importlib.metadata as m; print(m.version('mcp'))"],
            capture_output=True, text=True,
        ).stdout.strip(),
        "results": results,
    }
    text = json.dumps(record, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
