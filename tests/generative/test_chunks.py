"""Splitting gold spans into chunks and the per-chunk round trip."""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.generative import GoldSpan, ListFormat, TagFormat
from spacy_clinical_es.generative.chunks import (
    plan_chunks,
    round_trip,
    round_trip_counts,
    split_spans,
)

TEXT = "Varón de 38 años. Dolor en\nel pie."
SENTENCES = [(0, 17), (18, 26), (27, 34)]


def test_split_spans_relative_offsets_and_crossing() -> None:
    problems: Counter = Counter()
    spans = [(0, 5, "SEXO"), (9, 16, "EDAD"), (18, 33, "ENFERMEDAD"), (30, 33, "ENFERMEDAD"), (5, 50, "X")]
    chunks = split_spans(TEXT, spans, SENTENCES, problems)
    assert chunks == [
        [GoldSpan(((0, 5),), "SEXO"), GoldSpan(((9, 16),), "EDAD")],
        [],
        [GoldSpan(((3, 6),), "ENFERMEDAD")],
    ]
    assert problems == Counter({"crosses_chunk": 1, "invalid_span": 1})


def test_round_trip_reports_rendered_and_not_expressible() -> None:
    text = "cáncer de mama"
    result = round_trip(TagFormat(), text, [(0, 14, "ENFERMEDAD"), (10, 14, "ENFERMEDAD")], labels=["ENFERMEDAD"])
    assert result.output == "<ENFERMEDAD>cáncer de mama</ENFERMEDAD>"
    assert result.rendered == [GoldSpan(((0, 14),), "ENFERMEDAD")]
    assert result.not_expressible == Counter({"nested": 1})
    assert result.exact


def test_round_trip_not_exact_when_labels_reject() -> None:
    result = round_trip(ListFormat(), "Varón", [(0, 5, "SEXO")], labels=["EDAD"])
    assert not result.exact
    assert result.aligned.hallucinations == Counter({"label_not_in_set": 1})


def test_plan_chunks_packs_sentences_and_cuts_long_ones() -> None:
    text = "Varón de 38 años. Dolor en\nel pie.  \n\n Uno dos tres cuatro cinco seis."
    assert [text[s:e] for s, e in plan_chunks(text, 4)] == [
        "Varón de 38 años.",
        "Dolor en\nel pie.",
        "Uno dos tres cuatro",
        "cinco seis.",
    ]
    assert [text[s:e] for s, e in plan_chunks(text, 4, pack=False)] == [
        "Varón de 38 años.",
        "Dolor en",
        "el pie.",
        "Uno dos tres cuatro",
        "cinco seis.",
    ]
    assert [text[s:e] for s, e in plan_chunks(text, 100)] == [text.strip()]
    assert plan_chunks(" \n ") == []


def test_plan_chunks_rejects_zero() -> None:
    with pytest.raises(ConfigError):
        plan_chunks("Varón.", 0)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("Varón de 38 años. ¿Dolor? Sí.\n\t ABC")), max_size=120),
    max_tokens=st.integers(1, 8),
    pack=st.booleans(),
)
def test_plan_chunks_properties(text: str, max_tokens: int, pack: bool) -> None:
    chunks = plan_chunks(text, max_tokens, pack=pack)
    covered = set()
    previous_end = 0
    for start, end in chunks:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        assert len(text[start:end].split()) <= max_tokens
        covered.update(range(start, end))
        previous_end = end
    # Every non-space character is in a chunk.
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_round_trip_counts() -> None:
    spans = [(0, 5, "SEXO"), (9, 16, "EDAD"), (18, 32, "ENFERMEDAD"), (28, 32, "ENFERMEDAD"), (6, 20, "X")]
    docs = [("Varón de 38 años. Cáncer de mama.", spans)]
    counts = round_trip_counts(TagFormat(), docs, labels=["SEXO", "EDAD", "ENFERMEDAD"])
    assert counts == {
        "spans": 5,
        "chunks": 2,
        "rendered": 3,
        "exact": 3,
        "hallucinated": 0,
        "chunks_with_tag_like_text": 0,
        "not_expressible": {"crosses_chunk": 1, "nested": 1},
        "discontinuous_gold": 0,
        "discontinuous_in_chunks": 0,
        "discontinuous_exact": 0,
        "discontinuous_lost": {},
    }
    # A label outside the label set comes back as a hallucination: the round trip is not exact.
    counts = round_trip_counts(ListFormat(), docs[:1], labels=["SEXO"])
    assert counts["hallucinated"] == 3 and counts["exact"] == 0


def test_discontinuous_concepts_come_back_through_concept_strings() -> None:
    """JSON with concept strings: one string per concept, fragments found again by the concept-string aligner;
    every discontinuous gold concept is counted: exact, crossing a chunk, or not rendered."""
    from spacy_clinical_es.generative import JsonFormat

    text = "Dolor a nivel de hipogastrio. Fractura de tibia y peroné. Lesiones en la. Pared vesical."
    spans = [
        (((0, 5), (17, 28)), "DIAGNOSTICO"),  # dolor … hipogastrio
        (((30, 47),), "DIAGNOSTICO"),  # fractura de tibia
        (((30, 41), (50, 56)), "DIAGNOSTICO"),  # fractura de … peroné (shares "Fractura de")
        (((58, 66), (80, 87)), "DIAGNOSTICO"),  # lesiones … vesical: crosses a sentence
    ]
    fmt = JsonFormat(concept_strings=True)
    assert '"text": "Dolor hipogastrio"' in fmt.render(text[:29], [(((0, 5), (17, 28)), "DIAGNOSTICO")])
    counts = round_trip_counts(fmt, [(text, spans)], labels=["DIAGNOSTICO"])
    assert counts["discontinuous_gold"] == 3 and counts["discontinuous_in_chunks"] == 2
    assert counts["discontinuous_exact"] == 2 and counts["discontinuous_lost"] == {"crosses_chunk": 1}
    assert counts["exact"] == counts["rendered"] == 3
    # List cannot write them: counted, not lost silently
    listed = round_trip_counts(ListFormat(), [(text, spans)], labels=["DIAGNOSTICO"])
    assert listed["discontinuous_exact"] == 0 and listed["discontinuous_lost"] == {"crosses_chunk": 1, "not_rendered": 2}
