"""NUBes builder: sentences, cue/scope groups (discontinuous through DiscMarker/DiscScope), reports, licence."""
from __future__ import annotations

import json

import pytest
from spacy.tokens import DocBin

from spacy_clinical_es.cli.convert import REQUIRED_CORPORA, Target
from spacy_clinical_es.context.schema import CUES_KEY, SCOPES_KEY
from spacy_clinical_es.corpora.annotations import Annotation, Document, Relation
from spacy_clinical_es.corpora.brat import iter_brat_dir
from spacy_clinical_es.corpora.builders.nubes import (
    CONCEPTS_KEY,
    ITEMS_KEY,
    LICENCE_NAME,
    SPLIT_SAMPLES,
    build_nubes,
    create_nubes_licence_callback,
    cue_label,
    sentence_docs,
    split_stats,
)
from spacy_clinical_es.corpora.report import ConversionReport
from spacy_clinical_es.tokenizer import make_clinical_nlp

TEXT = "Dolor leve .\nNo fiebre ni tos .\nsin esfuerzo previo aparente\nafebril\n"


def _ann(ann_id: str, label: str, start: int, end: int) -> Annotation:
    return Annotation(ann_id, label, [(start, end)], TEXT[start:end])


def _document() -> Document:
    line2 = TEXT.index("No")
    line3 = TEXT.index("sin")
    line4 = TEXT.index("afebril")
    anns = [
        _ann("T1", "NegSynMarker", line2, line2 + 2),  # No
        _ann("T2", "DISO", line2 + 3, line2 + 9),  # fiebre
        _ann("T3", "CoordItem", line2 + 10, line2 + 12),  # ni
        _ann("T4", "DISO", line2 + 13, line2 + 16),  # tos
        _ann("T5", "UncertLexMarker", line3, line3 + 3),  # sin
        _ann("T6", "OTHER", line3 + 4, line3 + 19),  # esfuerzo previo
        _ann("T7", "UncertLexMarker", line3 + 20, line3 + 28),  # aparente
        _ann("T8", "NegMorMarker", line4, line4 + 1),  # the "a" of afebril: expanded to the token
        _ann("T9", "Weird", 0, 5),
    ]
    rels = [
        Relation("R1", "Scope", "T1", "T2"),
        Relation("R2", "DiscScope", "T1", "T4"),
        Relation("R3", "DiscMarker", "T5", "T7"),
        Relation("R4", "Scope", "T7", "T6"),
        Relation("R5", "Scope", "T2", "T1"),  # wrong direction: concept → cue
        Relation("R6", "Causes", "T1", "T2"),
    ]
    return Document("sample-001.x.y", TEXT, anns, corpus="nubes", path="NUBes/SAMPLE-001/sample-001.x.y.txt", relations=rels)


def test_cue_label() -> None:
    assert cue_label("NegSynMarker") == "NegSyn" and cue_label("UncertLexMarker") == "UncertLex"
    assert cue_label("DISO") is None and cue_label("FooMarker") is None


def test_sentence_docs_carry_cues_scopes_and_count_what_they_cannot() -> None:
    report = ConversionReport()
    docs = sentence_docs(_document(), make_clinical_nlp(), report, sample="SAMPLE-001")
    assert [d.text for d in docs] == ["Dolor leve .", "No fiebre ni tos .", "sin esfuerzo previo aparente", "afebril"]
    negation = docs[1]
    assert [(s.text, s.label_, s.id_) for s in negation.spans[CUES_KEY]] == [("No", "NegSyn", "T1")]
    # discontinuous scope: Scope + DiscScope pieces share the cue's id
    assert [(s.text, s.label_, s.id_) for s in negation.spans[SCOPES_KEY]] == [("fiebre", "DISO", "T1"), ("tos", "DISO", "T1")]
    assert [s.label_ for s in negation.spans[ITEMS_KEY]] == ["CoordItem"]
    assert [s.text for s in negation.spans[CONCEPTS_KEY]] == ["fiebre", "tos"]
    # discontinuous cue: DiscMarker pieces share the id of the leftmost piece; the scope follows it
    uncertain = docs[2]
    assert [(s.text, s.id_) for s in uncertain.spans[CUES_KEY]] == [("sin", "T5"), ("aparente", "T5")]
    assert [(s.text, s.id_) for s in uncertain.spans[SCOPES_KEY]] == [("esfuerzo previo", "T5")]
    assert [(s.text, s.label_) for s in docs[3].spans[CUES_KEY]] == [("afebril", "NegMor")]
    assert docs[1].user_data["spacy_clinical_es"]["document"]["meta"] == {"line": "2", "sample": "SAMPLE-001"}
    assert report.skipped[("nubes", "unknown_label")] == 1
    assert report.skipped[("nubes", "relation_bad_arguments")] == 1
    assert report.skipped[("nubes", "unknown_relation_type")] == 1
    assert report.adjusted[("nubes", "misaligned_expanded")] == 1
    assert report.converted[("nubes", "sentences")] == 4
    stats = split_stats(docs)
    assert stats["cues"]["NegSyn"] == 1 and stats["cues"]["UncertLex"] == 1 and stats["discontinuous_cues"] == 1
    assert stats["discontinuous_scopes"] == 1 and stats["cues_without_scope"] == 1
    assert stats["scope_tokens"] == {"negation": 2, "uncertainty": 2}
    for location in report.locations:  # no annotated text in the report
        assert "fiebre" not in str(location) and "esfuerzo" not in str(location)


def test_annotation_across_lines_is_skipped() -> None:
    document = Document("d", "a b\nc d", [Annotation("T1", "DISO", [(2, 5)], "b\nc")], corpus="nubes", path="d.txt")
    report = ConversionReport()
    docs = sentence_docs(document, make_clinical_nlp(), report)
    assert all(len(d.spans[CONCEPTS_KEY]) == 0 for d in docs)
    assert report.skipped[("nubes", "annotation_across_lines")] == 1


def test_convert_cli_knows_the_target_and_the_split_is_by_sample() -> None:
    assert Target("nubes") is Target.nubes and REQUIRED_CORPORA[Target.nubes] == ("nubes",)
    samples = [s for part in SPLIT_SAMPLES.values() for s in part]
    assert len(samples) == len(set(samples)) == 8 and SPLIT_SAMPLES["test"] == ("SAMPLE-001",)


def test_licence_callback_marks_the_meta() -> None:
    nlp = make_clinical_nlp()
    create_nubes_licence_callback()(nlp)
    assert nlp.meta["license"] == LICENCE_NAME and nlp.meta["sources"][0]["name"] == "NUBes"


def test_real_sample_converts_every_annotation(tmp_path, corpus_path) -> None:
    root = corpus_path("nubes") / "NUBes"
    documents = list(iter_brat_dir(root / "SAMPLE-001", corpus="nubes"))[:12]
    report = ConversionReport()
    nlp = make_clinical_nlp()
    docs = [doc for d in documents for doc in sentence_docs(d, nlp, report)]
    assert report.n_skipped == 0
    assert report.converted[("nubes", "annotations")] == sum(len(d.annotations) for d in documents)
    cues = sum(1 for d in documents for a in d.annotations if cue_label(a.label))
    assert sum(len(doc.spans[CUES_KEY]) for doc in docs) == cues


@pytest.mark.slow
def test_build_writes_docbins_stats_and_licence(tmp_path, data_dir) -> None:
    out = tmp_path / "nubes"
    stats = build_nubes(out, data_dir, split_samples={"test": ("SAMPLE-001",)})
    assert {p.name for p in out.iterdir()} >= {"test.spacy", "stats.json", "stats.md", "report.json", "LICENSE", "NOTICE"}
    assert "ShareAlike" in (out / "NOTICE").read_text(encoding="utf-8")
    docs = list(DocBin().from_disk(out / "test.spacy").get_docs(make_clinical_nlp().vocab))
    assert len(docs) == stats["splits"]["test"]["sentences"] == json.loads((out / "stats.json").read_text())["splits"]["test"]["sentences"]
    assert stats["skipped"] == {}
