"""spaCy layer: predictions to doc.ents / span groups with counts; gold spans and training examples."""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc

from spacy_clinical_es.generative import AlignedSpan, JsonFormat, ListFormat, TagFormat
from spacy_clinical_es.generative.decode import DocPrediction, GenerationCounts
from spacy_clinical_es.generative.spacy_layer.annotate import (
    COUNTS_KEY,
    aggregate_counts,
    chunk_examples,
    doc_counts,
    example_counts,
    gold_spans,
    set_predictions,
)
from spacy_clinical_es.tokenizer import make_clinical_nlp

TEXT = "Dolor en mano y pie. Cáncer de mama en varón de 38años."
NLP = make_clinical_nlp()


@pytest.fixture(scope="module")
def nlp():  # type: ignore[no-untyped-def]
    return NLP


def prediction(*spans: tuple) -> DocPrediction:
    aligned = []
    for fragments, label in spans:
        aligned.append(AlignedSpan(fragments[0][0], fragments[-1][1], label, tuple(fragments)))
    return DocPrediction(aligned, GenerationCounts(2, len(spans) + 1, len(spans), Counter({"not_in_text": 1})))


SPANS = (
    (((0, 5), (16, 19)), "ENFERMEDAD"),  # discontinuous "Dolor … pie"
    (((21, 35),), "ENFERMEDAD"),  # "Cáncer de mama"
    (((31, 35),), "ENFERMEDAD"),  # nested "mama"
    (((39, 44),), "SEXO"),
    (((48, 50),), "EDAD"),  # "38" inside the token "38años" (if the tokenizer keeps it whole)
)


def test_set_predictions_to_ents_counts_what_ents_cannot_hold(nlp) -> None:  # type: ignore[no-untyped-def]
    doc = nlp(TEXT)
    counts = set_predictions(doc, prediction(*SPANS), component="gen")
    ents = [(e.text, e.label_) for e in doc.ents]
    assert ents[:2] == [("Cáncer de mama", "ENFERMEDAD"), ("varón", "SEXO")]
    assert counts.problems["discontinuous_not_in_ents"] == 1
    assert counts.problems["overlap_not_in_ents"] == 1
    token_38 = doc.char_span(48, 50) is not None
    assert counts.problems["expanded_to_tokens"] == (0 if token_38 else 1)
    assert counts.hallucinations == Counter({"not_in_text": 1})
    assert doc.user_data[COUNTS_KEY]["gen"] == counts.to_dict()
    assert doc_counts(doc, "gen") == counts
    assert doc_counts(doc, "other") == GenerationCounts()


def test_set_predictions_to_span_group_keeps_nested_and_discontinuous(nlp) -> None:  # type: ignore[no-untyped-def]
    doc = nlp(TEXT)
    counts = set_predictions(doc, prediction(*SPANS[:4]), spans_key="gen", component="gen")
    group = doc.spans["gen"]
    assert [(s.text, s.label_) for s in group] == [
        ("Dolor", "ENFERMEDAD"),
        ("pie", "ENFERMEDAD"),
        ("Cáncer de mama", "ENFERMEDAD"),
        ("mama", "ENFERMEDAD"),
        ("varón", "SEXO"),
    ]
    assert group[0].id_ == group[1].id_ != "" and group[2].id_ == ""
    assert not counts.problems
    assert not doc.ents


def test_counts_survive_serialization_and_aggregate(nlp) -> None:  # type: ignore[no-untyped-def]
    docs = [nlp(TEXT), nlp("Sin hallazgos.")]
    set_predictions(docs[0], prediction(*SPANS[1:2]), component="gen")
    set_predictions(docs[1], DocPrediction([], GenerationCounts(chunks=1)), component="gen")
    restored = [Doc(nlp.vocab).from_bytes(doc.to_bytes()) for doc in docs]
    total = aggregate_counts(restored)
    assert total["docs"] == 2 and total["docs_with_hallucinations"] == 1
    assert total["chunks"] == 3 and total["n_hallucinations"] == 1 and total["spans"] == 1


def test_gold_spans_use_exact_offsets_and_group_fragments(nlp) -> None:  # type: ignore[no-untyped-def]
    doc = nlp(TEXT)
    cancer = doc.char_span(21, 35, "ENFERMEDAD")
    cancer.id_ = "T1"
    doc.ents = [cancer]
    assert doc.ents[0].id_ == "T1"
    pieces = [doc.char_span(0, 5, "ENFERMEDAD"), doc.char_span(16, 19, "ENFERMEDAD"), doc.ents[0]]
    pieces[0].id_ = pieces[1].id_ = "T2"
    doc.spans["gold"] = pieces
    doc.user_data["spacy_clinical_es"] = {
        "annotations": {
            "T1": {"label": "ENFERMEDAD", "fragments": [[21, 33]]},  # exact: "Cáncer de ma" (expanded in the doc)
            "T2": {"label": "ENFERMEDAD", "fragments": [[0, 5], [16, 19]]},
        }
    }
    assert gold_spans(doc) == [(((21, 33),), "ENFERMEDAD")]
    assert gold_spans(doc, "gold") == [(((0, 5), (16, 19)), "ENFERMEDAD"), (((21, 33),), "ENFERMEDAD")]
    assert gold_spans(doc, "missing") == []


def test_chunk_examples_and_table_counts(nlp) -> None:  # type: ignore[no-untyped-def]
    doc = nlp(TEXT)
    doc.ents = [doc.char_span(21, 35, "ENFERMEDAD"), doc.char_span(39, 44, "SEXO")]
    empty = nlp("Sin hallazgos. Control en un mes.")
    problems: Counter = Counter()
    examples = chunk_examples([doc, empty], ListFormat(), problems=problems)
    assert [(e.text, e.target, e.n_entities, e.doc_index) for e in examples] == [
        ("Dolor en mano y pie.", "NO ENTITIES", 0, 0),
        ("Cáncer de mama en varón de 38años.", "Cáncer de mama | ENFERMEDAD; varón | SEXO", 2, 0),
        ("Sin hallazgos.", "NO ENTITIES", 0, 1),
        ("Control en un mes.", "NO ENTITIES", 0, 1),
    ]
    assert example_counts(examples, problems) == {
        "docs": 2,
        "sentences": 4,
        "sentences_with_entities": 1,
        "entities": 2,
        "not_expressible": {},
    }
    tagged = chunk_examples([doc], TagFormat())
    assert tagged[1].target == "<ENFERMEDAD>Cáncer de mama</ENFERMEDAD> en <SEXO>varón</SEXO> de 38años."
    doc.spans["all"] = [*doc.ents, doc.char_span(31, 35, "ENFERMEDAD")]
    problems.clear()
    nested = chunk_examples([doc], TagFormat(), span_key="all", problems=problems)
    assert nested[1].n_entities == 2 and problems == Counter({"nested": 1})
    assert chunk_examples([doc], JsonFormat(), span_key="all")[1].n_entities == 3


@settings(max_examples=100, deadline=None)
@given(
    outputs=st.lists(
        st.lists(
            st.sampled_from(
                ["<ENFERMEDAD>", "</ENFERMEDAD>", "<SEXO>", "Dolor", " en ", "mano", "pie", "varón", "38", "años", "|", ";",
                 '"text": ["dolor", "pie"]', "{", "}", "[", "]", "ENFERMEDAD", "SEXO", "EDAD", " ", "."]
            ),
            max_size=25,
        ).map("".join),
        min_size=2,
        max_size=2,
    ),
    fmt=st.sampled_from([ListFormat(), TagFormat(), TagFormat(nested=True), JsonFormat()]),
    spans_key=st.sampled_from([None, "gen"]),
)
def test_arbitrary_outputs_set_on_docs_never_raise(outputs: list[str], fmt: object, spans_key: str | None) -> None:
    from spacy_clinical_es.generative.chunks import plan_chunks
    from spacy_clinical_es.generative.decode import decode_chunks

    doc = NLP(TEXT)
    chunks = plan_chunks(TEXT, 100, pack=False)
    counts = set_predictions(doc, decode_chunks(TEXT, chunks, outputs, fmt, ["ENFERMEDAD", "SEXO", "EDAD"]), spans_key=spans_key)  # type: ignore[arg-type]
    spans = list(doc.ents) if spans_key is None else list(doc.spans[spans_key])
    assert all(span.label_ in ("ENFERMEDAD", "SEXO", "EDAD") for span in spans)
    assert counts.to_dict() == doc.user_data[COUNTS_KEY]["generative_ner"]
