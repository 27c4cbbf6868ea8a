from __future__ import annotations

import itertools

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span

from spacy_clinical_es.corpora.annotations import Annotation, Document, Relation
from spacy_clinical_es.corpora.brat import format_ann, iter_brat_dir, parse_ann
from spacy_clinical_es.corpora.readers import iter_corpus
from spacy_clinical_es.corpora.report import ConversionReport
from spacy_clinical_es.corpora.representation import (
    USER_DATA_KEY,
    choose_ents,
    doc_to_document,
    document_to_doc,
    register_extensions,
    spans_to_annotations,
)
from spacy_clinical_es.errors import CorpusFormatError

TEXT = "Dolor abdominal agudo y tomografía axial computarizada (TAC) abdominal normal."
#       0         1         2         3         4         5         6         7
#       0123456789012345678901234567890123456789012345678901234567890123456789012345678


@pytest.fixture(scope="module")
def nlp() -> spacy.Language:
    return spacy.blank("es")


def _document() -> Document:
    return Document(
        id="S1",
        text=TEXT,
        corpus="test",
        path="/data/S1.txt",
        meta={"codes.SNOMEDCT": "1+2"},
        annotations=[
            Annotation("T1", "SINTOMA", [(0, 21)], "Dolor abdominal agudo", codes={"SNOMEDCT": "21522001"}),
            Annotation("T2", "SINTOMA", [(0, 5), (16, 21)], "Dolor agudo", attributes={"IMAGEN": "true"}),
            Annotation(
                "T3",
                "PROC",
                [(24, 70)],
                "tomografía axial computarizada (TAC) abdominal",
                codes={"SNOMEDCT": "169070004", "ICD10": "X"},
                notes=["  TAC: tomografía axial computarizada"],
            ),
            Annotation("T4", "PROC", [(56, 59)], "TAC"),  # nested in T3
            Annotation("T5", "ANAT", [(6, 15)], "abdominal"),  # nested in T1
        ],
        relations=[Relation("R1", "Scope", "T3", "T4"), Relation("R2", "Part", "T5", "T1", roles=("Of", "Whole"))],
    )


def _through_docbin(doc: Doc, nlp: spacy.Language) -> Doc:
    docbin = DocBin(store_user_data=True)
    docbin.add(doc)
    return next(DocBin().from_bytes(docbin.to_bytes()).get_docs(nlp.vocab))


def test_doc_layout(nlp) -> None:
    doc = document_to_doc(_document(), nlp)
    assert doc.text == TEXT
    group = doc.spans["test"]
    assert [(s.id_, s.label_, s.start_char, s.end_char, s.kb_id_) for s in group] == [
        ("T1", "SINTOMA", 0, 21, "21522001"),
        ("T2", "SINTOMA", 0, 5, ""),
        ("T2", "SINTOMA", 16, 21, ""),
        ("T3", "PROC", 24, 70, "169070004"),
        ("T4", "PROC", 56, 59, ""),
        ("T5", "ANAT", 6, 15, ""),
    ]
    assert group[3]._.codes == {"SNOMEDCT": "169070004", "ICD10": "X"}
    assert group[3]._.notes == ["  TAC: tomografía axial computarizada"]
    assert group[1]._.attributes == {"IMAGEN": "true"} and group[2]._.attributes == {"IMAGEN": "true"}
    assert Span(doc, 0, 1)._.codes == {}  # no record
    record = doc.user_data[USER_DATA_KEY]["annotations"]["T2"]
    assert record["fragments"] == [[0, 5], [16, 21]] and "text" not in record
    assert document_to_doc(_document(), nlp, span_key="sc").spans.keys() == {"sc"}


def test_docbin_round_trip_is_lossless_down_to_brat(nlp) -> None:
    original = _document()
    back_doc = _through_docbin(document_to_doc(original, nlp), nlp)
    assert back_doc.spans["test"][3]._.codes == {"SNOMEDCT": "169070004", "ICD10": "X"}
    restored = doc_to_document(back_doc)
    assert restored == original
    assert isinstance(restored.annotations[1].fragments[0], tuple)
    assert parse_ann(format_ann(restored), restored.text) == parse_ann(format_ann(original), original.text)


def test_round_trip_keeps_exact_offsets_of_misaligned_spans(nlp) -> None:
    text = "Hemogramanormal y TACabdominal."
    anns = [Annotation("T1", "P", [(9, 15)], "normal"), Annotation("T2", "P", [(18, 21)], "TAC")]
    document = Document("S2", text, anns)
    report = ConversionReport()
    doc = document_to_doc(document, nlp, report=report)
    # "Hemogramanormal" and "TACabdominal" are single tokens: the spans cover them.
    assert [(s.start_char, s.end_char) for s in doc.spans["sc"]] == [(0, 15), (18, 30)]
    assert report.adjusted[("sc", "misaligned_expanded")] == 2
    assert report.skipped[("sc", "ents_misaligned")] == 2
    assert len(doc.ents) == 0
    assert doc_to_document(_through_docbin(doc, nlp)).annotations == document.annotations


def test_whitespace_only_fragment_is_counted(nlp) -> None:
    # The space of "uno dos" belongs to no token: no span, but the record keeps it.
    document = Document("S3", "uno dos", [Annotation("T1", "X", [(3, 4)], " ")], corpus="c")
    report = ConversionReport()
    doc = document_to_doc(document, nlp, report=report)
    assert len(doc.spans["c"]) == 0 and len(doc.ents) == 0
    assert report.skipped[("c", "unalignable_fragment")] == 1
    assert report.skipped[("c", "ents_misaligned")] == 1
    assert doc_to_document(_through_docbin(doc, nlp)).annotations == document.annotations


def test_ents_rule(nlp) -> None:
    report = ConversionReport()
    doc = document_to_doc(_document(), nlp, report=report)
    # T1 (21 chars) beats nested T5 (9); T3 (45) beats nested T4 (3); T2 is discontinuous.
    assert [(e.start_char, e.end_char, e.label_, e.ent_id_) for e in doc.ents] == [
        (0, 21, "SINTOMA", "T1"),
        (24, 70, "PROC", "T3"),
    ]
    assert report.skipped[("test", "ents_discontinuous")] == 1
    assert report.skipped[("test", "ents_overlap")] == 2
    assert report.count("test", "ents") == 2
    assert doc[len(doc) - 1].ent_iob_ == "O"  # outside, not missing
    assert document_to_doc(_document(), nlp, set_ents=False).ents == ()


def test_choose_ents_tie_breaks() -> None:
    # Longest wins.
    assert choose_ents([(0, 5, "B"), (3, 10, "A")]) == [1]
    # Same length: earliest start.
    assert choose_ents([(4, 8, "A"), (2, 6, "B")]) == [1]
    # Same span: alphabetical label, then the earlier annotation.
    assert choose_ents([(0, 4, "ZETA"), (0, 4, "ALFA")]) == [1]
    assert choose_ents([(0, 4, "A"), (0, 4, "A")]) == [0]
    # Disjoint ones are all kept, in text order.
    assert choose_ents([(10, 12, "A"), (0, 4, "A"), (4, 10, "B")]) == [1, 2, 0]


def test_choose_ents_never_overlaps() -> None:
    spans = [(s, e, lab) for s, e in itertools.combinations(range(0, 12, 2), 2) for lab in "AB"]
    chosen = choose_ents(spans)
    for i, j in itertools.combinations(chosen, 2):
        assert spans[i][1] <= spans[j][0] or spans[j][1] <= spans[i][0]
    assert spans[chosen[0]] == (0, 10, "A")


def test_predicted_spans_become_annotations(nlp) -> None:
    doc = nlp.make_doc(TEXT)
    doc.spans["sc"] = [
        Span(doc, 4, 5, label="PROC", span_id="p1"),
        Span(doc, 0, 1, label="SINTOMA", span_id="x"),
        Span(doc, 2, 3, label="SINTOMA", span_id="x", kb_id="21522001"),
        Span(doc, 1, 2, label="ANAT"),
    ]
    anns = spans_to_annotations(doc.spans["sc"], source="pred")
    assert [(a.id, a.label, a.fragments, a.text, a.codes) for a in anns] == [
        ("x", "SINTOMA", [(0, 5), (16, 21)], "Dolor agudo", {"KB": "21522001"}),
        ("T1", "ANAT", [(6, 15)], "abdominal", {}),
        ("p1", "PROC", [(24, 34)], "tomografía", {}),
    ]
    assert doc_to_document(doc, "sc").annotations == spans_to_annotations(doc.spans["sc"])


def test_added_predictions_are_kept_beside_records(nlp) -> None:
    doc = document_to_doc(_document(), nlp, span_key="gold")
    group = doc.spans["gold"]
    group.append(Span(doc, 2, 3, label="SINTOMA"))
    restored = doc_to_document(doc)
    assert [a.id for a in restored.annotations] == ["T1", "T2", "T3", "T4", "T5", "T6"]
    assert restored.annotations[-1].fragments == [(16, 21)]


def test_register_extensions_is_idempotent() -> None:
    register_extensions()
    register_extensions()
    assert Span.has_extension("codes") and Span.has_extension("notes") and Span.has_extension("attributes")


def test_duplicate_ids_are_rejected(nlp) -> None:
    document = Document("S", TEXT, [Annotation("T1", "X", [(0, 5)], "Dolor"), Annotation("T1", "X", [(6, 15)], "x")])
    with pytest.raises(CorpusFormatError, match="annotation T1"):
        document_to_doc(document, nlp)


def test_nubes_relations_round_trip_through_docbin(corpus_path, nlp) -> None:
    folder = corpus_path("nubes") / "NUBes" / "SAMPLE-003"
    documents = list(itertools.islice(iter_brat_dir(folder, corpus="nubes"), 10))
    report = ConversionReport()
    docbin = DocBin(store_user_data=True)
    for document in documents:
        docbin.add(document_to_doc(document, nlp, report=report))
    restored = [doc_to_document(d) for d in DocBin().from_bytes(docbin.to_bytes()).get_docs(nlp.vocab)]
    assert restored == documents
    n_relations = sum(len(d.relations) for d in documents)
    assert n_relations > 0 and report.count("nubes", "relations") == n_relations


@pytest.mark.parametrize(("name", "split"), [("codiesp", "dev"), ("medprocner", "train"), ("meddocan", "dev")])
def test_real_documents_round_trip(corpus_path, nlp, name: str, split: str) -> None:
    corpus_path(name)
    documents = list(itertools.islice(iter_corpus(name, split), 40))
    report = ConversionReport()
    docbin = DocBin(store_user_data=True)
    for document in documents:
        docbin.add(document_to_doc(document, nlp, report=report))
    restored = [doc_to_document(d) for d in DocBin().from_bytes(docbin.to_bytes()).get_docs(nlp.vocab)]
    assert restored == documents
    assert [format_ann(d) for d in restored] == [format_ann(d) for d in documents]
    n_fragments = sum(len(a.fragments) for d in documents for a in d.annotations)
    assert report.count(name, "spans") + report.skipped[(name, "unalignable_fragment")] == n_fragments
    n_anns = sum(len(d.annotations) for d in documents)
    left_out = sum(v for (c, reason), v in report.skipped.items() if c == name and reason.startswith("ents_"))
    assert report.count(name, "ents") + left_out == n_anns


def test_text_differing_from_slices_is_kept(nlp) -> None:
    # E.g. a TSV reference text kept by a caller: stored only when it differs from the slices.
    document = Document("S4", TEXT, [Annotation("T1", "X", [(0, 5), (16, 21)], "Dolor, agudo")], corpus="c")
    doc = document_to_doc(document, nlp)
    assert doc.user_data[USER_DATA_KEY]["annotations"]["T1"]["text"] == "Dolor, agudo"
    assert doc_to_document(_through_docbin(doc, nlp)) == document
