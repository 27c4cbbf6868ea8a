"""Merge concept predictions from several detectors into one list of concepts (spaCy-free).

Inputs are :class:`Mention` fragments: flat NER entities, nested spans and the
fragments of discontinuous entities (fragments of one entity share ``group``).
Output: one :class:`Concept` per distinct (label, fragment set); a concept
found by two detectors is kept once, with the best score and both sources.
Nested concepts are simply concepts whose fragments lie inside another's;
discontinuous ones have two or more fragments.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mention:
    """One predicted fragment: character offsets, label, entity group (discontinuous) and score."""

    start: int
    end: int
    label: str
    source: str
    group: str | None = None  # fragments with the same (source, group, label) form one entity
    score: float | None = None


@dataclass
class Concept:
    """A merged concept: its fragments (sorted), label, best score and the detectors that found it."""

    fragments: tuple[tuple[int, int], ...]
    label: str
    score: float | None = None
    sources: list[str] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.fragments[0][0]

    @property
    def end(self) -> int:
        return self.fragments[-1][1]

    @property
    def discontinuous(self) -> bool:
        return len(self.fragments) > 1


def merge_concepts(
    mentions: Iterable[Mention],
    label_map: Mapping[str, str] | None = None,
    discontinuous_only: Collection[str] = (),
) -> list[Concept]:
    """Group fragments into entities, map labels, and keep each (label, fragments) once, in text order.

    ``discontinuous_only``: sources whose one-fragment entities are dropped (a detector trained on another
    corpus' guideline, such as CodiEsp's, adds its discontinuous concepts but not its own continuous ones).
    """
    label_map = label_map or {}
    discontinuous_only = set(discontinuous_only)
    entities: dict[tuple[str, str, str] | int, list[Mention]] = {}  # in order of first appearance
    for i, mention in enumerate(mentions):
        if mention.end <= mention.start:
            continue
        key: tuple[str, str, str] | int = (mention.source, mention.group, mention.label) if mention.group else i
        entities.setdefault(key, []).append(mention)
    merged: dict[tuple[str, tuple[tuple[int, int], ...]], Concept] = {}
    for parts in entities.values():
        fragments = tuple(sorted({(m.start, m.end) for m in parts}))
        if len(fragments) < 2 and parts[0].source in discontinuous_only:
            continue
        label = label_map.get(parts[0].label, parts[0].label)
        scores = [m.score for m in parts if m.score is not None]
        score = min(scores) if scores else None  # an entity is as sure as its weakest fragment
        concept = merged.setdefault((label, fragments), Concept(fragments, label))
        if score is not None and (concept.score is None or score > concept.score):
            concept.score = score
        if parts[0].source not in concept.sources:
            concept.sources.append(parts[0].source)
    return sorted(merged.values(), key=lambda c: (c.start, -c.end, c.label, c.fragments))
