"""The real-time event loop, in one thread, that owns every MCP connection of a toolset.

Why a thread: a session may run on :class:`~specagent.clock.VirtualClock`, an event loop whose
time jumps to the next timer whenever every task waits. The MCP SDK keeps timers of its own
(stdio shutdown grace periods, poll intervals, request timeouts) and its transports raise
into the task that opened them. On the virtual loop those timers would fire at once or never,
and a dying server would cancel the session's own task. So every MCP connection lives on this
bridge loop, which always runs on wall-clock time; the session's loop only waits for answers.

While a session waits for the bridge it holds its clock (:meth:`Clock.hold`): on the virtual
clock, simulated time stands still while a real request is on the wire, exactly as it does
while a local model computes a token. What a call then costs in simulated time is decided by
:class:`~specagent.mcptools.toolset.McpToolset` (``virtual_cost_s``).

Cancelling a wait cancels the bridge task behind it, so the SDK sends the server its
``notifications/cancelled``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..clock import Clock

__all__ = ["McpBridge"]

T = TypeVar("T")


class McpBridge:
    """Runs coroutines on a private real-time loop; :meth:`run` awaits one from any loop."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._finished: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._closed = False
        self._thread = threading.Thread(target=self._main, name="specagent-mcp", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            try:
                leftover = asyncio.all_tasks(self._loop)
                for task in leftover:
                    task.cancel()
                if leftover:
                    self._loop.run_until_complete(
                        asyncio.gather(*leftover, return_exceptions=True)
                    )
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            finally:
                self._loop.close()
                self._finished.set_result(None)

    @property
    def closed(self) -> bool:
        return self._closed

    async def run(self, clock: Clock, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the bridge and wait for it, with ``clock`` held meanwhile."""
        if self._closed:
            coro.close()
            raise RuntimeError("the MCP connections of this toolset are closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        with clock.hold():
            return await asyncio.wrap_future(future)

    async def close(self, clock: Clock) -> None:
        """Stop the loop (cancelling anything still on it) and join its thread."""
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        with clock.hold():
            await asyncio.shield(asyncio.wrap_future(self._finished))
        self._thread.join()
