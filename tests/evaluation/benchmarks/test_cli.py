"""Every benchmark is reachable from ``python -m spacy_clinical_es benchmark``; the round trip runs end to end."""
from __future__ import annotations

import json
from pathlib import Path

import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_clinical_es.cli import app

BENCHMARKS = {
    "linking",
    "linking-scale",
    "windows",
    "windows-cost",
    "nested",
    "discontinuous",
    "discontinuous-errors",
    "generative",
    "deid",
}


def test_benchmark_group_lists_every_benchmark() -> None:
    result = CliRunner().invoke(app, ["benchmark", "--help"], terminal_width=200)
    assert result.exit_code == 0
    listed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("│ ") and len(line.split()) > 1}
    assert BENCHMARKS <= listed
    for name in BENCHMARKS - {"generative"}:
        assert CliRunner().invoke(app, ["benchmark", name, "--help"]).exit_code == 0
    for mode in ("model", "round-trip"):
        assert CliRunner().invoke(app, ["benchmark", "generative", mode, "--help"]).exit_code == 0


def test_generative_round_trip_from_the_cli(tmp_path: Path) -> None:
    nlp = spacy.blank("es")
    doc = nlp("Varón de 38 años con cáncer de mama.")
    doc.ents = [doc.char_span(0, 5, label="SEXO"), doc.char_span(9, 16, label="EDAD"), doc.char_span(21, 35, label="ENFERMEDAD")]
    DocBin(docs=[doc]).to_disk(tmp_path / "gold.spacy")
    out = tmp_path / "rt.json"
    result = CliRunner().invoke(app, ["benchmark", "generative", "round-trip", "--data", str(tmp_path / "gold.spacy"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    formats = json.loads(out.read_text(encoding="utf-8"))["formats"]
    assert set(formats) == {"list", "tag", "tag_nested", "json", "json_concepts"}
    for counts in formats.values():
        assert counts["rendered"] == counts["exact"] == 3


def test_missing_linking_corpus_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["benchmark", "linking", "--data", str(tmp_path), "--output", str(tmp_path / "x.json")])
    assert result.exit_code == 1
    assert "corpus-linking" in result.output


def test_discontinuous_errors_from_the_cli(tmp_path: Path) -> None:
    """A span ruler that finds one of two discontinuous gold entities: one found, one lost at detection."""
    text = "Dolor a nivel de hipogastrio. Lesiones en pared y cúpula vesicales."
    nlp = spacy.blank("es")
    ruler = nlp.add_pipe("span_ruler", config={"spans_key": "codiesp"})
    ruler.add_patterns(
        [
            {"label": "DIAGNOSTICO", "pattern": "Dolor", "id": "a"},
            {"label": "DIAGNOSTICO", "pattern": "hipogastrio", "id": "a"},
            {"label": "DIAGNOSTICO", "pattern": "Lesiones", "id": "b"},
        ]
    )
    nlp.to_disk(tmp_path / "model")
    gold = spacy.blank("es")(text)

    def span(surface: str, span_id: str):
        start = text.index(surface)
        return gold.char_span(start, start + len(surface), "DIAGNOSTICO", span_id=span_id)

    gold.spans["codiesp"] = [span("Dolor", "1"), span("hipogastrio", "1"), span("Lesiones", "2"), span("vesicales", "2")]
    DocBin(docs=[gold], store_user_data=True).to_disk(tmp_path / "gold.spacy")
    out, md = tmp_path / "errors.json", tmp_path / "errors.md"
    args = ["benchmark", "discontinuous-errors", str(tmp_path / "model"), str(tmp_path / "gold.spacy")]
    result = CliRunner().invoke(app, [*args, "--output", str(out), "--markdown", str(md)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["entities"] == 2 and report["outcomes"] == {"found": 1, "linking": 0, "detection": 1}
    assert report["by_pattern"]["interposed"]["found"] == 1 and report["by_pattern"]["coordination"]["detection"] == 1
    assert report["detection_misses"] == {"overlaps_a_predicted_span": 0, "outside_every_predicted_span": 1}
    assert "| coordination | 1 |" in md.read_text(encoding="utf-8")
