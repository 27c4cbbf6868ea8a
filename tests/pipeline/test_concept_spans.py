"""concept_spans: ents, nested spans and discontinuous fragments in one span group."""
from __future__ import annotations

import spacy
from spacy.tokens import DocBin, Span

from spacy_clinical_es.tokenizer import make_clinical_nlp

TEXT = "Dolor en brazo y pierna izquierdos por apendicitis aguda."


def _doc(nlp: spacy.language.Language) -> spacy.tokens.Doc:
    doc = nlp.make_doc(TEXT)
    doc.ents = [doc.char_span(39, 56, "ENFERMEDAD")]
    doc.spans["imaging"] = [doc.char_span(39, 56, "ENFERMEDAD"), doc.char_span(39, 50, "ENFERMEDAD")]
    doc.spans["imaging"].attrs["scores"] = [0.9, 0.6]
    brazo, izquierdos = doc.char_span(0, 14), doc.char_span(24, 34)
    doc.spans["codiesp"] = [
        Span(doc, brazo.start, brazo.end, label="DIAGNOSTICO", span_id="E1"),
        Span(doc, izquierdos.start, izquierdos.end, label="DIAGNOSTICO", span_id="E1"),
    ]
    return doc


def test_concept_group_holds_flat_nested_and_discontinuous() -> None:
    nlp = make_clinical_nlp()
    pipe = nlp.add_pipe("clinical_es_concept_spans", config={"span_keys": ["imaging", "codiesp"],
                                                 "label_map": {"DIAGNOSTICO": "ENFERMEDAD"}})
    doc = pipe(_doc(nlp))
    group = doc.spans["concepts"]
    rows = [(s.start_char, s.end_char, s.label_, s.id_) for s in group]
    assert rows == [
        (0, 14, "ENFERMEDAD", "C1"),
        (24, 34, "ENFERMEDAD", "C1"),  # the discontinuous concept: two fragments, one id
        (39, 56, "ENFERMEDAD", "C2"),  # found by the NER and spancat: once
        (39, 50, "ENFERMEDAD", "C3"),  # nested inside C2
    ]
    assert group.attrs["scores"] == [None, None, 0.9, 0.6]
    assert group.attrs["sources"][2] == "ents+imaging"
    # survives a DocBin round trip
    db = DocBin(store_user_data=True)
    db.add(doc)
    again = next(DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab))
    assert [(s.start_char, s.end_char, s.id_) for s in again.spans["concepts"]] == [r[:2] + (r[3],) for r in rows]


def test_labels_filter_and_missing_groups() -> None:
    nlp = make_clinical_nlp()
    pipe = nlp.add_pipe("clinical_es_concept_spans", config={"span_keys": ["codiesp", "absent"], "labels": ["PROCEDIMIENTO"]})
    doc = pipe(_doc(nlp))
    assert list(doc.spans["concepts"]) == []


def test_discontinuous_only_takes_the_multi_fragment_concepts_of_a_group() -> None:
    nlp = make_clinical_nlp()
    pipe = nlp.add_pipe("clinical_es_concept_spans", config={
        "span_keys": ["imaging", "codiesp"], "discontinuous_only": ["codiesp", "imaging"],
        "label_map": {"DIAGNOSTICO": "ENFERMEDAD"},
    })
    doc = pipe(_doc(nlp))
    # the NER's entity and the discontinuous CodiEsp concept; spancat's one-fragment spans are left out
    assert [(s.start_char, s.end_char, s.id_) for s in doc.spans["concepts"]] == [(0, 14, "C1"), (24, 34, "C1"), (39, 56, "C2")]
    assert pipe.cfg["discontinuous_only"] == ["codiesp", "imaging"]
    assert nlp.config["components"]["clinical_es_concept_spans"]["discontinuous_only"] == ["codiesp", "imaging"]
