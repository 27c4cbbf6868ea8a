"""MEDDOCAN → DocBin (fine + coarse) + IOB2, on the real data directory; CoNLL writer."""
from __future__ import annotations

from collections import Counter

import pytest
from spacy.tokens import Doc, DocBin

from spacy_clinical_es.cli.convert import Target, run_convert
from spacy_clinical_es.corpora.annotations import Annotation, Document
from spacy_clinical_es.corpora.builders.conll import (
    doc_to_conll_lines,
    read_conll,
    write_conll,
)
from spacy_clinical_es.corpora.builders.deid import (
    COARSE_CORPUS,
    COARSE_LABELS,
    COARSE_MAPPING,
    NO_COARSE_LABEL,
    SPAN_KEY,
    build_deid,
    coarsen_document,
)
from spacy_clinical_es.corpora.readers import iter_corpus
from spacy_clinical_es.corpora.report import ConversionReport
from spacy_clinical_es.errors import DataDirError
from spacy_clinical_es.tokenizer import make_clinical_nlp

MEDDOCAN_LABELS = {
    "TERRITORIO", "FECHAS", "EDAD_SUJETO_ASISTENCIA", "NOMBRE_SUJETO_ASISTENCIA",
    "NOMBRE_PERSONAL_SANITARIO", "SEXO_SUJETO_ASISTENCIA", "CALLE", "PAIS", "ID_SUJETO_ASISTENCIA",
    "ID_TITULACION_PERSONAL_SANITARIO", "CORREO_ELECTRONICO", "ID_ASEGURAMIENTO", "HOSPITAL",
    "FAMILIARES_SUJETO_ASISTENCIA", "INSTITUCION", "ID_CONTACTO_ASISTENCIAL", "NUMERO_TELEFONO",
    "PROFESION", "NUMERO_FAX", "OTROS_SUJETO_ASISTENCIA", "CENTRO_SALUD", "ID_EMPLEO_PERSONAL_SANITARIO",
}  # fmt: skip



@pytest.fixture(scope="module")
def nlp():
    return make_clinical_nlp()


@pytest.fixture(scope="module")
def built(tmp_path_factory, nlp, data_dir):
    out = tmp_path_factory.mktemp("deid")
    report = ConversionReport()
    stats = build_deid(out, data_dir, splits=("dev",), nlp=nlp, report=report)
    return out, stats, report, data_dir


def test_mapping_table_is_complete() -> None:
    assert MEDDOCAN_LABELS <= set(COARSE_LABELS)
    for fine, (coarse, why) in COARSE_MAPPING.items():
        assert coarse.isupper() and why, fine
    assert set(COARSE_LABELS.values()) == {
        "NAME", "DIR", "LOC", "NUM", "FECHA", "INST", "EDAD", "SEXO", "CONTACTO", "PROFESION", "OTROS",
    }  # fmt: skip


def test_coarsen_counts_unknown_labels() -> None:
    doc = Document(
        "d1",
        "Juan vive en Madrid",
        [
            Annotation("T1", "NOMBRE_SUJETO_ASISTENCIA", [(0, 4)], "Juan"),
            Annotation("T2", "NO_SUCH_LABEL", [(13, 19)], "Madrid"),
        ],
        corpus="meddocan",
    )
    report = ConversionReport()
    coarse = coarsen_document(doc, report)
    assert [a.label for a in coarse.annotations] == ["NAME"]
    assert coarse.annotations[0].attributes["fine_label"] == "NOMBRE_SUJETO_ASISTENCIA"
    assert coarse.corpus == COARSE_CORPUS
    assert report.skipped[(COARSE_CORPUS, NO_COARSE_LABEL)] == 1
    assert doc.annotations[1].label == "NO_SUCH_LABEL"  # the input is not changed


def test_files_and_counts(built, nlp) -> None:
    out, stats, report, data_dir = built
    for name in ("dev.spacy", "dev_coarse.spacy", "dev.conll", "dev_coarse.conll", "stats.json", "report.json"):
        assert (out / name).is_file(), name
    gold = list(iter_corpus("meddocan", "dev", data_dir=data_dir))
    read = Counter(a.label for d in gold for a in d.annotations)
    assert sum(read.values()) == report.count("meddocan", "annotations") == 5801
    fine = stats["splits"]["dev"]["fine"]
    coarse = stats["splits"]["dev"]["coarse"]
    assert fine["documents"] == coarse["documents"] == len(gold) == 250
    assert fine["annotations_read"] == coarse["annotations_read"] == sum(read.values())
    for scheme, corpus in ((fine, "meddocan"), (coarse, COARSE_CORPUS)):
        # Nothing lost without being counted: span group + unalignable == read,
        # doc.ents + every ents_* skip == read.
        lost = report.skipped.get((corpus, "unalignable_fragment"), 0)
        assert scheme["annotations_in_span_group"] + lost == scheme["annotations_read"]
        ents_skipped = sum(
            n for (c, reason), n in report.skipped.items() if c == corpus and reason.startswith("ents_")
        )
        assert scheme["entities"] + ents_skipped == scheme["annotations_read"]
        assert report.count(corpus, "ents") == scheme["entities"]
    for label, n in read.items():
        assert fine["labels"][label]["read"] == n
    assert coarse["labels"]["NAME"]["read"] == read["NOMBRE_SUJETO_ASISTENCIA"] + read["NOMBRE_PERSONAL_SANITARIO"]


def test_docbins(built, nlp) -> None:
    out, stats, _report, data_dir = built
    fine = list(DocBin().from_disk(out / "dev.spacy").get_docs(nlp.vocab))
    coarse = list(DocBin().from_disk(out / "dev_coarse.spacy").get_docs(nlp.vocab))
    assert len(fine) == len(coarse) == 250
    gold = {d.id: d for d in iter_corpus("meddocan", "dev", data_dir=data_dir)}
    n_ents = 0
    for doc_f, doc_c in zip(fine, coarse):
        assert doc_f.text == doc_c.text
        doc_id = doc_f.user_data["spacy_clinical_es"]["document"]["id"]
        assert doc_f.text == gold[doc_id].text
        assert {e.label_ for e in doc_f.ents} <= MEDDOCAN_LABELS
        assert {e.label_ for e in doc_c.ents} <= set(COARSE_LABELS.values())
        assert len(doc_f.spans[SPAN_KEY]) == len(doc_c.spans[SPAN_KEY])
        for span_f, span_c in zip(doc_f.spans[SPAN_KEY], doc_c.spans[SPAN_KEY]):
            assert (span_f.start, span_f.end) == (span_c.start, span_c.end)
            assert COARSE_LABELS[span_f.label_] == span_c.label_
        n_ents += len(doc_f.ents)
    assert n_ents == stats["splits"]["dev"]["fine"]["entities"]


def test_conll_file_matches_docbin(built, nlp) -> None:
    out = built[0]
    docs = list(DocBin().from_disk(out / "dev_coarse.spacy").get_docs(nlp.vocab))
    blocks = read_conll(out / "dev_coarse.conll")
    tags = [tag for block in blocks for _, tag in block]
    assert sum(t.startswith("B-") for t in tags) == sum(len(d.ents) for d in docs)
    assert len(tags) == sum(1 for d in docs for t in d if not t.is_space)
    # IOB2: an I- tag always continues an entity of the same label.
    prev = "O"
    for tag in tags:
        if tag.startswith("I-"):
            assert prev != "O" and prev[2:] == tag[2:]
        prev = tag


def test_conll_lines(nlp) -> None:
    doc = nlp.make_doc("Nombre: Juan Pérez.\nEdad: 37 años. Vive en\nMadrid.")
    doc.ents = [doc.char_span(8, 18, label="NAME"), doc.char_span(26, 33, label="EDAD")]
    lines = list(doc_to_conll_lines(doc))
    assert lines[:6] == ["Nombre\tO", ":\tO", "Juan\tB-NAME", "Pérez\tI-NAME", ".\tO", ""]
    assert "37\tB-EDAD" in lines and "años\tI-EDAD" in lines
    assert lines[-1] == ""
    assert not any(line.startswith(("\n", " ")) for line in lines)


def test_conll_keeps_entity_across_sentence_break(nlp, tmp_path) -> None:
    doc = nlp.make_doc("Vive en Villa Nueva. Sur de Madrid.")
    doc.ents = [doc.char_span(8, 27, label="LOC")]  # crosses the sentence end
    path = tmp_path / "x.conll"
    assert write_conll([doc], path) == (1, len([t for t in doc if not t.is_space]))
    blocks = read_conll(path)
    assert len(blocks) == 1
    assert [tag for _, tag in blocks[0]][2:8] == ["B-LOC", "I-LOC", "I-LOC", "I-LOC", "I-LOC", "O"]


def test_convert_reports_missing_data(tmp_path) -> None:
    with pytest.raises(DataDirError):
        run_convert(Target.deid, tmp_path / "out", tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataDirError, match="meddocan"):
        run_convert(Target.imaging, tmp_path / "out", tmp_path / "empty")
    assert not (tmp_path / "out").exists()


def test_docs_are_docs(built, nlp) -> None:
    out = built[0]
    doc = next(DocBin().from_disk(out / "dev.spacy").get_docs(nlp.vocab))
    assert isinstance(doc, Doc) and doc.has_annotation("ENT_IOB")
