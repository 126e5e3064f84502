"""Reading a rendered context back: the inputs a user message holds, as typed items.

The runtime never needs this (it renders inputs from events), but the training generator does:
its teacher plays the model from the context alone, and its validator checks the results a
trace shows. Both read the tags :func:`~specagent.protocol.render.render_input` writes; keeping
that reading here, beside the renderer, keeps the tag syntax in one package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "CancelInput",
    "ProtocolErrorInput",
    "QueryUpdateInput",
    "RenderedInput",
    "ToolResultInput",
    "mentions_cancel",
    "read_inputs",
]


@dataclass(frozen=True)
class QueryUpdateInput:
    """``<partial_query_update>`` or ``<final_query_update>``: words of the request."""

    text: str
    final: bool


@dataclass(frozen=True)
class ToolResultInput:
    """``<tool_result id="N">``: a call's result (JSON text), or its error."""

    call_id: int
    body: str
    error_type: str | None  # None for a result; the ``error`` attribute for a failure


@dataclass(frozen=True)
class CancelInput:
    """``<cancel id="N"/>``: the call is gone (withdrawn, undone or refused)."""

    call_id: int


@dataclass(frozen=True)
class ProtocolErrorInput:
    """``<protocol_error>``: what the parser could not read in the model's last output."""

    text: str


RenderedInput = QueryUpdateInput | ToolResultInput | CancelInput | ProtocolErrorInput

_UPDATE_RE = re.compile(
    r"<(?P<tag>partial_query_update|final_query_update)>(?P<text>.*?)</(?P=tag)>", re.DOTALL
)
_RESULT_RE = re.compile(
    r'<tool_result id="(?P<id>\d+)"(?: error="(?P<error>[^"]*)")?>(?P<body>.*?)</tool_result>',
    re.DOTALL,
)
_CANCEL_RE = re.compile(r'<cancel id="(?P<id>\d+)"/>')
_INPUT_RE = re.compile(
    r"<(?P<tag>partial_query_update|final_query_update)>.*?</(?P=tag)>"
    r'|<tool_result id="\d+"(?: error="[^"]*")?>.*?</tool_result>'
    r'|<cancel id="\d+"/>'
    r"|<protocol_error>.*?</protocol_error>",
    re.DOTALL,
)


def read_inputs(text: str) -> list[RenderedInput]:
    """The inputs in a user message, in order (text between tags, such as a brief, is skipped)."""
    out: list[RenderedInput] = []
    for m in _INPUT_RE.finditer(text):
        tag = m.group(0)
        update = _UPDATE_RE.fullmatch(tag)
        if update:
            out.append(
                QueryUpdateInput(update.group("text"), update.group("tag") == "final_query_update")
            )
            continue
        result = _RESULT_RE.fullmatch(tag)
        if result:
            out.append(
                ToolResultInput(
                    int(result.group("id")), result.group("body"), result.group("error")
                )
            )
            continue
        cancel = _CANCEL_RE.fullmatch(tag)
        if cancel:
            out.append(CancelInput(int(cancel.group("id"))))
            continue
        out.append(ProtocolErrorInput(tag[len("<protocol_error>") : -len("</protocol_error>")]))
    return out


def mentions_cancel(text: str) -> bool:
    """Whether ``text`` holds a ``<cancel id="N"/>`` tag anywhere."""
    return _CANCEL_RE.search(text) is not None
