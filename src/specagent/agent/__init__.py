"""The agent: one session state machine shared by every policy."""

from .policies import Policy
from .session import AgentState, Session, SessionConfig, SessionResult, ToolCallReport
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
