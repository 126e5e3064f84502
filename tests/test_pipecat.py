"""The Pipecat processor inside real Pipecat pipelines (pipecat-ai 1.14, no network): partial
transcriptions reach the session early, the answer comes out as LLM response frames, barge-in
stops it, and the end of the pipeline leaves no task and no held call behind."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("pipecat")

from pipecat.frames.frames import (  # noqa: E402
    EndFrame,
    Frame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    SystemFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.tests.utils import run_test  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from specagent.agent import Policy  # noqa: E402
from specagent.clock import RealClock  # noqa: E402
from specagent.envs.assistant import AssistantWorld, assistant_toolset  # noqa: E402
from specagent.events import (  # noqa: E402
    SessionEnded,
    ToolCallCommitted,
    ToolCallHeld,
    ToolCallStarted,
    UserSpeech,
)
from specagent.integrations.pipecat import SpecagentProcessor, TranscriptWords  # noqa: E402
from specagent.models import ScriptedBackend  # noqa: E402
from specagent.serve.scripted import scripted_assistant_backend  # noqa: E402

REQUEST = "What's the weather in Paris and text Sam that I am running late"


def _interims(text: str) -> list[Frame]:
    """A recogniser's running hypotheses, one word longer each time."""
    words = text.split()
    return [
        InterimTranscriptionFrame(text=" ".join(words[: n + 1]), user_id="u", timestamp="")
        for n in range(len(words))
    ]


def _processor(
    world: AssistantWorld, *, token_s: float = 0.002, **options: Any
) -> SpecagentProcessor:
    clock = RealClock()
    backend = scripted_assistant_backend(clock, ttft_s=0.01, token_s=token_s)
    return SpecagentProcessor(backend, assistant_toolset(world), clock=clock, **options)


def test_transcript_words_pass_what_two_hypotheses_agree_on_once() -> None:
    words = TranscriptWords()
    assert words.interim("what's") == ""
    assert words.interim("what's the wea") == "what's"
    assert words.interim("what's the weather") == "the"
    assert words.interim("What's the weather in") == "weather"
    assert words.interim("what's a weather in paris") == ""  # it changed a word passed on
    assert words.final("What's the weather in Paris?") == "in Paris?"
    assert words.revised == 0
    assert words.interim("book") == ""  # a new utterance starts afresh
    assert words.final("cook it") == "cook it"


def test_a_turn_through_a_pipeline_gives_llm_response_frames() -> None:
    world = AssistantWorld()
    processor = _processor(world)
    frames = [*_interims(REQUEST), TranscriptionFrame(text=REQUEST, user_id="u", timestamp="")]

    down, up = asyncio.run(run_test(processor, frames_to_send=frames))

    kinds = [type(f) for f in down]
    assert kinds[0] is LLMFullResponseStartFrame and kinds[-1] is LLMFullResponseEndFrame
    assert set(kinds[1:-1]) == {LLMTextFrame}
    spoken = "".join(f.text for f in down if isinstance(f, LLMTextFrame))
    assert spoken == "Paris: sunny, 21 C. Message sent to Sam."
    assert processor.results[0].answer == spoken and processor.results[0].ended == "answered"
    assert world.messages == [{"to": "Sam", "text": "I am running late"}]
    # the session heard the words as partial updates before the final one
    heard = [e for e in processor.ledger if isinstance(e, UserSpeech)]
    assert len(heard) > 2 and not any(e.final for e in heard[:-1]) and heard[-1].final
    assert " ".join(e.text for e in heard if e.text) == REQUEST
    # the message waited for its commit point, then ran and was committed
    held = [e.call_id for e in processor.ledger.of_type(ToolCallHeld)]
    assert held == [2]
    assert 2 in [e.call_id for e in processor.ledger.of_type(ToolCallCommitted)]


def test_final_on_user_stopped_speaking() -> None:
    world = AssistantWorld()
    processor = _processor(world, final_on="user_stopped_speaking", policy=Policy.SYNC)
    frames = [
        TranscriptionFrame(text="What's the weather", user_id="u", timestamp=""),
        TranscriptionFrame(text="in Tokyo today", user_id="u", timestamp=""),
        UserStoppedSpeakingFrame(),
    ]
    down, _ = asyncio.run(run_test(processor, frames_to_send=frames))
    spoken = "".join(f.text for f in down if isinstance(f, LLMTextFrame))
    assert spoken == "Tokyo: humid, 27 C."
    assert any(isinstance(f, UserStoppedSpeakingFrame) for f in down)  # passed on
    finals = [e for e in processor.ledger if isinstance(e, UserSpeech) and e.final]
    assert len(finals) == 1 and processor.results[0].policy == "sync"


class _Sink(FrameProcessor):
    """Records what reaches the end of the pipeline (data and control frames, and
    interruptions); wakes the test on chosen frames."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.arrived: dict[type, asyncio.Event] = {}

    def when(self, kind: type) -> asyncio.Event:
        return self.arrived.setdefault(kind, asyncio.Event())

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        kept = not isinstance(frame, SystemFrame) or isinstance(frame, InterruptionFrame)
        if direction is FrameDirection.DOWNSTREAM and kept:
            self.frames.append(frame)
            if type(frame) in self.arrived:
                self.arrived[type(frame)].set()
        await self.push_frame(frame, direction)


@contextlib.asynccontextmanager
async def _pipeline(processor: SpecagentProcessor, sink: _Sink) -> AsyncIterator[PipelineWorker]:
    """A running pipeline (processor, sink); leaving sends an EndFrame and waits for the end."""
    worker = PipelineWorker(
        Pipeline([processor, sink]), cancel_on_idle_timeout=False, params=PipelineParams()
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(worker: Any, frame: Any) -> None:
        started.set()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    await started.wait()
    yield worker
    await worker.queue_frame(EndFrame())
    await running


async def _within(coro: Any, seconds: float) -> Any:
    """Run ``coro`` in this task, failing after ``seconds`` (Pipecat replaces wait_for)."""
    async with asyncio.timeout(seconds):
        return await coro


def _said(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text=text, user_id="u", timestamp="")


def test_barge_in_stops_the_answer_and_the_next_words_continue_the_turn() -> None:
    world = AssistantWorld()
    processor = _processor(world, token_s=0.2)  # an answer slow enough to talk over
    sink = _Sink()

    async def main() -> int:
        async with _pipeline(processor, sink) as worker:
            first_text = sink.when(LLMTextFrame)
            await worker.queue_frame(_said("What's the weather in Paris today"))
            await first_text.wait()  # the answer is being spoken: the user talks over it
            ended = sink.when(LLMFullResponseEndFrame)
            await worker.queue_frame(InterruptionFrame())
            await ended.wait()
            cut = len(sink.frames)
            await worker.queue_frame(_said("and the weather in Tokyo"))
        return cut

    cut = asyncio.run(_within(main(), 60))
    kinds = [type(f).__name__ for f in sink.frames]
    first = kinds[:cut]
    # first answer: started, some text, the interruption, then its response closed
    assert first[0] == "LLMFullResponseStartFrame" and first[1] == "LLMTextFrame"
    barge = first.index("InterruptionFrame")
    assert first[barge + 1 :] == ["LLMFullResponseEndFrame"]  # no answer text after it
    # the turn went on with the new words and answered both
    rest = sink.frames[cut:]
    spoken = "".join(f.text for f in rest if isinstance(f, LLMTextFrame))
    assert spoken == "Paris: sunny, 21 C. Tokyo: humid, 27 C."
    assert type(rest[0]) is LLMFullResponseStartFrame
    assert [type(f) for f in rest][-2:] == [LLMFullResponseEndFrame, EndFrame]
    assert len(processor.results) == 1 and processor.results[0].interrupted_generations >= 1


def _early_message(messages: Any) -> str:
    """Writes the message call as soon as its words are said (before the user finishes)."""
    context = " ".join(m.content for m in messages[1:])  # after the system prompt
    said = " ".join(re.findall(r"_query_update>(.*?)</", context))
    if '<tool_call id="1">' in context:
        return "<pause/>"
    if "running late" in said:
        body = '{"name": "send_message", "arguments": {"to": "Sam", "text": "running late"}}'
        return f'<tool_call id="1">{body}</tool_call>'
    return "<pause/>"


def test_ending_the_pipeline_mid_turn_leaves_no_task_and_never_runs_a_held_call() -> None:
    world = AssistantWorld()
    clock = RealClock()
    held = asyncio.Event()

    def watch(turn: int, event: Any) -> None:
        if isinstance(event, ToolCallHeld):
            held.set()

    backend = ScriptedBackend(clock, _early_message, ttft_s=0.01, token_s=0.002)
    processor = SpecagentProcessor(
        backend, assistant_toolset(world), clock=clock, policy=Policy.ASYNC, observer=watch
    )
    sink = _Sink()

    async def main() -> list[asyncio.Task[Any]]:
        async with asyncio.timeout(60), _pipeline(processor, sink) as worker:
            for frame in _interims("text Sam that I am running late and"):
                await worker.queue_frame(frame)
            await held.wait()  # the message waits for the user's final words, which never come
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    left = asyncio.run(main())
    assert left == []
    assert world.messages == []
    ledger = processor.ledger
    assert [e.call_id for e in ledger.of_type(ToolCallHeld)] == [1]
    assert not ledger.of_type(ToolCallStarted) and not ledger.of_type(ToolCallCommitted)
    last = ledger.events[-1]
    assert isinstance(last, SessionEnded) and last.reason == "disconnected"
    assert not any(isinstance(f, LLMTextFrame) for f in sink.frames)
