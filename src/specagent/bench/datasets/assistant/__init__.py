"""The ``assistant`` benchmark: multi-step personal-assistant requests over real tools.

Twenty tools (contacts, calendar, e-mail, messages, reminders, notes, directions, weather,
flights, restaurants, files, thermostat, alarms) act on one deterministic in-memory world
(:mod:`.world`), with every effect class: reads, sandboxable local writes, idempotent
setters, a reversible reservation and irreversible sends and bookings (:mod:`.tools`).
Episodes (:mod:`.episodes`) are templated (:mod:`.templates_reads`, :mod:`.templates_actions`,
:mod:`.templates_multi`) and hand-written (:mod:`.handwritten`): single lookups, parallel
reads, dependent chains, a read then a write, writes; a share said the way people talk, a
share in several turns. The checker (:mod:`.checker`) judges the committed world and the
answers. Split by a hash of the id (:mod:`.split`). See ``docs/assistant-benchmark.md``.
"""

from __future__ import annotations

from ...episode import Episode
from .env import AssistantEnv
from .episodes import all_specs
from .quick import QUICK_IDS
from .spec import EpisodeSpec
from .split import split_of

__all__ = ["episode_meta", "load"]


def episode_meta(spec: EpisodeSpec) -> dict[str, object]:
    return {
        "category": spec.category,
        "spoken": spec.spoken,
        "multi_turn": spec.multi_turn,
        "source": spec.source,
        "template": spec.template,
        "calls": len(spec.calls),
        "effects": len(spec.effects),
    }


def _episode(spec: EpisodeSpec, dataset: str) -> Episode:
    return Episode(
        id=spec.id,
        dataset=dataset,
        turns=tuple(t.text for t in spec.turns),
        make_env=lambda: AssistantEnv(spec),
        split=split_of(spec.id),
        meta=episode_meta(spec),
    )


def load(variant: str, split: str = "test") -> list[Episode]:
    """Episodes of ``split`` (``train``, ``test`` or ``all``) in a stable order.

    Variant ``assistant`` is the whole benchmark; ``quick`` the main job's fixed subset of the
    test split (:data:`.quick.QUICK_IDS`, empty for ``train``).
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"unknown split {split!r}; choose train or test")
    specs = {s.id: s for s in all_specs()}
    if variant == "quick":
        if split == "train":
            return []
        return [_episode(specs[i], "assistant-quick") for i in QUICK_IDS]
    if variant != "assistant":
        raise ValueError(f"unknown assistant variant {variant!r}")
    return [
        _episode(s, "assistant")
        for s in specs.values()
        if split == "all" or split_of(s.id) == split
    ]
