"""Every assistant episode, generated and hand-written, in a stable order with stable ids.

Template ``weather`` draw 3 is episode ``weather-03`` for ever: each template draws from its
own random stream (seeded by its id), so adding a template, or raising a template's count
(new draws come after the old ones), never changes an existing episode. A draw whose words
repeat an earlier episode's is dropped, and its id is never reused.
"""

from __future__ import annotations

import functools
import random

from .drafting import Template
from .handwritten import HANDWRITTEN
from .spec import EpisodeSpec
from .templates_actions import ACTION_TEMPLATES
from .templates_multi import MULTI_TEMPLATES
from .templates_reads import READ_TEMPLATES
from .templates_writes import WRITE_TEMPLATES

__all__ = ["TEMPLATES", "all_specs"]

TEMPLATES: tuple[Template, ...] = (
    READ_TEMPLATES + ACTION_TEMPLATES + WRITE_TEMPLATES + MULTI_TEMPLATES
)


def _drawn(template: Template) -> list[EpisodeSpec]:
    rng = random.Random(f"assistant-episodes|{template.id}")
    out = []
    for k in range(template.count):
        talk = rng.random() < template.spoken_share
        draft = template.fn(rng, talk)
        out.append(
            EpisodeSpec(
                id=f"{template.id}-{k:02d}",
                category=draft.category,
                turns=draft.turns,
                effects=draft.effects,
                forbidden=draft.forbidden,
                spoken=draft.spoken,
                source="template",
                template=template.id,
            )
        )
    return out


@functools.cache
def all_specs() -> tuple[EpisodeSpec, ...]:
    """Generated episodes (template order, draw order), then the hand-written ones."""
    specs: list[EpisodeSpec] = []
    seen: set[tuple[str, ...]] = set()
    for template in TEMPLATES:
        for spec in _drawn(template):
            words = tuple(" ".join(t.text.lower().split()) for t in spec.turns)
            if words in seen:
                continue
            seen.add(words)
            specs.append(spec)
    ids = {s.id for s in specs}
    for spec in HANDWRITTEN:
        if spec.id in ids:
            raise ValueError(f"hand-written episode id {spec.id} is already taken")
        ids.add(spec.id)
        specs.append(spec)
    return tuple(specs)
