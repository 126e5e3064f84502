"""ToolTalk as episodes: its conversations, its simulated APIs over its own databases.

What comes from the ``nvidia-tooltalk`` package: the conversations (50 in ``tooltalk/``, the
benchmark proper, and 28 in ``easy/``), the JSON databases, and the API classes themselves
(their ``call`` code runs the tools and their ``check_api_call_correctness`` judges calls).
One concern a module:

* ``apis.py``: ToolTalk's API classes loaded without torch (its DistilBERT text comparison is
  replaced by :func:`text_similarity`: the cosine of word-count vectors under the same
  thresholds, deterministic, offline, and stricter than the original for paraphrases).
* ``effects.py``: :data:`TOOLTALK_EFFECTS`, which APIs may run early.
* ``world.py``: a conversation's user turns and ground truth, and the world (databases, clock,
  session) its APIs run in. Each user turn is played after the agent's own answers to the
  earlier ones (the agent's history is its own run, not ToolTalk's gold history).
* ``env.py``: :class:`ToolTalkEnv`, all 28 APIs (ToolTalk's default ``api_mode=all``) as tools.
* ``metrics.py``: ToolTalk's checker (``evaluate_predictions``), :func:`tooltalk_metrics`.
* ``loading.py``: :func:`load`.
"""

from __future__ import annotations

from .apis import text_similarity, tooltalk_package
from .effects import TOOLTALK_EFFECTS, ToolEffect
from .env import ToolTalkEnv
from .loading import load
from .metrics import ToolTalkMetrics, tooltalk_metrics
from .world import SPLITS, Conversation, ToolTalkWorld, find_conversation

__all__ = [
    "SPLITS",
    "TOOLTALK_EFFECTS",
    "Conversation",
    "ToolEffect",
    "ToolTalkEnv",
    "ToolTalkMetrics",
    "ToolTalkWorld",
    "find_conversation",
    "load",
    "text_similarity",
    "tooltalk_metrics",
    "tooltalk_package",
]
