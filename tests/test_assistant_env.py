"""The example assistant domain: its checker accepts the right outcome and rejects others."""

from __future__ import annotations


import pytest

from specagent.clock import VirtualClock
from specagent.envs.assistant import AssistantWorld, assistant_toolset, check_example


def _run(world: AssistantWorld, *calls: tuple[str, dict]) -> None:
    tools = assistant_toolset(world)

    async def main():
        for name, args in calls:
            await tools[name].call(tools[name].validate(args))

    VirtualClock().run(main())


CORRECT = {
    "weather-and-table": [("reserve_table", {"restaurant_id": "r1", "time": "20:00", "party_size": 2})],
    "flight": [("book_flight", {"flight_id": "NEDE784"})],
    "correction": [("book_flight", {"flight_id": "NEDE936"})],
    "calendar": [("add_calendar_event", {"date": "Friday", "time": "12:00", "title": "Lunch with Sam"})],
}
WRONG = {
    "weather-and-table": [("reserve_table", {"restaurant_id": "r3", "time": "20:00", "party_size": 2})],
    "flight": [("book_flight", {"flight_id": "NEDE936"})],  # not the cheapest
    "correction": [("book_flight", {"flight_id": "NEBO241"})],  # Boston
    "calendar": [("add_calendar_event", {"date": "Friday", "time": "12:00", "title": "Lunch"})],
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_checker_accepts_the_right_outcome_and_rejects_perturbed_ones(name):
    world = AssistantWorld()
    _run(world, *CORRECT[name])
    assert check_example(name, world)
    wrong = AssistantWorld()
    _run(wrong, *WRONG[name])
    assert not check_example(name, wrong)
    extra = AssistantWorld()
    _run(extra, *CORRECT[name], ("send_message", {"to": "bob", "text": "hi"}))
    assert not check_example(name, extra)  # an effect nobody asked for
    assert not check_example(name, AssistantWorld())  # nothing done
