"""BFCL v4 (package ``bfcl-eval``) as episodes: multi-turn with its backends, single-turn calls.

One concern a module:

* ``loading.py``: :func:`load` reads a category from the data inside the installed package,
  defines the deterministic train/test split and builds the episodes.
* ``multi_turn.py``: the real multi-turn backends as tools, and BFCL's state and response
  checks; ``multi_turn_effects.py``: the reviewed effect class of every backend method.
* ``single_turn.py``: the offered functions as acknowledging tools, judged by BFCL's call
  matching (``ast_checker.py``); ``single_turn_effects.py``: a verb rule and its reviewed
  exceptions.
* ``schema.py``: BFCL function docs rewritten as JSON Schema.
"""

from __future__ import annotations

from .loading import (
    MULTI_TURN,
    SINGLE_TURN,
    TRAIN_FRACTION,
    UnsupportedVariant,
    data_dir,
    load,
    single_turn_entries,
    split_of,
)

__all__ = [
    "MULTI_TURN",
    "SINGLE_TURN",
    "TRAIN_FRACTION",
    "UnsupportedVariant",
    "data_dir",
    "load",
    "single_turn_entries",
    "split_of",
]
