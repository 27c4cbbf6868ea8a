"""PHI phrase gazetteer and propagation over token sequences (spaCy-free)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es.deid import DeidError
from spacy_clinical_es.deid.gazetteer import (
    GazetteerBuilder,
    HashedPhrases,
    fill_gaps,
    find_phrases,
    key_check,
    phrase_digest,
    propagation_phrases,
)

TOKENS = ["Ingresa", "en", "el", "Hospital", "La", "Paz", "de", "Madrid", ";", "alta", "del", "Hospital", "La", "Paz"]


def test_find_phrases_all_occurrences_longest_and_shorter() -> None:
    phrases = {("Hospital", "La", "Paz"): "HOSPITAL", ("La", "Paz"): "TERRITORIO", ("Madrid",): "TERRITORIO"}
    found = find_phrases(TOKENS, phrases)
    assert found == [
        (3, 6, "HOSPITAL"),
        (4, 6, "TERRITORIO"),
        (7, 8, "TERRITORIO"),
        (11, 14, "HOSPITAL"),
        (12, 14, "TERRITORIO"),
    ]
    assert find_phrases(TOKENS, {}) == []
    assert find_phrases(["Paz"], {("Hospital", "La", "Paz"): "HOSPITAL"}) == []


def test_fill_gaps_keeps_existing_and_prefers_longest() -> None:
    candidates = [(3, 6, "HOSPITAL"), (4, 6, "TERRITORIO"), (7, 8, "TERRITORIO"), (11, 14, "HOSPITAL")]
    # An existing entity over "Madrid" blocks that candidate; the longer hospital beats "La Paz".
    assert fill_gaps([(7, 8)], candidates) == [(3, 6, "HOSPITAL"), (11, 14, "HOSPITAL")]
    assert fill_gaps([(5, 6)], candidates) == [(7, 8, "TERRITORIO"), (11, 14, "HOSPITAL")]


def test_propagation_phrases_filters_labels_and_short_phrases() -> None:
    spans = [(3, 6, "HOSPITAL"), (7, 8, "TERRITORIO"), (2, 3, "OTRO")]
    assert propagation_phrases(TOKENS, spans, labels=["HOSPITAL"]) == {("Hospital", "La", "Paz"): "HOSPITAL"}
    # "el" is shorter than three characters.
    assert ("el",) not in propagation_phrases(TOKENS, spans)
    assert propagation_phrases(TOKENS, spans, min_chars=2)[("el",)] == "OTRO"


def test_builder_keeps_phrases_annotated_often_enough() -> None:
    builder = GazetteerBuilder(labels=["TERRITORIO", "HOSPITAL"])
    # "Madrid" annotated once, free once; inside the hospital span it counts neither way.
    builder.add(["Vive", "en", "Madrid"], [(2, 3, "TERRITORIO")])
    builder.add(["Madrid", "es", "grande"], [])
    builder.add(["Hospital", "de", "Madrid"], [(0, 3, "HOSPITAL")])
    builder.add(["Soria", "y", "Soria"], [(0, 1, "TERRITORIO"), (2, 3, "TERRITORIO")])
    builder.add(["Juan"], [(0, 1, "NOMBRE_SUJETO_ASISTENCIA")])  # label not learnt
    assert builder.build(min_ratio=0.5) == {
        ("Madrid",): "TERRITORIO",
        ("Hospital", "de", "Madrid"): "HOSPITAL",
        ("Soria",): "TERRITORIO",
    }
    assert ("Madrid",) not in builder.build(min_ratio=0.6)
    assert builder.build(min_ratio=0.0, min_count=2) == {("Soria",): "TERRITORIO"}
    with pytest.raises(DeidError):
        builder.build(min_ratio=1.5)
    with pytest.raises(DeidError):
        builder.add(["x"], [(0, 2, "TERRITORIO")])


def test_builder_majority_label_with_alphabetical_ties() -> None:
    builder = GazetteerBuilder()
    builder.add(["Navarra"], [(0, 1, "TERRITORIO")])
    builder.add(["Navarra"], [(0, 1, "HOSPITAL")])
    builder.add(["Navarra"], [(0, 1, "TERRITORIO")])
    builder.add(["Soria"], [(0, 1, "TERRITORIO")])
    builder.add(["Soria"], [(0, 1, "PAIS")])
    assert builder.build() == {("Navarra",): "TERRITORIO", ("Soria",): "PAIS"}


spans_strategy = st.lists(
    st.tuples(st.integers(0, 30), st.integers(1, 6), st.sampled_from(["A", "B", "C"])).map(
        lambda t: (t[0], t[0] + t[1], t[2])
    ),
    max_size=12,
)


@given(existing=spans_strategy, candidates=spans_strategy)
def test_fill_gaps_never_overlaps(existing, candidates) -> None:
    added = fill_gaps([(s, e) for s, e, _ in existing], candidates)
    assert set(added) <= set(candidates)
    for i, (s, e, _) in enumerate(added):
        assert not any(a < e and s < b for a, b, _ in existing)
        assert not any(a < e and s < b for a, b, _ in added[i + 1 :])
    # Maximality: every refused candidate overlaps something kept or existing.
    taken = [(s, e) for s, e, _ in existing] + [(s, e) for s, e, _ in added]
    for s, e, label in candidates:
        if (s, e, label) not in added:
            assert any(a < e and s < b for a, b in taken)


@given(tokens=st.lists(st.sampled_from(["a", "b", "c", "de"]), max_size=30), phrase=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3))
def test_find_phrases_matches_naive_search(tokens, phrase) -> None:
    found = find_phrases(tokens, {tuple(phrase): "X"})
    naive = [(i, i + len(phrase), "X") for i in range(len(tokens) - len(phrase) + 1) if tokens[i : i + len(phrase)] == phrase]
    assert found == naive


def test_hashed_phrases_keep_no_text_and_need_the_key() -> None:
    phrases = {("Hospital", "La", "Paz"): "HOSPITAL", ("La", "Paz"): "TERRITORIO", ("Madrid",): "TERRITORIO"}
    table = HashedPhrases()
    table.add(b"k1", phrases)
    records = table.records()
    assert len(table) == 3 and table.labels == ("HOSPITAL", "TERRITORIO")
    assert all(set(r) == {"label", "length", "first", "digest"} for r in records)
    assert not any(word in repr(records) for word in ("Hospital", "Paz", "Madrid"))
    assert table.find(b"k1", TOKENS) == find_phrases(TOKENS, phrases)
    assert table.find(b"k2", TOKENS) == []  # another key matches nothing
    copy = HashedPhrases()
    copy.add_records(records)
    assert copy.records() == records and copy.find(b"k1", TOKENS) == find_phrases(TOKENS, phrases)
    assert copy.label_of(b"k1", ("La", "Paz")) == "TERRITORIO" and copy.label_of(b"k1", ("Paz",)) is None
    # Normalized: NFC and NFD spellings are one phrase; case is kept.
    assert phrase_digest(b"k", ["Fundaci\u00f3n"]) == phrase_digest(b"k", ["Fundacio\u0301n"])
    assert phrase_digest(b"k", ["madrid"]) != phrase_digest(b"k", ["Madrid"])
    assert phrase_digest(b"k", ["a b"]) != phrase_digest(b"k", ["a", "b"])
    assert key_check(b"k1") != key_check(b"k2")
    with pytest.raises(DeidError):
        table.add(b"", phrases)
    with pytest.raises(DeidError):
        copy.add_records([{"label": "X", "tokens": ["Madrid"]}])
    with pytest.raises(DeidError):
        copy.add_records([{"label": "X", "length": 1, "first": "zz", "digest": "00"}])
    # No digit and no vowel in a digest: a scan for numeric IDs or words cannot match one by chance.
    assert all(not set(r["digest"] + r["first"]) & set("0123456789aeiou") for r in records)


@given(
    tokens=st.lists(st.sampled_from(["a", "b", "c", "de", "é"]), max_size=30),
    phrases=st.dictionaries(
        st.lists(st.sampled_from(["a", "b", "c", "é"]), min_size=1, max_size=3).map(tuple),
        st.sampled_from(["X", "Y"]),
        max_size=5,
    ),
)
def test_hashed_find_equals_plain_find(tokens, phrases) -> None:
    table = HashedPhrases()
    table.add("key", phrases)
    assert table.find("key", tokens) == find_phrases(tokens, phrases)
