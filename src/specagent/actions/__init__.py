"""Speculative actions: a fast Speculator guesses what a slow Actor will do, so the follow-up
of each guess starts early; only what the Actor decides is ever committed.

The engine (:mod:`.engine`) is generic over any :class:`ActionEnvironment`; the environments
are chess (:mod:`.chess_env`), a tau2 retail agent (:mod:`.retail`) and a lossy tuning loop
(:mod:`.tuning`, run by :mod:`.lossy`). ``specagent actions`` (:mod:`.cli`) runs them.
"""

from .accounting import CallRecord, Comparison, Fate, Role, RunResult, StepRecord, compare_runs
from .engine import ActionSpeculator, SpeculationConfig, SpeculationConfigError
from .environment import ActionEnvironment, Envelope, envelope_for

__all__ = [
    "ActionEnvironment",
    "ActionSpeculator",
    "CallRecord",
    "Comparison",
    "Envelope",
    "Fate",
    "Role",
    "RunResult",
    "SpeculationConfig",
    "SpeculationConfigError",
    "StepRecord",
    "compare_runs",
    "envelope_for",
]
