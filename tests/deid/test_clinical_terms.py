"""The shipped clinical term list is what the builder makes from the public corpora."""
from __future__ import annotations

from spacy_clinical_es.deid.clinical_terms import (
    HEAD_PREFIX,
    build_clinical_terms,
    resource_path,
    write_clinical_terms,
)


def test_the_shipped_list_is_rebuilt_exactly(data_dir, tmp_path):
    lines, counts = build_clinical_terms(data_dir)
    assert counts["terms"] > 5000 and counts["eponym_heads"] > 10
    assert counts["documents_skipped_meddocan_dev"] > 0  # the clinical-damage documents are left out
    out = write_clinical_terms(lines, counts, tmp_path / "terms.txt")
    assert out.read_text(encoding="utf-8") == resource_path().read_text(encoding="utf-8")
    assert any(line.startswith(HEAD_PREFIX) for line in lines)


def test_the_cli_route(data_dir, tmp_path):
    from typer.testing import CliRunner

    from spacy_clinical_es.cli import app

    result = CliRunner().invoke(app, ["deid-terms", "--data-dir", str(data_dir), "--out", str(tmp_path / "t.txt")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == resource_path().read_text(encoding="utf-8")
