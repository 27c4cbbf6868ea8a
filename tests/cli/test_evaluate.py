"""``spacy-clinical-es evaluate`` on a training-free pipeline saved to tmp_path.

Also covers :func:`evaluate_pipeline` and :func:`compare_domains`, which the
command wraps.
"""

from __future__ import annotations

import json

import pytest
import spacy
from spacy.tokens import DocBin, Span
from typer.testing import CliRunner

import spacy_clinical_es.cli.evaluate  # noqa: F401  (registers the command)
from spacy_clinical_es.cli import app
from spacy_clinical_es.errors import EvaluationError
from spacy_clinical_es.evaluation.evaluate import compare_domains, evaluate_pipeline

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Invented texts. Tokens of TEXT: Juan(0) Pérez(1) vive(2) en(3) Madrid(4) con(5) Ana(6) .(7)
TEXT = "Juan Pérez vive en Madrid con Ana."
OOD_TEXT = "Madrid y Juan."  # Madrid(0) y(1) Juan(2) .(3)


def invoke(args: list[str]):
    """Run ``spacy-clinical-es evaluate ARGS``."""
    return CliRunner().invoke(app, ["evaluate", *args])


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    nlp = spacy.blank("es")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [{"label": "PER", "pattern": "Juan"}, {"label": "LOC", "pattern": "Madrid"}]
    )
    span_ruler = nlp.add_pipe("span_ruler", config={"spans_key": "sc"})
    span_ruler.add_patterns([{"label": "PER", "pattern": "Ana"}])
    nlp.to_disk(root / "model")

    gold = nlp.make_doc(TEXT)
    gold.ents = [
        Span(gold, 0, 2, "PER"),
        Span(gold, 4, 5, "LOC"),
        Span(gold, 6, 7, "PER"),
    ]
    gold.spans["sc"] = [Span(gold, 6, 7, "PER")]
    DocBin(docs=[gold]).to_disk(root / "gold.spacy")

    ood = nlp.make_doc(OOD_TEXT)
    ood.ents = [Span(ood, 0, 1, "LOC"), Span(ood, 2, 3, "PER")]
    DocBin(docs=[ood]).to_disk(root / "ood.spacy")
    (root / "broken.spacy").write_bytes(b"not a docbin")
    return root


def test_evaluate_pipeline_hand_computed(paths):
    scores = evaluate_pipeline(paths / "model", paths / "gold.spacy")
    # Prediction: Juan PER, Madrid LOC. strict: tp 1, fp 1, fn 2 -> P 1/2, R 1/3, F 0.4
    assert scores["strict"]["f"] == pytest.approx(0.4)
    # IOB2: tp 2 (Juan, Madrid), fn 2 (Pérez, Ana) -> F 2/3
    assert scores["iob2"]["f"] == pytest.approx(2 / 3)
    assert scores["deid_token"]["leak_rate"] == pytest.approx(0.5)
    speed = scores["speed"]
    assert speed["words"] == 8  # 8 tokens, no whitespace tokens
    assert speed["seconds"] > 0 and speed["words_per_second"] > 0
    assert scores["pipeline"]["components"] == ["entity_ruler", "span_ruler"]
    # Span groups: the span_ruler finds Ana exactly.
    spans = evaluate_pipeline(paths / "model", paths / "gold.spacy", span_key="sc")
    assert spans["strict"]["f"] == 1.0


def test_compare_domains_hand_computed(paths):
    result = compare_domains(paths / "model", paths / "gold.spacy", paths / "ood.spacy")
    # OOD: Madrid LOC and Juan PER both found -> strict F1 1.0; ID strict F1 0.4
    assert result["out_of_domain"]["strict"]["f"] == 1.0
    assert result["gap"]["strict"]["f"] == pytest.approx(0.4 - 1.0)
    # PER strict F1 in domain 0 ("Juan" is not gold "Juan Pérez", Ana missed),
    # out of domain 1 -> Δ -1; LOC is 1 on both sides -> Δ 0
    assert result["gap"]["strict"]["per_type"]["PER"]["f"] == pytest.approx(-1.0)
    assert result["gap"]["strict"]["per_type"]["LOC"]["f"] == pytest.approx(0.0)


def test_evaluate_pipeline_missing_or_broken_inputs(paths):
    with pytest.raises(EvaluationError, match="Gold corpus not found"):
        evaluate_pipeline(paths / "model", paths / "missing.spacy")
    with pytest.raises(EvaluationError, match="not a readable"):
        evaluate_pipeline(paths / "model", paths / "broken.spacy")
    with pytest.raises(EvaluationError, match="Model not found"):
        evaluate_pipeline(paths / "nope", paths / "gold.spacy")


def test_cli_writes_reports_and_prints_table(paths, tmp_path):
    output = tmp_path / "metrics" / "x.json"
    result = invoke(
        [
            str(paths / "model"),
            str(paths / "gold.spacy"),
            "--output",
            str(output),
            "--markdown",
            str(tmp_path / "x.md"),
            "--png",
            str(tmp_path / "x.png"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert (
        "| **micro** | 3 | 0.5000 | 0.3333 | 0.4000 | 4 | 1.0000 | 0.5000 | 0.6667 |"
        in (result.output)
    )
    metrics = json.loads(output.read_text())
    assert metrics["strict"]["f"] == 0.4
    assert metrics["iob2"]["f"] == 0.6667
    assert "| **micro** |" in (tmp_path / "x.md").read_text()
    assert (tmp_path / "x.png").read_bytes()[:8] == PNG_MAGIC


def test_cli_span_key_and_ood(paths, tmp_path):
    result = invoke(
        [str(paths / "model"), str(paths / "gold.spacy"), "--span-key", "sc"]
    )
    assert result.exit_code == 0, result.output
    assert "| PER | 1 | 1.0000 | 1.0000 | 1.0000 |" in result.output
    result = invoke(
        [
            str(paths / "model"),
            str(paths / "gold.spacy"),
            "--ood-data",
            str(paths / "ood.spacy"),
            "--output",
            str(tmp_path / "cmp.json"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "## Gap (in domain − out of domain)" in result.output
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    assert cmp["gap"]["strict"]["f"] == -0.6


def test_cli_reports_bad_data_with_exit_code_1(paths):
    result = invoke([str(paths / "model"), str(paths / "broken.spacy")])
    assert result.exit_code == 1
    assert "not a readable .spacy DocBin" in result.output
    result = invoke([str(paths / "model"), str(paths / "missing.spacy")])
    assert result.exit_code != 0
