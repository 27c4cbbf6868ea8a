"""merge_concepts: one concept per (label, fragments), whatever detector found it."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es.concepts.merge import Mention, merge_concepts


def test_same_concept_from_two_detectors_is_kept_once_with_the_best_score() -> None:
    concepts = merge_concepts(
        [
            Mention(0, 10, "ENFERMEDAD", "ents"),
            Mention(0, 10, "ENFERMEDAD", "imaging", score=0.7),
            Mention(0, 10, "DIAGNOSTICO", "codiesp", group="E1", score=0.9),
        ],
        {"DIAGNOSTICO": "ENFERMEDAD"},
    )
    assert len(concepts) == 1
    assert concepts[0].score == 0.9 and concepts[0].sources == ["ents", "imaging", "codiesp"]


def test_nested_and_discontinuous_concepts() -> None:
    concepts = merge_concepts(
        [
            Mention(0, 20, "ENFERMEDAD", "imaging", score=0.8),
            Mention(9, 20, "ENFERMEDAD", "imaging", score=0.6),  # nested inside the first
            Mention(30, 35, "ENFERMEDAD", "codiesp", group="E1", score=0.9),
            Mention(40, 49, "ENFERMEDAD", "codiesp", group="E1", score=0.4),
            Mention(30, 35, "ENFERMEDAD", "codiesp", group="E2", score=0.5),  # a fragment shared by two entities
        ]
    )
    assert [(c.fragments, c.discontinuous, c.score) for c in concepts] == [
        (((0, 20),), False, 0.8),
        (((9, 20),), False, 0.6),
        (((30, 35), (40, 49)), True, 0.4),  # as sure as its weakest fragment
        (((30, 35),), False, 0.5),
    ]


def test_same_fragments_from_two_detectors_with_different_groups_merge() -> None:
    concepts = merge_concepts(
        [Mention(0, 5, "X", "a", group="E1"), Mention(9, 12, "X", "a", group="E1"),
         Mention(0, 5, "X", "b", group="T7"), Mention(9, 12, "X", "b", group="T7")]
    )
    assert len(concepts) == 1 and concepts[0].sources == ["a", "b"]


@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(0, 10), st.sampled_from(["A", "B"]), st.sampled_from(["s", "t"]),
                  st.one_of(st.none(), st.sampled_from(["E1", "E2"])), st.one_of(st.none(), st.floats(0, 1))),
        max_size=12,
    )
)
def test_merge_never_loses_a_fragment_and_never_duplicates(rows: list) -> None:
    mentions = [Mention(s, s + n, label, source, group, score) for s, n, label, source, group, score in rows]
    concepts = merge_concepts(mentions)
    keys = [(c.label, c.fragments) for c in concepts]
    assert len(keys) == len(set(keys))
    covered = {(frag, c.label) for c in concepts for frag in c.fragments}
    assert all(((m.start, m.end), m.label) in covered for m in mentions if m.end > m.start)


def test_discontinuous_only_sources_add_their_multi_fragment_concepts_only() -> None:
    mentions = [
        Mention(0, 10, "ENFERMEDAD", "ents"),
        Mention(0, 10, "DIAGNOSTICO", "codiesp", group="E1", score=0.9),  # continuous: the NER's job
        Mention(20, 25, "DIAGNOSTICO", "codiesp", group="E2", score=0.8),  # continuous, found by codiesp alone
        Mention(30, 35, "DIAGNOSTICO", "codiesp", group="E3", score=0.7),
        Mention(40, 49, "DIAGNOSTICO", "codiesp", group="E3", score=0.6),
    ]
    concepts = merge_concepts(mentions, {"DIAGNOSTICO": "ENFERMEDAD"}, discontinuous_only=["codiesp"])
    assert [(c.fragments, c.sources) for c in concepts] == [
        (((0, 10),), ["ents"]),
        (((30, 35), (40, 49)), ["codiesp"]),
    ]
    assert len(merge_concepts(mentions, {"DIAGNOSTICO": "ENFERMEDAD"})) == 3
