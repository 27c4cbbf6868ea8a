from __future__ import annotations

import json

from spacy_clinical_es.corpora.report import ConversionReport


def test_counts_summary_and_dict() -> None:
    report = ConversionReport(max_locations=2)
    report.add_converted("a", "documents", 3)
    report.add_converted("a")
    report.add_skipped("a", "text_mismatch", path="x.tsv", line=4, annotation_id="T1", detail="expected 3 characters")
    report.add_skipped("b", "unknown_document", path="y.tsv", line=7)
    report.add_adjusted("a", "trimmed_to_reference", path="x.tsv", line=9)
    assert report.count("a", "documents") == 3 and report.count("a", "annotations") == 1
    assert report.n_skipped == 2 and report.n_adjusted == 1
    assert len(report.locations) == 2 and report.locations_left_out == 1
    summary = report.summary()
    assert "a:" in summary and "skipped: text_mismatch 1" in summary
    assert "x.tsv, line 4, annotation T1 (expected 3 characters)" in summary and "1 more" in summary
    data = report.to_dict()
    json.dumps(data)
    assert data["corpora"]["a"]["converted"] == {"annotations": 1, "documents": 3}
    assert data["corpora"]["b"]["skipped"] == {"unknown_document": 1}
    merged = ConversionReport().merge(report).merge(report)
    assert merged.skipped[("a", "text_mismatch")] == 2
    assert ConversionReport().summary() == "Nothing converted."
