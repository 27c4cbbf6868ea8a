from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from spacy_clinical_es.corpora.annotations import doc_codes
from spacy_clinical_es.corpora.readers import CORPUS_SPLITS, iter_corpus, list_corpora
from spacy_clinical_es.corpora.report import ConversionReport

# Expected documents = published count (SOURCE.md) minus the withheld MEDDOCAN-test
# documents of that split (OVERLAP.md row "MEDDOCAN test*"); MEDDOCAN train/dev and
# CANTEMIST train/dev1/dev2 are complete, so their mention counts are SOURCE.md's.
EXPECTED_DOCS = {
    ("meddocan", "train"): 500,
    ("meddocan", "dev"): 250,
    ("medprocner", "train"): 750 - 191,
    ("medprocner", "test"): 250 - 59,
    ("distemist", "train"): 750 - 191,
    ("symptemist", "train"): 750 - 191,
    ("symptemist", "test"): 250 - 59,
    ("codiesp", "train"): 500 - 128,
    ("codiesp", "dev"): 250 - 57,
    ("codiesp", "test"): 250 - 65,
    ("cantemist", "train"): 501,
    ("cantemist", "dev1"): 250,
    ("cantemist", "dev2"): 250,
}
COMPLETE_MENTIONS = {
    ("meddocan", "train"): 11333,
    ("meddocan", "dev"): 5801,
    ("cantemist", "train"): 6396,
    ("cantemist", "dev1"): 3341,
    ("cantemist", "dev2"): 2660,
}


def test_list_corpora() -> None:
    corpora = list_corpora()
    assert set(corpora) == {"meddocan", "medprocner", "distemist", "symptemist", "codiesp", "cantemist"}
    assert {(name, split) for name, splits in corpora.items() for split in splits} == set(EXPECTED_DOCS)
    corpora["meddocan"].append("x")  # a copy: the registry is not changed
    assert "x" not in CORPUS_SPLITS["meddocan"]


@pytest.mark.parametrize(("name", "split"), sorted(EXPECTED_DOCS))
def test_iter_corpus_documents(corpus_path, name: str, split: str) -> None:
    corpus_path(name)
    report = ConversionReport()
    docs = list(iter_corpus(name, split, report=report))
    assert len(docs) == EXPECTED_DOCS[(name, split)] == report.count(name, "documents")
    assert [d.path for d in docs] == sorted(d.path for d in docs)
    assert len({d.id for d in docs}) == len(docs)
    assert all(d.corpus == name and not d.id.startswith("es-") and "." not in d.id for d in docs)
    anns = [a for d in docs for a in d.annotations]
    assert all(a.source == name for a in anns)
    assert report.count(name, "annotations") == len(anns)
    if (name, split) in COMPLETE_MENTIONS:
        assert len(anns) == COMPLETE_MENTIONS[(name, split)]
    for doc in docs:
        for ann in doc.annotations:
            assert ann.text == " ".join(doc.text[s:e] for s, e in ann.fragments)
    assert not report.skipped


def test_medprocner_train_merges_codes(corpus_path) -> None:
    corpus_path("medprocner")
    report = ConversionReport()
    docs = list(iter_corpus("medprocner", "train", report=report))
    anns = [a for d in docs for a in d.annotations]
    linked = [a for a in anns if "sem_rel" in a.attributes]
    assert len(anns) == 8303 and len(linked) == report.count("medprocner", "linking_rows") == 3543
    assert sum("SNOMEDCT" in a.codes for a in anns) == 3543 - 32  # 32 NO_CODE rows
    assert all(a.id.startswith("T") for a in anns)  # codes land on the BRAT mentions, ids kept
    with_codes = [d for d in docs if doc_codes(d, "SNOMEDCT")]
    assert len(with_codes) == 183
    assert {d.id for d in with_codes} == {d.id for d in docs if any("sem_rel" in a.attributes for a in d.annotations)}


def test_distemist_train_merges_codes(corpus_path) -> None:
    corpus_path("distemist")
    docs = list(iter_corpus("distemist", "train"))
    anns = [a for d in docs for a in d.annotations]
    assert len(anns) == 6059
    codes = Counter(system for a in anns for system in a.codes)
    assert codes == {"SNOMEDCT": 3743, "MESH": 2204, "OMIM": 1726, "HPO": 1553, "ICD10": 1146}
    assert all(next(iter(a.codes)) == "SNOMEDCT" for a in anns if a.codes)


def test_symptemist_attributes(corpus_path) -> None:
    root = corpus_path("symptemist")
    docs = list(iter_corpus("symptemist", "train"))
    attrs = Counter((name, value) for d in docs for a in d.annotations for name, value in a.attributes.items())
    raw = sum(
        line.startswith("A")
        for ann in (root / "symptemist_train" / "subtask1-ner" / "brat").glob("*.ann")
        for line in ann.read_text(encoding="utf-8").split("\n")
    )
    assert sum(attrs.values()) == raw == 2419
    assert {name for name, _ in attrs} == {"RESULTADO", "IMAGEN", "EXITUS"}
    assert {value for _, value in attrs} == {"true"}


def test_cantemist_notes_become_codes(corpus_path) -> None:
    corpus_path("cantemist")
    report = ConversionReport()
    docs = list(iter_corpus("cantemist", "dev1", report=report))
    anns = [a for d in docs for a in d.annotations]
    assert all(set(a.codes) == {"CIE-O-3.1"} and not a.notes for a in anns)
    assert all(a.codes["CIE-O-3.1"][:4].isdigit() and "/" in a.codes["CIE-O-3.1"] for a in anns)
    assert sum(len(doc_codes(d, "CIE-O-3.1")) for d in docs) == 1385
    assert not report.adjusted


def test_codiesp_doc_codes(corpus_path) -> None:
    root = corpus_path("codiesp")
    docs = list(iter_corpus("codiesp", "dev"))
    d_rows = len((Path(root) / "dev" / "devD.tsv").read_text(encoding="utf-8").strip().split("\n"))
    assert sum(len(doc_codes(d, "ICD10-CM")) for d in docs) == d_rows
    assert sum(a.is_discontinuous for d in docs for a in d.annotations) == 768


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="Unknown corpus"):
        list(iter_corpus("nope", "train"))
    with pytest.raises(ValueError, match="Unknown split"):
        list(iter_corpus("cantemist", "test"))
