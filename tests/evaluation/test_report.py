"""JSON, Markdown and PNG outputs of evaluation results."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from spacy_clinical_es.evaluation.metrics import (
    deid_char_scores,
    deid_token_scores,
    domain_gap,
    fragment_match_prf,
    iob2_token_prf,
    strict_span_prf,
)
from spacy_clinical_es.evaluation.report import (
    markdown_report,
    markdown_table,
    plot_per_class_f1,
    round_floats,
    to_json,
    write_json,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_scores() -> dict:
    """A score_docs-shaped result built from the metrics with hand-checked numbers."""
    gold = [(0, 0, 10, "PER"), (0, 19, 25, "LOC"), (0, 30, 33, "PER")]
    pred = [(0, 0, 4, "PER"), (0, 19, 25, "LOC")]
    tokens = {0: [(0, 4), (5, 10), (11, 15), (16, 18), (19, 25), (26, 29), (30, 33)]}
    return {
        "n_docs": 1,
        "n_docs_skipped": 0,
        # PER: tp 0, fp 1, fn 2; LOC: tp 1 -> micro P 1/2, R 1/3, F 0.4
        "strict": strict_span_prf(gold, pred),
        # PER: B-PER I-PER ... B-PER vs B-PER O ... O -> tp 1, fn 2: R 1/3, F 1/2
        "iob2": iob2_token_prf(
            [["B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-PER"]],
            [["B-PER", "O", "O", "O", "B-LOC", "O", "O"]],
        ),
        "deid_token": deid_token_scores(tokens, gold, pred),
        "deid_char": deid_char_scores(gold, pred),
        "exact": fragment_match_prf(
            [(d, label, {(s, e)}) for d, s, e, label in gold],
            [(d, label, {(s, e)}) for d, s, e, label in pred],
        ),
    }


def test_round_floats_nested():
    assert round_floats({"a": [1 / 3, {"b": 2 / 3}], "c": 1, "d": "x"}) == {
        "a": [0.3333, {"b": 0.6667}],
        "c": 1,
        "d": "x",
    }


def test_write_json_is_sorted_and_rounded(tmp_path):
    path = write_json(
        {"z": 2 / 3, "a": {"y": 1 / 7, "b": None}}, tmp_path / "sub" / "m.json"
    )
    text = path.read_text(encoding="utf8")
    assert text.endswith("\n")
    assert list(json.loads(text)) == ["a", "z"]
    assert json.loads(text) == {"a": {"b": None, "y": 0.1429}, "z": 0.6667}
    # Stable: the same scores give byte-identical files.
    assert to_json({"a": {"b": None, "y": 1 / 7}, "z": 2 / 3}) == text


def test_markdown_table_rows():
    table = markdown_table(make_scores())
    lines = table.splitlines()
    assert lines[0].startswith("| Label | Gold spans | Strict P |")
    # LOC: 1 gold span, P R F 1; 1 gold token, P R F 1
    assert (
        "| LOC | 1 | 1.0000 | 1.0000 | 1.0000 | 1 | 1.0000 | 1.0000 | 1.0000 |" in lines
    )
    # PER strict: tp 0 fp 1 fn 2; IOB2: tp 1 fp 0 fn 2 -> P 1, R 1/3, F 1/2
    assert (
        "| PER | 2 | 0.0000 | 0.0000 | 0.0000 | 3 | 1.0000 | 0.3333 | 0.5000 |" in lines
    )
    # micro strict P 1/2, R 1/3, F 0.4; IOB2 tp 2 fn 2 -> P 1, R 1/2, F 2/3
    assert lines[-1] == (
        "| **micro** | 3 | 0.5000 | 0.3333 | 0.4000 | 4 | 1.0000 | 0.5000 | 0.6667 |"
    )


def test_markdown_report_single_and_comparison():
    scores = make_scores()
    single = markdown_report(scores)
    # de-id: gold tokens {0, 1, 4, 6}, pred {0, 4}: 2 of 4 leak
    assert "- PHI tokens (labels ignored): " in single  # PER and LOC are kinds of PHI
    assert "leak rate 0.5000 (2 of 4 gold tokens)" in single
    assert "## Gap" not in single
    other = make_scores()
    other["strict"] = strict_span_prf([(0, 0, 4, "PER")], [(0, 0, 4, "PER")])
    comparison = {
        "in_domain": scores,
        "out_of_domain": other,
        "gap": {
            "strict": domain_gap(scores["strict"], other["strict"]),
            "iob2": domain_gap(scores["iob2"], other["iob2"]),
        },
    }
    report = markdown_report(comparison)
    assert "## In domain" in report and "## Out of domain" in report
    # strict PER P/R/F: 0 in domain, 1 out of domain -> Δ -1; IOB2 identical -> +0
    assert (
        "| PER | -1.0000 | -1.0000 | -1.0000 | +0.0000 | +0.0000 | +0.0000 |" in report
    )
    assert "labels only in domain: LOC" in report


def test_entities_that_are_not_phi_get_no_leak_rate():
    scores = make_scores()
    scores["strict"] = strict_span_prf([(0, 0, 10, "ENFERMEDAD"), (0, 19, 25, "EDAD")], [(0, 19, 25, "EDAD")])
    summary = markdown_report(scores)
    assert "- Entity tokens (labels ignored): " in summary and "missed 0.5000 (2 of 4 gold tokens)" in summary
    assert "- Entity characters: " in summary and "PHI" not in summary and "leak" not in summary


def test_plot_per_class_f1_writes_png(tmp_path):
    path = tmp_path / "plots" / "f1.png"
    assert plot_per_class_f1(make_scores(), path, title="test") is True
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_without_labels_still_writes_png(tmp_path):
    scores = make_scores()
    scores["strict"] = strict_span_prf([], [])
    scores["iob2"] = iob2_token_prf([], [])
    assert plot_per_class_f1(scores, tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes()[:8] == PNG_MAGIC


def test_missing_matplotlib_skips_png_with_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    path = tmp_path / "f1.png"
    with caplog.at_level(logging.WARNING, logger="spacy_clinical_es.evaluation.report"):
        written = write_report(
            make_scores(), json_path=tmp_path / "m.json", png_path=path
        )
    assert not path.exists()
    assert set(written) == {"json"}
    assert "matplotlib is not installed" in caplog.text


def test_write_report_writes_every_requested_file(tmp_path):
    written = write_report(
        make_scores(),
        json_path=tmp_path / "m.json",
        markdown_path=tmp_path / "m.md",
        png_path=tmp_path / "m.png",
    )
    assert set(written) == {"json", "markdown", "png"}
    assert json.loads((tmp_path / "m.json").read_text())["strict"][
        "f"
    ] == pytest.approx(0.4)
    assert "| **micro** |" in (tmp_path / "m.md").read_text()
    assert (tmp_path / "m.png").read_bytes()[:8] == PNG_MAGIC
