"""The agent: one session state machine shared by every policy."""

from .policies import Policy
from .records import SessionConfig, SessionResult, ToolCallReport
from .session import Session
from .states import AgentState
from .verified import VerifiedSession, session_for

__all__ = [
    "AgentState",
    "Policy",
    "Session",
    "SessionConfig",
    "SessionResult",
    "ToolCallReport",
    "VerifiedSession",
    "session_for",
]
