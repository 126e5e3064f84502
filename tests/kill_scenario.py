"""A session that a test kills with SIGKILL and resumes in a new process (test_kill_resume.py).

Run as a script: ``python kill_scenario.py DIR POLICY [--kill-at N] [--resume]``. ``DIR`` holds
the durable ledger (``ledger.db``), the durable world (``world.db``: the effects of the tools,
each written in its own transaction) and ``session.txt`` (the session id). With ``--kill-at N``
the process sends itself SIGKILL at the N-th step it counts: every ledger event (after it is
stored) and every tool effect (after it is stored, before the tool returns, the worst moment:
the world changed and the ledger does not know). ``--resume`` reopens the stored session.

The tools are what a careful service offers: every write takes an idempotency key (the runtime
fills it with session:call:version) and a key already applied is not applied again, so a call
whose outcome a crash left unknown can be sent again exactly once. The scripted model asks for a
reservation (reversible, run early under ``speculative``), a flight booking corrected from
Boston to Denver, a message and an alarm (idempotent), reading the weather first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

from specagent.agent import Policy, Session, VerifiedSession, session_for
from specagent.clock import VirtualClock
from specagent.events import Event
from specagent.ledger import Ledger, SQLiteLedgerStore
from specagent.models import ScriptedBackend
from specagent.protocol import ChatMessage
from specagent.speech import simulate_speech
from specagent.tools import Effect, Toolset, tool

REQUEST = (
    "What is the weather in Denver, reserve a table at Chez Lili, book me a flight to Boston, "
    "no sorry, to Denver, text Sam that I am coming, and set my alarm to 7"
)


class Steps:
    """Counts steps and kills the process at the chosen one."""

    def __init__(self, kill_at: int | None) -> None:
        self.kill_at = kill_at
        self.count = 0

    def step(self) -> None:
        self.count += 1
        if self.kill_at is not None and self.count >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


class DurableWorld:
    """The world's effects in SQLite, one transaction per effect; every attempt is logged."""

    def __init__(self, path: Path, steps: Steps) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, tool TEXT, "
                        "payload TEXT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS attempts (key TEXT, tool TEXT)")
        self.steps = steps

    def apply(self, key: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self.db:  # the attempt and the effect land together, or not at all
            self.db.execute("INSERT INTO attempts VALUES (?, ?)", (key, name))
            self.db.execute("INSERT OR IGNORE INTO effects VALUES (?, ?, ?)",
                            (key, name, json.dumps(payload, sort_keys=True)))
        self.steps.step()  # killed here: the world changed, the ledger does not know yet
        return {"status": "done", **payload}

    def undo(self, key: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM effects WHERE key = ?", (key,))
        self.steps.step()


def toolset(world: DurableWorld) -> Toolset:
    @tool(effect=Effect.READ_ONLY)
    async def get_weather(city: str) -> dict:
        """Weather in a city."""
        return {"city": city, "forecast": "clear"}

    async def cancel_table(arguments: dict[str, Any], result: Any) -> None:
        world.undo(result["key"])

    @tool(effect=Effect.REVERSIBLE, compensate=cancel_table, idempotency_key="key")
    async def reserve_table(place: str, key: str) -> dict:
        """Reserve a table."""
        return {**world.apply(key, "reserve_table", {"place": place}), "key": key}

    @tool(effect=Effect.IRREVERSIBLE, idempotency_key="key")
    async def book_flight(destination: str, key: str) -> dict:
        """Book a flight."""
        return world.apply(key, "book_flight", {"destination": destination})

    @tool(effect=Effect.IRREVERSIBLE, idempotency_key="key")
    async def send_message(to: str, text: str, key: str) -> dict:
        """Send a text message."""
        return world.apply(key, "send_message", {"to": to, "text": text})

    @tool(effect=Effect.IDEMPOTENT, idempotency_key="key")
    async def set_alarm(time: str, key: str) -> dict:
        """Set the alarm."""
        return world.apply(key, "set_alarm", {"time": time})

    return Toolset([get_weather, reserve_table, book_flight, send_message, set_alarm])


def call(i: int, name: str, arguments: dict[str, Any]) -> str:
    body = json.dumps({"name": name, "arguments": arguments})
    return f'<tool_call id="{i}">{body}</tool_call>'


def respond(messages: list[ChatMessage]) -> str:
    """Writes each call once its words were heard (the flight to the corrected city, revising
    it if it was written before the correction), and answers once every result is in."""
    heard = " ".join(m.content for m in messages if m.role == "user")
    words = " ".join(re.sub(r"<[^>]+>", " ", heard).split())
    made = " ".join(m.content for m in messages if m.role == "assistant")
    corrected = "no sorry, to Denver" in words
    city = "Denver" if corrected else "Boston"
    plan = [
        ("weather in Denver", 1, "get_weather", {"city": "Denver"}),
        ("Chez Lili", 2, "reserve_table", {"place": "Chez Lili"}),
        ("to Boston", 3, "book_flight", {"destination": city}),
        ("Sam that I am coming", 4, "send_message", {"to": "Sam", "text": "I am coming"}),
        ("alarm to 7", 5, "set_alarm", {"time": "7"}),
    ]
    for phrase, i, name, arguments in plan:
        if phrase in words and f'<tool_call id="{i}">' not in made:
            return call(i, name, arguments)
    if corrected and '"destination": "Denver"' not in made:
        return call(3, "book_flight", {"destination": "Denver"})
    done = all(f'<tool_result id="{i}"' in heard for i in range(1, 6))
    if "final_query_update" in heard and done:
        return "<answer>All done: clear in Denver, table, flight, message and alarm.</answer>"
    return "<pause/>"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("policy")
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    steps = Steps(args.kill_at)
    world = DurableWorld(args.dir / "world.db", steps)
    store = SQLiteLedgerStore(args.dir / "ledger.db")
    policy = Policy.parse(args.policy)
    tools = toolset(world)
    speech = simulate_speech(REQUEST, words_per_minute=150, chunk_words=3)

    def observe(event: Event) -> None:
        steps.step()

    options: dict[str, Any] = dict(latency=lambda name, a: 0.5 + 0.1 * len(name) % 0.5,
                                   observer=observe)
    if args.resume:
        session_id = (args.dir / "session.txt").read_text()
        clock = VirtualClock(start_s=Ledger.load(store, session_id).last_t)
        backend = ScriptedBackend(clock, respond, ttft_s=0.1, token_s=0.03)
        if policy is Policy.VERIFIED:
            session: Any = VerifiedSession.resume(store, session_id, backend, tools, clock,
                                                  **options)
        else:
            session = Session.resume(store, session_id, backend, tools, clock, policy, **options)
    else:
        clock = VirtualClock()
        ledger = Ledger(store=store)
        (args.dir / "session.txt").write_text(ledger.session_id)
        backend = ScriptedBackend(clock, respond, ttft_s=0.1, token_s=0.03)
        session = session_for(policy, backend, tools, clock, ledger=ledger, **options)
    result = clock.run(session.run(speech))
    print(json.dumps({"answer": result.answer, "ended": result.ended, "steps": steps.count}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
