"""Splitting gold spans into chunks and the per-chunk round trip."""
from __future__ import annotations

from collections import Counter

from spacy_clinical_es.generative import GoldSpan, ListFormat, TagFormat
from spacy_clinical_es.generative.chunks import round_trip, split_spans

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
