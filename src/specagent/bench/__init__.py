"""The benchmark harness: datasets become episodes, the runner plays them through policies,
metrics and reports say how fast and how right each policy was."""

from .episode import Check, Episode, EpisodeEnv, ScriptedUser, TurnRecord, committed_calls

__all__ = ["Check", "Episode", "EpisodeEnv", "ScriptedUser", "TurnRecord", "committed_calls"]
