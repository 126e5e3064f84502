"""The agent: one session state machine shared by every policy."""

from .policies import Policy
from .session import AgentState, Session, SessionConfig, SessionResult, ToolCallReport

__all__ = ["AgentState", "Policy", "Session", "SessionConfig", "SessionResult", "ToolCallReport"]
