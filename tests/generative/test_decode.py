"""decode_chunks: per-chunk parse + align, document offsets, counts; arbitrary outputs never raise."""
from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.generative import JsonFormat, ListFormat, TagFormat
from spacy_clinical_es.generative.decode import GenerationCounts, decode_chunks

LABELS = ["SEXO", "EDAD", "ENFERMEDAD", "PROCEDIMIENTO"]
TEXT = "Varón de 38 años. Varón con cáncer de mama.\nSe realizó TAC."
CHUNKS = [(0, 17), (18, 43), (44, 59)]


def test_chunk_offsets_repeats_and_counts() -> None:
    outputs = [
        "Varón | SEXO; 38años | EDAD",
        "Varón | SEXO; cancer de mama | ENFERMEDAD; fumadora | HABITO; diabetes | ENFERMEDAD",
        "TAC | PROCEDIMIENTO; sin etiqueta",
    ]
    prediction = decode_chunks(TEXT, CHUNKS, outputs, ListFormat(), LABELS)
    assert [(TEXT[s.start : s.end], s.label, s.start) for s in prediction.spans] == [
        ("Varón", "SEXO", 0),
        ("38 años", "EDAD", 9),
        ("Varón", "SEXO", 18),
        ("cáncer de mama", "ENFERMEDAD", 28),
        ("TAC", "PROCEDIMIENTO", 55),
    ]
    counts = prediction.counts
    assert (counts.chunks, counts.items, counts.spans) == (3, 7, 5)
    assert counts.hallucinations == Counter({"label_not_in_set": 1, "not_in_text": 1})
    assert counts.problems == Counter({"missing_label": 1})


def test_missing_outputs_are_counted() -> None:
    prediction = decode_chunks(TEXT, CHUNKS, ["<SEXO>Varón</SEXO> de 38 años."], TagFormat(), LABELS)
    assert [(s.start, s.end) for s in prediction.spans] == [(0, 5)]
    assert prediction.counts.problems == Counter({"missing_output": 2})


def test_counts_dict_round_trip_and_total() -> None:
    counts = GenerationCounts(2, 5, 3, Counter({"not_in_text": 2}), Counter({"trimmed": 1}))
    data = counts.to_dict()
    assert data["n_hallucinations"] == 2
    assert GenerationCounts.from_dict(data) == counts
    total = GenerationCounts.total([counts, counts])
    assert total.to_dict()["hallucinations"] == {"not_in_text": 4} and total.chunks == 4


@settings(max_examples=200, deadline=None)
@given(
    outputs=st.lists(
        st.one_of(
            st.text(max_size=80),
            st.lists(
                st.sampled_from(["<SEXO>", "</SEXO>", "<EDAD>", "Varón", " de ", "38 años", "|", ";", "EDAD", "[", "{"]),
                max_size=20,
            ).map("".join),
        ),
        max_size=4,
    ),
    fmt=st.sampled_from([ListFormat(), TagFormat(), JsonFormat()]),
)
def test_arbitrary_outputs_never_raise(outputs: list[str], fmt: object) -> None:
    prediction = decode_chunks(TEXT, CHUNKS, outputs, fmt, LABELS)  # type: ignore[arg-type]
    for span in prediction.spans:
        assert any(start <= span.start and span.end <= end for start, end in CHUNKS)
        assert span.label in LABELS
    counts = prediction.counts
    assert counts.spans == len(prediction.spans)
    assert counts.spans + counts.n_hallucinations <= counts.items
