"""Arguments that reference earlier results: implicit dependency, resolution, errors."""

from __future__ import annotations

from specagent.clock import VirtualClock
from specagent.executor import CallStatus, ToolExecutor
from specagent.references import find_references, resolve_references
from specagent.tools import Effect, Toolset, tool


@tool(effect=Effect.READ_ONLY)
async def search(city: str) -> dict:
    """Search."""
    return {"flights": [{"id": "F1", "price": 300}, {"id": "F2", "price": 200}]}


@tool(effect=Effect.IRREVERSIBLE)
async def book(flight_id: str) -> dict:
    """Book."""
    return {"booked": flight_id}


def test_find_and_resolve():
    args = {"flight_id": "$1.flights.1.id", "note": "$2", "plain": "$ 5", "list": ["$3.x"]}
    assert find_references(args) == {1, 2, 3}
    out = resolve_references(args, {1: {"flights": [{}, {"id": "F2"}]}, 2: 7, 3: {"x": "y"}})
    assert out == {"flight_id": "F2", "note": 7, "plain": "$ 5", "list": ["y"]}


def test_reference_makes_a_dependency_and_resolves_before_validation():
    clock = VirtualClock()

    async def main():
        async with ToolExecutor(Toolset([search, book]), clock, lambda e: None,
                                latency=lambda n, a: 1.0) as ex:
            ex.submit(1, "search", {"city": "Denver"})
            rec = ex.submit(2, "book", {"flight_id": "$1.flights.1.id"})
            assert rec.depends == (1,)
            bad = ex.submit(3, "book", {"flight_id": "$1.flights.9.id"})
            await ex.quiesce()
            return rec, bad

    rec, bad = clock.run(main())
    assert rec.status is CallStatus.DONE and rec.arguments == {"flight_id": "F2"}
    assert rec.result == {"booked": "F2"} and rec.started_s >= 1.0
    assert bad.status is CallStatus.FAILED and bad.error_type == "invalid_arguments"
    assert "no '9'" in bad.error
