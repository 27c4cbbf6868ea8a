from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

from spacy_clinical_es.linking import (
    Concept,
    KnowledgeBase,
    LinkingError,
    TfidfCharEncoder,
)
from spacy_clinical_es.pipeline.entity_linker import ClinicalEntityLinker

TEXT = "Se realizó TAC y resonancias magnéticas; antecedente de xq zw hipertensión arterial."
PATTERNS = [
    {"label": "PROCEDIMIENTO", "pattern": "TAC"},
    {"label": "PROCEDIMIENTO", "pattern": [{"LOWER": "resonancias"}, {"LOWER": "magnéticas"}]},
    {"label": "ENFERMEDAD", "pattern": [{"LOWER": "xq"}, {"LOWER": "zw"}, {"LOWER": "hipertensión"}, {"LOWER": "arterial"}]},
]


@pytest.fixture
def kb() -> KnowledgeBase:
    kb = KnowledgeBase()
    kb.add(Concept("77477000", "tomografía computarizada", ("TAC",), "PROCEDIMIENTO", "SNOMEDCT"))
    kb.add(Concept("241615005", "resonancia magnética", ("RM",), "PROCEDIMIENTO", "SNOMEDCT"))
    kb.add(Concept("38341003", "hipertensión arterial", ("HTA",), "ENFERMEDAD", "SNOMEDCT"))
    kb.add(Concept("80146002", "apendicectomía", (), "PROCEDIMIENTO", "SNOMEDCT"))
    return kb


def _nlp(kb: KnowledgeBase, **config: object) -> Language:
    nlp = spacy.blank("es")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    linker = nlp.add_pipe("clinical_entity_linker", config={"threshold": 0.7, **config})
    linker.initialize(kb=kb)
    return nlp


def _links(doc: Doc) -> list[tuple]:
    return [
        (e.text, e.kb_id_, [(c, round(s, 6)) for c, s in e._.candidates], e._.link_span)
        for e in doc.ents
    ]


def test_links_ents_with_candidates_and_nested_fallback(kb: KnowledgeBase) -> None:
    doc = _nlp(kb, threshold=0.9)(TEXT)
    by_text = {e.text: e for e in doc.ents}
    tac = by_text["TAC"]
    assert tac.kb_id_ == "77477000"
    assert tac._.candidates[0] == ("77477000", 1.0)
    assert len(tac._.candidates) <= 5
    resonancias = by_text["resonancias magnéticas"]
    assert resonancias.kb_id_ == ""  # best cosine about 0.72 < threshold, no sub-span passes
    assert resonancias._.candidates[0][0] == "241615005"
    assert _nlp(kb, threshold=0.7)(TEXT).ents[1].kb_id_ == "241615005"
    htn = by_text["xq zw hipertensión arterial"]
    assert htn.kb_id_ == "38341003"
    assert doc.text[htn._.link_span[0] : htn._.link_span[1]] == "hipertensión arterial"
    assert [e.label_ for e in doc.ents] == ["PROCEDIMIENTO", "PROCEDIMIENTO", "ENFERMEDAD"]


def test_without_fallback_low_score_keeps_kb_id_empty(kb: KnowledgeBase) -> None:
    doc = _nlp(kb, nested_fallback=False, threshold=0.99)(TEXT)
    htn = next(e for e in doc.ents if e.label_ == "ENFERMEDAD")
    assert htn.kb_id_ == ""
    assert htn._.candidates and htn._.candidates[0][0] == "38341003"
    assert htn._.link_span == (htn.start_char, htn.end_char)


def test_span_group_and_type_reranking(kb: KnowledgeBase) -> None:
    kb.add(Concept("K35.80", "apendicitis aguda", (), "DIAGNOSTICO", "ICD10-CM"))
    kb.add(Concept("74400008", "apendicitis aguda", (), "ENFERMEDAD", "SNOMEDCT"))
    nlp = spacy.blank("es")
    nlp.add_pipe("clinical_entity_linker", config={"spans_key": "sc", "type_bonus": 0.05}).initialize(kb=kb)
    doc = nlp.make_doc("apendicitis aguda")
    doc.spans["sc"] = [Span(doc, 0, 2, label="DIAGNOSTICO"), Span(doc, 0, 2, label="ENFERMEDAD")]
    doc = nlp.get_pipe("clinical_entity_linker")(doc)
    assert [s.kb_id_ for s in doc.spans["sc"]] == ["K35.80", "74400008"]
    assert doc.ents == ()


def test_initialize_from_kb_path_and_errors(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.to_disk(tmp_path / "kb.tsv")
    nlp = spacy.blank("es")
    nlp.add_pipe("clinical_entity_linker")
    doc = nlp.make_doc("TAC")
    doc.ents = [Span(doc, 0, 1, label="PROCEDIMIENTO")]
    with pytest.raises(LinkingError, match="initialize"):
        nlp.get_pipe("clinical_entity_linker")(doc)
    with pytest.raises(LinkingError, match="kb_path"):
        nlp.initialize()
    nlp.config["initialize"]["components"]["clinical_entity_linker"] = {"kb_path": str(tmp_path / "kb.tsv")}
    nlp.initialize()
    assert nlp.get_pipe("clinical_entity_linker")(doc).ents[0].kb_id_ == "77477000"


def test_to_disk_from_disk_round_trip_identical(kb: KnowledgeBase, tmp_path: Path) -> None:
    nlp = _nlp(kb, encoder={"@misc": "spacy_clinical_es.TfidfEncoder.v1", "ngram_min": 2, "ngram_max": 5})
    expected = _links(nlp(TEXT))
    nlp.to_disk(tmp_path / "model")
    assert {p.name for p in (tmp_path / "model" / "clinical_entity_linker").iterdir()} == {
        "kb.jsonl", "encoder.json", "index.npz",
    }
    loaded = spacy.load(tmp_path / "model")
    linker = loaded.get_pipe("clinical_entity_linker")
    assert isinstance(linker, ClinicalEntityLinker)
    assert isinstance(linker.encoder, TfidfCharEncoder) and linker.encoder.ngram_range == (2, 5)
    assert linker.kb == kb
    assert _links(loaded(TEXT)) == expected
    # bytes round trip too
    other = _nlp(KnowledgeBase.from_jsonl_string('{"code": "1", "preferred_term": "otro"}\n'))
    other.get_pipe("clinical_entity_linker").from_bytes(nlp.get_pipe("clinical_entity_linker").to_bytes())
    assert _links(other(TEXT)) == expected


def test_uninitialized_component_saves_and_loads_nothing(tmp_path: Path) -> None:
    nlp = spacy.blank("es")
    nlp.add_pipe("clinical_entity_linker")
    nlp.to_disk(tmp_path / "empty")
    loaded = spacy.load(tmp_path / "empty")
    assert loaded.get_pipe("clinical_entity_linker").generator is None


def test_pipe_n_process_2(kb: KnowledgeBase) -> None:
    nlp = _nlp(kb)
    texts = [TEXT, "Sin hallazgos.", "Se pidió RM tras TAC."] * 2
    serial = [_links(d) for d in nlp.pipe(texts)]
    parallel = [_links(d) for d in nlp.pipe(texts, n_process=2, batch_size=2)]
    assert [[(t, k, [tuple(c) for c in cs], tuple(s)) for t, k, cs, s in d] for d in parallel] == serial
    assert serial[0][0][1] == "77477000"
