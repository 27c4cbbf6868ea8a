"""Fragment graph of discontinuous entities: candidates, training targets, decoding (spaCy-free).

An entity is a label and a set of token fragments ``(start, end)`` (end
exclusive). The discontinuous finder (:mod:`spacy_clinical_es.pipeline.discontinuous_ner`)
reduces entities to two kinds of local decisions, following the fragment +
clique formulation of Wang et al. (2021, "Discontinuous Named Entity
Recognition as Maximal Clique Discovery", ACL):

* **span roles** — for every candidate span and label: is it a *whole*
  (continuous) entity of that label, and is it a *part* (a fragment of a
  discontinuous entity) of that label? A span may be both ("edema" alone and
  "edema … pierna izquierda");
* **links** — for two part fragments of the same label: do they belong to
  the same entity?

Decoding (:func:`decode`) inverts this: every whole span is a continuous
entity; the part fragments of a label are the nodes of a graph whose edges
are the links, and every maximal clique of two or more fragments is one
discontinuous entity (a fragment shared by two entities, like "edema" in
"edema en pierna derecha > izquierda", sits in two cliques). Overlapping
part fragments of one label are reduced to the best-scored ones first.

:func:`encode` builds the training targets from gold entities and counts what
the candidate space cannot hold (a fragment longer than ``max_length`` or
crossing a line break, two fragments further apart than ``max_distance``),
so losses are reported, not hidden.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

TokenSpan = tuple[int, int]

#: Upper bounds (exclusive) of the token-distance buckets of a fragment pair.
DISTANCE_BUCKETS: tuple[int, ...] = (1, 2, 3, 4, 6, 9, 14, 22, 34, 55, 89, 144, 233)

# Reasons counted by :func:`encode`.
TOO_LONG = "fragment_longer_than_max_length"
CROSSES_BREAK = "fragment_crosses_line_break"
TOO_FAR = "fragments_further_than_max_distance"
TOO_MANY = "more_fragments_than_max_fragments"
OVERLAPPING = "overlapping_fragments"


class Entity(NamedTuple):
    """A (possibly discontinuous) entity: label and sorted token fragments."""

    label: str
    fragments: tuple[TokenSpan, ...]

    @property
    def is_discontinuous(self) -> bool:
        return len(self.fragments) > 1


def make_entity(label: str, fragments: Iterable[TokenSpan]) -> Entity:
    """An :class:`Entity` with unique fragments in text order."""
    return Entity(label, tuple(sorted({(int(s), int(e)) for s, e in fragments})))


def distance_bucket(gap: int) -> int:
    """Bucket index of a token gap (0 for adjacent fragments)."""
    for k, bound in enumerate(DISTANCE_BUCKETS):
        if gap < bound:
            return k
    return len(DISTANCE_BUCKETS)


N_DISTANCE_BUCKETS = len(DISTANCE_BUCKETS) + 1


def candidate_spans(
    n_tokens: int,
    max_length: int,
    blocked: Sequence[bool] = (),
    no_edge: Sequence[bool] = (),
) -> list[TokenSpan]:
    """Every span of at most ``max_length`` tokens, in (start, end) order, that
    contains no ``blocked`` token (line breaks) and neither starts nor ends on a
    ``no_edge`` token (whitespace)."""
    spans: list[TokenSpan] = []
    for start in range(n_tokens):
        if (blocked and blocked[start]) or (no_edge and no_edge[start]):
            continue
        for end in range(start + 1, min(n_tokens, start + max_length) + 1):
            if blocked and blocked[end - 1]:
                break
            if no_edge and no_edge[end - 1]:
                continue
            spans.append((start, end))
    return spans


def pair_candidates(
    fragments: Sequence[TokenSpan], max_distance: int
) -> list[tuple[int, int]]:
    """Index pairs ``(a, b)`` of non-overlapping fragments, ``a`` before ``b``, at
    most ``max_distance`` tokens apart (from the end of ``a`` to the start of ``b``)."""
    order = sorted(range(len(fragments)), key=lambda i: fragments[i])
    pairs: list[tuple[int, int]] = []
    for x, a in enumerate(order):
        for b in order[x + 1 :]:
            gap = fragments[b][0] - fragments[a][1]
            if gap < 0:
                continue
            if gap > max_distance:
                break
            pairs.append((a, b))
    return pairs


@dataclass
class Targets:
    """Training targets of one document.

    ``whole`` / ``part``: ``(start, end, label)`` spans with that role.
    ``link_fragments``: per label, the fragments the link scorer sees (gold
    whole and part spans of that label); ``links``: per label, the
    index pairs into ``link_fragments[label]`` that share an entity.
    ``lost``: entities (or fragments) the candidate space cannot hold, by reason.
    """

    whole: set[tuple[int, int, str]] = field(default_factory=set)
    part: set[tuple[int, int, str]] = field(default_factory=set)
    link_fragments: dict[str, list[TokenSpan]] = field(default_factory=dict)
    links: dict[str, set[tuple[int, int]]] = field(default_factory=dict)
    lost: Counter = field(default_factory=Counter)


def encode(
    entities: Iterable[Entity],
    *,
    max_length: int,
    max_distance: int,
    blocked: Sequence[bool] = (),
) -> Targets:
    """Span roles and links of gold entities (see the module docstring).

    A fragment that cannot be a candidate (too long, crossing a blocked
    token) gets no span target and is counted; a discontinuous entity whose
    consecutive fragments are further apart than ``max_distance`` keeps its
    span targets and its links within reach, and is counted as lost (it
    cannot be decoded whole).
    """
    targets = Targets()
    per_label: dict[str, set[TokenSpan]] = {}
    groups: list[Entity] = []
    for entity in entities:
        usable = True
        for start, end in entity.fragments:
            if end - start > max_length:
                targets.lost[TOO_LONG] += 1
                usable = False
            elif blocked and any(blocked[start:end]):
                targets.lost[CROSSES_BREAK] += 1
                usable = False
        if not usable:
            continue
        frags = entity.fragments
        if any(b[0] < a[1] for a, b in zip(frags, frags[1:])):  # noqa: RUF007 (Python 3.9)
            targets.lost[OVERLAPPING] += 1
            continue
        if len(frags) == 1:
            targets.whole.add((*frags[0], entity.label))
        else:
            for frag in frags:
                targets.part.add((*frag, entity.label))
            groups.append(entity)
        per_label.setdefault(entity.label, set()).update(frags)
    for label, frags in per_label.items():
        ordered = sorted(frags)
        targets.link_fragments[label] = ordered
        targets.links[label] = set()
    index = {label: {f: i for i, f in enumerate(fr)} for label, fr in targets.link_fragments.items()}
    for entity in groups:
        frags = entity.fragments
        if frags[-1][0] - frags[0][1] > max_distance:
            targets.lost[TOO_FAR] += 1
        ids = [index[entity.label][f] for f in frags]
        for x, a in enumerate(ids):
            for b in ids[x + 1 :]:
                if frags_gap(targets.link_fragments[entity.label], a, b) <= max_distance:
                    targets.links[entity.label].add((a, b))
    return targets


def frags_gap(fragments: Sequence[TokenSpan], a: int, b: int) -> int:
    """Tokens between fragment ``a`` and fragment ``b`` (``a`` before ``b``)."""
    return fragments[b][0] - fragments[a][1]


# ----------------------------------------------------------------------
# Decoding
# ----------------------------------------------------------------------


class ScoredSpan(NamedTuple):
    """A candidate span with a role probability."""

    start: int
    end: int
    label: str
    score: float


def non_overlapping(spans: Iterable[ScoredSpan], limit: int | None = None) -> list[ScoredSpan]:
    """Best-scored spans first, keeping those that overlap no kept span of their
    label, at most ``limit`` per label; returned in text order."""
    kept: list[ScoredSpan] = []
    taken: dict[str, set[int]] = {}
    per_label: Counter = Counter()
    for span in sorted(spans, key=lambda s: (-s.score, s.start, s.end, s.label)):
        if limit is not None and per_label[span.label] >= limit:
            continue
        used = taken.setdefault(span.label, set())
        if any(t in used for t in range(span.start, span.end)):
            continue
        used.update(range(span.start, span.end))
        per_label[span.label] += 1
        kept.append(span)
    return sorted(kept, key=lambda s: (s.start, s.end, s.label))


#: Connected components with more fragments than this are decoded as linked pairs, not cliques
#: (bounds the clique search on the dense graphs of an untrained model).
MAX_CLIQUE_COMPONENT = 12


def maximal_cliques(n: int, edges: Iterable[tuple[int, int]]) -> list[tuple[int, ...]]:
    """Maximal cliques (Bron–Kerbosch with pivoting) of an undirected graph on ``0..n-1``.

    Returned sorted, each clique sorted; isolated nodes are cliques of one.
    Exponential in the worst case: :func:`decode` only calls it on small
    connected components.
    """
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in edges:
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    cliques: list[tuple[int, ...]] = []

    def expand(r: list[int], p: set[int], x: set[int]) -> None:
        if not p and not x:
            cliques.append(tuple(sorted(r)))
            return
        pivot = max(p | x, key=lambda u: len(neighbours[u] & p))
        for v in sorted(p - neighbours[pivot]):
            expand(r + [v], p & neighbours[v], x & neighbours[v])
            p = p - {v}
            x = x | {v}

    expand([], set(range(n)), set())
    return sorted(cliques)


def connected_components(n: int, edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components of an undirected graph on ``0..n-1`` (sorted node lists)."""
    parent = list(range(n))

    def find(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for u in range(n):
        groups.setdefault(find(u), []).append(u)
    return sorted(groups.values())


def decode(
    whole: Iterable[ScoredSpan],
    parts: Iterable[ScoredSpan],
    links: dict[tuple[int, int], float],
    *,
    link_threshold: float = 0.5,
    max_fragments: int = 4,
) -> list[Entity]:
    """Entities from scored roles and links (see the module docstring).

    whole: spans predicted to be continuous entities (already thresholded;
        nested and overlapping ones are all kept).
    parts: the part fragments, as returned by :func:`non_overlapping` (the
        indices of ``links`` refer to this sequence).
    links: ``{(a, b): probability}`` for scored pairs of ``parts`` (``a < b``);
        pairs of different labels are ignored.
    max_fragments: a clique with more fragments is split into its linked pairs;
        so is a connected component of more than ``MAX_CLIQUE_COMPONENT`` fragments.
    RETURNS: unique entities in text order.
    """
    parts = list(parts)
    entities: set[Entity] = {make_entity(s.label, [(s.start, s.end)]) for s in whole}
    edges = [
        (a, b)
        for (a, b), p in links.items()
        if p >= link_threshold and parts[a].label == parts[b].label
    ]
    for component in connected_components(len(parts), edges):
        if len(component) < 2:
            continue
        members = set(component)
        inside = [(a, b) for a, b in edges if a in members]
        if len(component) > MAX_CLIQUE_COMPONENT:
            groups: list[tuple[int, ...]] = list(inside)
        else:
            local = {node: k for k, node in enumerate(component)}
            groups = [
                tuple(component[k] for k in clique)
                for clique in maximal_cliques(len(component), [(local[a], local[b]) for a, b in inside])
            ]
        for group in groups:
            if len(group) < 2:
                continue
            label = parts[group[0]].label
            if len(group) <= max_fragments:
                entities.add(make_entity(label, [(parts[i].start, parts[i].end) for i in group]))
                continue
            chosen = set(group)
            for a, b in inside:
                if a in chosen and b in chosen:
                    entities.add(
                        make_entity(label, [(parts[a].start, parts[a].end), (parts[b].start, parts[b].end)])
                    )
    return sorted(entities, key=lambda e: (e.fragments, e.label))
