"""Fragment graph: candidates, training targets, cliques and decoding."""
from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.concepts import (
    Entity,
    ScoredSpan,
    candidate_spans,
    decode,
    encode,
    make_entity,
    maximal_cliques,
    non_overlapping,
    pair_candidates,
)
from spacy_clinical_es.concepts.fragments import (
    CROSSES_BREAK,
    MAX_CLIQUE_COMPONENT,
    OVERLAPPING,
    TOO_FAR,
    TOO_LONG,
    distance_bucket,
)


def test_candidate_spans_respect_length_breaks_and_edges() -> None:
    # tokens: 0 a, 1 " ", 2 b, 3 "\n", 4 c
    blocked = [False, False, False, True, False]
    no_edge = [False, True, False, True, False]
    spans = candidate_spans(5, 3, blocked, no_edge)
    assert spans == [(0, 1), (0, 3), (2, 3), (4, 5)]
    assert candidate_spans(3, 2) == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]


def test_pair_candidates_skip_overlaps_and_far_pairs() -> None:
    fragments = [(0, 2), (1, 3), (5, 6), (40, 41)]
    assert pair_candidates(fragments, 10) == [(0, 2), (1, 2)]
    assert (0, 3) in pair_candidates(fragments, 100)


def test_distance_buckets_are_monotone() -> None:
    buckets = [distance_bucket(g) for g in range(400)]
    assert buckets == sorted(buckets)
    assert buckets[0] == 0 and buckets[1] == 1 and buckets[399] == max(buckets)


def test_encode_roles_links_and_losses() -> None:
    edema = (0, 1)
    entities = [
        make_entity("DIAG", [edema]),
        make_entity("DIAG", [edema, (4, 6)]),
        make_entity("DIAG", [edema, (7, 8)]),
        make_entity("DIAG", [(0, 12)]),  # too long for max_length 8
        make_entity("PROC", [(20, 21), (400, 401)]),  # too far
        make_entity("PROC", [(30, 33)]),  # crosses the break at token 31
        make_entity("PROC", [(40, 43), (42, 44)]),  # overlapping fragments
    ]
    blocked = [False] * 500
    blocked[31] = True
    targets = encode(entities, max_length=8, max_distance=50, blocked=blocked)
    assert targets.whole == {(0, 1, "DIAG")}
    assert targets.part == {(0, 1, "DIAG"), (4, 6, "DIAG"), (7, 8, "DIAG"), (20, 21, "PROC"), (400, 401, "PROC")}
    assert targets.link_fragments["DIAG"] == [(0, 1), (4, 6), (7, 8)]
    assert targets.links["DIAG"] == {(0, 1), (0, 2)}
    assert targets.links["PROC"] == set()
    assert targets.lost == {TOO_LONG: 1, TOO_FAR: 1, CROSSES_BREAK: 1, OVERLAPPING: 1}


def test_non_overlapping_prefers_scores_per_label() -> None:
    spans = [
        ScoredSpan(0, 2, "A", 0.6),
        ScoredSpan(1, 3, "A", 0.9),
        ScoredSpan(0, 2, "B", 0.5),
        ScoredSpan(5, 6, "A", 0.7),
    ]
    assert non_overlapping(spans) == [ScoredSpan(0, 2, "B", 0.5), ScoredSpan(1, 3, "A", 0.9), ScoredSpan(5, 6, "A", 0.7)]
    assert non_overlapping(spans, limit=1) == [ScoredSpan(0, 2, "B", 0.5), ScoredSpan(1, 3, "A", 0.9)]


def _brute_cliques(n: int, edges: set[tuple[int, int]]) -> list[tuple[int, ...]]:
    def is_clique(nodes: tuple[int, ...]) -> bool:
        return all((a, b) in edges or (b, a) in edges for a, b in itertools.combinations(nodes, 2))

    cliques = [c for r in range(1, n + 1) for c in itertools.combinations(range(n), r) if is_clique(c)]
    return sorted(c for c in cliques if not any(set(c) < set(d) for d in cliques))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 7).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))))))
def test_maximal_cliques_match_brute_force(graph: tuple[int, set[tuple[int, int]]]) -> None:
    n, raw = graph
    edges = {(a, b) for a, b in raw if a != b}
    assert maximal_cliques(n, edges) == _brute_cliques(n, edges)


def _parts(*spans: tuple[int, int]) -> list[ScoredSpan]:
    return [ScoredSpan(s, e, "DIAG", 0.9) for s, e in spans]


def test_decode_shared_fragment_sits_in_two_entities() -> None:
    # "edema … pierna derecha > izquierda": edema links to both, the two sides do not link.
    parts = _parts((0, 1), (4, 6), (7, 8))
    links = {(0, 1): 0.9, (0, 2): 0.8, (1, 2): 0.1}
    whole = [ScoredSpan(0, 1, "DIAG", 0.7), ScoredSpan(0, 3, "DIAG", 0.6)]
    entities = decode(whole, parts, links)
    assert entities == [
        Entity("DIAG", ((0, 1),)),
        Entity("DIAG", ((0, 1), (4, 6))),
        Entity("DIAG", ((0, 1), (7, 8))),
        Entity("DIAG", ((0, 3),)),
    ]


def test_decode_triangle_is_one_entity_and_threshold_applies() -> None:
    parts = _parts((0, 1), (3, 4), (6, 7))
    links = {(0, 1): 0.9, (0, 2): 0.9, (1, 2): 0.9}
    assert decode([], parts, links) == [Entity("DIAG", ((0, 1), (3, 4), (6, 7)))]
    assert decode([], parts, links, link_threshold=0.95) == []
    # Parts of different labels never join.
    mixed = [ScoredSpan(0, 1, "DIAG", 0.9), ScoredSpan(3, 4, "PROC", 0.9)]
    assert decode([], mixed, {(0, 1): 0.99}) == []


def test_decode_large_cliques_fall_back_to_pairs() -> None:
    parts = _parts((0, 1), (2, 3), (4, 5))
    links = {(0, 1): 0.9, (0, 2): 0.9, (1, 2): 0.9}
    assert decode([], parts, links, max_fragments=2) == [
        Entity("DIAG", ((0, 1), (2, 3))),
        Entity("DIAG", ((0, 1), (4, 5))),
        Entity("DIAG", ((2, 3), (4, 5))),
    ]
    n = MAX_CLIQUE_COMPONENT + 2
    chain = _parts(*[(2 * k, 2 * k + 1) for k in range(n)])
    links = {(k, k + 1): 0.9 for k in range(n - 1)}
    entities = decode([], chain, links)
    assert len(entities) == n - 1 and all(len(e.fragments) == 2 for e in entities)


@st.composite
def disjoint_entities(draw: st.DrawFn) -> list[Entity]:
    """Entities on distinct tokens (no shared or overlapping fragments across entities)."""
    n = draw(st.integers(1, 6))
    cursor = 0
    entities = []
    for _ in range(n):
        k = draw(st.integers(1, 3))
        label = draw(st.sampled_from(["DIAG", "PROC"]))
        frags = []
        for _ in range(k):
            cursor += draw(st.integers(1, 4))
            length = draw(st.integers(1, 3))
            frags.append((cursor, cursor + length))
            cursor += length
        entities.append(make_entity(label, frags))
    # interleave: shuffle fragment ownership is not needed, positions already differ
    return entities


@settings(max_examples=100, deadline=None)
@given(disjoint_entities())
def test_encode_then_decode_gives_the_entities_back(entities: list[Entity]) -> None:
    targets = encode(entities, max_length=8, max_distance=100)
    assert not targets.lost
    whole = [ScoredSpan(s, e, label, 1.0) for s, e, label in targets.whole]
    parts = non_overlapping(ScoredSpan(s, e, label, 1.0) for s, e, label in targets.part)
    index = {(p.start, p.end, p.label): k for k, p in enumerate(parts)}
    links = {}
    for label, fragments in targets.link_fragments.items():
        for a, b in targets.links[label]:
            i = index[(*fragments[a], label)]
            j = index[(*fragments[b], label)]
            links[(min(i, j), max(i, j))] = 1.0
    assert decode(whole, parts, links) == sorted(set(entities), key=lambda e: (e.fragments, e.label))
