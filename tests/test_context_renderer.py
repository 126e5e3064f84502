"""The incremental renderer always equals a full render of the ledger."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from specagent.events import (
    ModelOutput,
    ProtocolError,
    ToolCallFinished,
    ToolCallRevised,
    ToolCallStarted,
    UserSpeech,
)
from specagent.protocol import ContextRenderer, render_messages

times = st.floats(min_value=0, max_value=20, allow_nan=False)
event = st.one_of(
    st.builds(UserSpeech, t=times, text=st.text(max_size=8), final=st.booleans()),
    st.builds(
        lambda t, back, txt: ModelOutput(t=t, started_t=max(0.0, t - back), text=txt),
        times,
        st.floats(min_value=0, max_value=3, allow_nan=False),
        st.text(max_size=8),
    ),
    st.builds(ToolCallFinished, t=times, call_id=st.integers(1, 5), result=st.integers()),
    st.builds(ToolCallStarted, t=times, call_id=st.integers(1, 5)),
    st.builds(ToolCallRevised, t=times, call_id=st.integers(1, 5), name=st.just("f")),
    st.builds(ProtocolError, t=times, message=st.text(max_size=5)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(event, max_size=30), st.lists(st.integers(0, 30), max_size=6))
def test_incremental_render_equals_full_render(events, cuts):
    renderer = ContextRenderer()
    for cut in sorted(cuts) + [len(events)]:
        prefix = events[:cut]
        assert renderer.render(prefix, "sys") == render_messages(prefix, "sys")
