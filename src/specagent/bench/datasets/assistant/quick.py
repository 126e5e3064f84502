"""The main job's episodes: a fixed subset of the assistant benchmark's test split.

``specagent bench`` with no options plays these under three policies; they must fit in ten
minutes on two CPU cores. They were chosen by id, never by result, with this rule: order the
test episodes by ``sha256("main-job|" + id)``; take the first of each category (lookup,
parallel, chain, read_write, write), then the first multi-turn and the first spoken episode
if none was taken yet, then the next ones in that order up to the size that fits the time
budget (measured, see docs/bench.md). The list is written out so that adding episodes to the
benchmark never changes the main job.
"""

from __future__ import annotations

__all__ = ["QUICK_IDS"]

QUICK_IDS: tuple[str, ...] = (
    "contact-00",  # lookup
    "two-cities-03",  # parallel
    "hw-59",  # chain, two turns
    "mt-directions-reminder-00",  # read_write, two turns, spoken
    "mt-message-another-00",  # write, two turns
    "temperature-00",
    "hw-53",  # spoken
    "note-03",
)
