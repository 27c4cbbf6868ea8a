"""CodiEsp text-evidence corpus: duplicate merging, counts against the reader, doc representation, CLI wiring."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from spacy.tokens import DocBin

from spacy_clinical_es.cli.convert import REQUIRED_CORPORA, Target
from spacy_clinical_es.corpora.annotations import Annotation, Document
from spacy_clinical_es.corpora.builders.discontinuous import (
    LABELS,
    SPAN_KEY,
    SPLITS,
    build_discontinuous,
    deduplicate,
)
from spacy_clinical_es.corpora.readers import iter_corpus
from spacy_clinical_es.corpora.report import ConversionReport
from spacy_clinical_es.corpora.representation import doc_to_document
from spacy_clinical_es.tokenizer import make_clinical_nlp


def _ann(ann_id: str, label: str, fragments, code: str) -> Annotation:
    system = "ICD10-CM" if label == "DIAGNOSTICO" else "ICD10-PCS"
    return Annotation(ann_id, label, list(fragments), "", codes={system: code})


def test_deduplicate_merges_rows_with_the_same_fragments() -> None:
    document = Document(
        "d1",
        "masa en riñón izquierdo",
        [
            _ann("T1", "DIAGNOSTICO", [(0, 4), (8, 13)], "n28.89"),
            _ann("T2", "DIAGNOSTICO", [(8, 13), (0, 4)], "r19.00"),  # same set, other order and code
            _ann("T3", "DIAGNOSTICO", [(0, 4), (8, 13)], "n28.89"),  # exact duplicate
            _ann("T4", "PROCEDIMIENTO", [(0, 4), (8, 13)], "0t91"),  # other label: kept
        ],
        corpus="codiesp",
        path="x/d1.txt",
    )
    report = ConversionReport()
    out = deduplicate(document, report)
    assert [a.id for a in out.annotations] == ["T1", "T4"]
    assert out.annotations[0].notes == ["ICD10-CM:r19.00"]
    assert report.adjusted[("discontinuous", "duplicate_reference_merged")] == 2
    assert document.annotations[0].notes == []  # input untouched
    assert out.corpus == "discontinuous"


def test_convert_cli_knows_the_target() -> None:
    assert Target("discontinuous") is Target.discontinuous
    assert REQUIRED_CORPORA[Target.discontinuous] == ("codiesp",)


@pytest.fixture(scope="module")
def built(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("discontinuous")
    report = ConversionReport()
    stats = build_discontinuous(out, data_dir, report=report)
    return out, stats, report, data_dir


def test_counts_match_the_reader(built) -> None:
    out, stats, report, data_dir = built
    assert json.loads((out / "stats.json").read_text(encoding="utf-8"))["splits"] == stats["splits"]
    rows_total = 0
    merged_total = 0
    for split in SPLITS:
        docs = list(iter_corpus("codiesp", split, data_dir=data_dir))
        unique = {(d.id, a.key()) for d in docs for a in d.annotations}
        rows = sum(len(d.annotations) for d in docs)
        disc = Counter(label for _, (label, frags) in unique if len(frags) > 1)
        s = stats["splits"][split]
        assert s["documents"] == len(docs)
        assert s["evidence_rows"] == rows
        assert s["annotations"] == len(unique)
        assert s["discontinuous"] == sum(disc.values()) > 0
        assert s["discontinuous_by_label"] == {label: disc[label] for label in LABELS}
        assert sum(s["annotations_by_fragment_count"].values()) == len(unique)
        rows_total += rows
        merged_total += rows - len(unique)
    # Every row is an annotation or a counted merge; nothing disappears silently.
    assert report.adjusted[("discontinuous", "duplicate_reference_merged")] == merged_total
    assert report.count("codiesp", "evidence_rows") == rows_total
    assert stats["splits"]["train"]["discontinuous"] > 1000


def test_docbins_hold_every_fragment_grouped_by_id(built) -> None:
    out, stats, _, _ = built
    nlp = make_clinical_nlp()
    docs = list(DocBin().from_disk(out / "dev.spacy").get_docs(nlp.vocab))
    assert len(docs) == stats["splits"]["dev"]["documents"]
    n_disc = 0
    for doc in docs:
        document = doc_to_document(doc)
        groups: dict[str, list] = {}
        for span in doc.spans[SPAN_KEY]:
            groups.setdefault(span.id_, []).append(span)
        by_id = {a.id: a for a in document.annotations}
        assert set(groups) <= set(by_id)
        for ann_id, spans in groups.items():
            ann = by_id[ann_id]
            assert len(spans) == len(ann.fragments)
            assert {s.label_ for s in spans} == {ann.label}
            for span, (start, end) in zip(sorted(spans, key=lambda s: s.start), sorted(ann.fragments)):
                # The span covers the fragment's characters (a fragment may start or end on a
                # space that no token holds).
                piece = doc.text[start:end]
                start += len(piece) - len(piece.lstrip())
                end -= len(piece) - len(piece.rstrip())
                assert span.start_char <= start < end <= span.end_char
        n_disc += sum(1 for a in document.annotations if a.is_discontinuous)
        # doc.ents: only continuous annotations, never a discontinuous one.
        continuous = {(a.start, a.end, a.label) for a in document.annotations if not a.is_discontinuous}
        assert {(e.start_char, e.end_char, e.label_) for e in doc.ents} <= continuous
    assert n_disc == stats["splits"]["dev"]["discontinuous"]
