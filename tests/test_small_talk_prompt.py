"""Conversational front-ends tell the model that small talk needs no tool; benchmarks do not."""

from __future__ import annotations

from specagent.agent import Policy
from specagent.agent.prompt import SMALL_TALK_RULE, system_prompt, tool_list
from specagent.agent.session import Session
from specagent.clock import VirtualClock
from specagent.ledger import Ledger
from specagent.models.scripted import ScriptedBackend
from specagent.serve.conversation import ConversationState, ConversationTools
from specagent.tools import Effect, Toolset, tool


@tool(effect=Effect.READ_ONLY, timeout_s=5.0)
async def get_weather(city: str) -> dict[str, str]:
    """Weather in a city."""
    return {"city": city}


TOOLS = Toolset([get_weather])


def test_the_rule_is_one_sentence_of_the_protocol_before_the_tools() -> None:
    plain = system_prompt(TOOLS.schemas())
    chatty = system_prompt(TOOLS.schemas(), small_talk=True)
    assert SMALL_TALK_RULE not in plain
    assert chatty.count(SMALL_TALK_RULE) == 1
    assert chatty.index(SMALL_TALK_RULE) < chatty.index(tool_list(TOOLS.schemas()))
    assert chatty.replace(" " + SMALL_TALK_RULE, "") == plain  # nothing else changes


def test_a_session_and_so_every_benchmark_keeps_the_plain_prompt() -> None:
    clock = VirtualClock()
    session = Session(
        ScriptedBackend(clock, lambda m: "<answer>Hi.</answer>"), TOOLS, clock, Policy.SYNC
    )
    assert SMALL_TALK_RULE not in session.prompt


def test_a_served_conversation_says_the_rule() -> None:
    state = ConversationState("c1", Ledger(), ConversationTools(TOOLS), Policy.SYNC)
    assert SMALL_TALK_RULE in state.prompt
