"""Train/test split of the assistant episodes by a hash of the episode id.

An episode's split depends on its id alone, so it never changes when episodes are added, and
a test episode can never drift into training data. Half the episodes are ``test``. Training
data (``specagent synth``) reads only ``train`` (see ``tests/test_bench_assistant_split.py``).
"""

from __future__ import annotations

import hashlib

__all__ = ["split_of"]


def split_of(episode_id: str) -> str:
    """``test`` or ``train``, from the first byte of the id's SHA-256."""
    digest = hashlib.sha256(f"assistant-split|{episode_id}".encode()).digest()
    return "test" if digest[0] % 2 == 0 else "train"
