"""Asking before an irreversible call: nothing runs until the user says yes.

A tool marked ``confirm`` (or any irreversible tool with ``confirm_irreversible``) is held
whatever the policy; at its commit point the turn ends with the question instead, and the
next turn's plain yes runs exactly the call that was asked about, once.
"""

from __future__ import annotations

import pytest

from specagent.agent import Policy, SessionConfig, session_for
from specagent.agent.confirmation import is_affirmative
from specagent.clock import VirtualClock
from specagent.events import (
    AnswerDelta,
    ConfirmationAnswered,
    ConfirmationAsked,
    ToolCallStarted,
)
from specagent.ledger import Ledger
from specagent.models import ScriptedBackend
from specagent.speech import simulate_speech
from specagent.tools import Effect, Toolset, tool


def tools(sent: list[tuple[str, str]], *, confirm: bool | str = True) -> Toolset:
    @tool(effect=Effect.IRREVERSIBLE, confirm=confirm)
    async def send_message(to: str, text: str) -> dict:
        """Send a text message."""
        sent.append((to, text))
        return {"status": "sent"}

    @tool(effect=Effect.IRREVERSIBLE)
    async def book(item: str) -> dict:
        """Book something."""
        sent.append(("booking", item))
        return {"booked": item}

    return Toolset([send_message, book])


def respond(messages) -> str:
    last = messages[-1].content
    heard = "\n".join(m.content for m in messages if m.role == "user")
    made = "\n".join(m.content for m in messages if m.role == "assistant")
    if 'tool_result id="1">' in last:
        return "<answer>Sent.</answer>"
    if "<cancel" in last:
        return "<answer>OK, I did not send it.</answer>"
    if "Sam" in heard and "final_query_update" in last and "send_message" not in made:
        return (
            '<tool_call id="1">{"name": "send_message", "arguments": '
            '{"to": "Sam", "text": "running late"}}</tool_call>'
        )
    return "<pause/>"


def converse(policy: Policy, replies: list[str], toolset: Toolset, config=None):
    clock = VirtualClock()
    backend = ScriptedBackend(clock, respond)
    ledger = Ledger()

    async def conversation():
        results = []
        for words in ["Text Sam that I am running late", *replies]:
            session = session_for(
                policy, backend, toolset, clock, ledger=ledger, latency=lambda n, a: 0.5,
                config=config,
            )
            results.append(await session.run(simulate_speech(words)))
        return results

    return clock.run(conversation()), ledger


@pytest.mark.parametrize("policy", [Policy.SYNC, Policy.ASYNC, Policy.SPECULATIVE, Policy.VERIFIED])
def test_a_confirmed_call_runs_only_after_yes(policy):
    sent: list[tuple[str, str]] = []
    (first, second), ledger = converse(policy, ["Yes, please."], tools(sent, confirm="Send {text!r} to {to}?"))
    assert first.answer == "Send 'running late' to Sam?"  # the question is the turn's answer
    assert first.ended == "answered" and first.speculation.confirmations_asked == 1
    asked_at = next(e.t for e in ledger if isinstance(e, ConfirmationAsked))
    assert not any(isinstance(e, ToolCallStarted) and e.t <= asked_at for e in ledger)
    assert second.answer == "Sent." and sent == [("Sam", "running late")]
    assert any(isinstance(e, ConfirmationAnswered) and e.granted for e in ledger)
    # the question was streamed like any answer (voice speaks it)
    assert any(isinstance(e, AnswerDelta) and "Sam" in e.text for e in ledger)


@pytest.mark.parametrize("reply", ["No.", "Yes, but to Bob", "wait", "What time is it?"])
def test_anything_but_a_plain_yes_leaves_the_call_unrun(reply):
    sent: list[tuple[str, str]] = []
    (_, second), ledger = converse(Policy.SYNC, [reply], tools(sent))
    assert sent == []
    assert any(isinstance(e, ConfirmationAnswered) and not e.granted for e in ledger)


def test_a_later_yes_does_not_revive_an_old_question():
    sent: list[tuple[str, str]] = []
    converse(Policy.SYNC, ["no", "yes"], tools(sent))
    assert sent == []


def test_the_session_option_covers_every_irreversible_tool():
    sent: list[tuple[str, str]] = []
    (first, second), _ = converse(
        Policy.ASYNC, ["yes"], tools(sent, confirm=False),
        config=SessionConfig(confirm_irreversible=True),
    )
    assert first.answer.startswith("Shall I send message")
    assert sent == [("Sam", "running late")]


def test_without_confirmation_the_call_runs_at_once():
    sent: list[tuple[str, str]] = []
    (first,), _ = converse(Policy.SYNC, [], tools(sent, confirm=False))
    assert first.answer == "Sent." and sent == [("Sam", "running late")]


@pytest.mark.parametrize(
    "reply, yes",
    [("yes", True), ("Yes please", True), ("ok", True), ("sure, go ahead", True),
     ("go ahead", True), ("no", False), ("yes but not now", False), ("", False),
     ("yesterday", False), ("I said yes? no", False)],
)
def test_what_counts_as_yes(reply, yes):
    assert is_affirmative(reply) is yes
