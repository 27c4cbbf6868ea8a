"""benchmark e2e: strict (document, start, end, code) scores and the per-stage loss, on a tiny fixture."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_clinical_es.cli import app
from spacy_clinical_es.corpora.annotations import Annotation, Document
from spacy_clinical_es.corpora.representation import document_to_doc
from spacy_clinical_es.errors import EvaluationError
from spacy_clinical_es.evaluation.benchmarks.e2e import E2ETask, e2e_scores, run_e2e
from spacy_clinical_es.tokenizer import make_clinical_nlp

from ...cli.test_annotate import build_concepts_model


def test_scores_and_stages_by_hand() -> None:
    gold = [("d1", 0, 5, "A"), ("d1", 10, 15, "B"), ("d2", 0, 4, "C"), ("d2", 8, 12, "D")]
    predicted = [("d1", 0, 5, "A"), ("d1", 10, 15, "X"), ("d2", 20, 24, "E")]
    scores = e2e_scores(gold, predicted, uncoded=[("d2", 0, 4)])
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 2, 3)
    assert scores["p"] == pytest.approx(1 / 3) and scores["r"] == pytest.approx(1 / 4)
    assert scores["f"] == pytest.approx(2 * (1 / 3) * (1 / 4) / (1 / 3 + 1 / 4))
    stages = scores["stages"]
    # d1 10-15 coded wrong, d2 0-4 found without a code: lost by the linker; d2 8-12 never found
    assert (stages["correct"], stages["wrong_code"], stages["not_found"]) == (1, 2, 1)
    assert stages["not_found_share"] == pytest.approx(0.25)
    assert e2e_scores([], [])["f"] == 0.0


def _gold(path: Path) -> Path:
    nlp = make_clinical_nlp()
    documents = [
        Document("g1", "Dolor por apendicitis aguda; se realiza apendicectomía.", [
            Annotation("T1", "ENFERMEDAD", [(10, 27)], "apendicitis aguda", {"SNOMEDCT": "74400008"}),
            Annotation("T2", "PROCEDIMIENTO", [(40, 54)], "apendicectomía", {"SNOMEDCT": "80146002"}),
        ], corpus="gold"),
        Document("g2", "Sin fiebre ni cefalea.", [
            Annotation("T1", "ENFERMEDAD", [(4, 10)], "fiebre", {"SNOMEDCT": "386661006"}),
            Annotation("T2", "ENFERMEDAD", [(14, 21)], "cefalea", {"SNOMEDCT": "25064002"}),
        ], corpus="gold"),
    ]
    db = DocBin(store_user_data=True)
    for document in documents:
        db.add(document_to_doc(document, nlp, span_key="gold"))
    db.to_disk(path)
    return path


def test_run_on_a_tiny_pipeline(tmp_path: Path) -> None:
    model = build_concepts_model(tmp_path / "model")
    data = _gold(tmp_path / "gold.spacy")
    any_label = E2ETask("all", "*", "SNOMEDCT", "SNOMED CT")
    result = run_e2e(model, data, gold_span_key="gold", tasks=[any_label],
                     output=tmp_path / "e2e.json", markdown_path=tmp_path / "e2e.md")
    (s,) = result["tasks"]
    # found and coded right: appendicitis aguda, appendectomy; "fiebre" found but not in the KB; "cefalea" never found;
    # the nested "apendicitis" is a wrong extra (its code right, its span not a gold one)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 2)
    assert (s["stages"]["correct"], s["stages"]["wrong_code"], s["stages"]["not_found"]) == (2, 1, 1)
    assert s["n_docs"] == 2
    assert json.loads((tmp_path / "e2e.json").read_text(encoding="utf-8"))["tasks"][0]["tp"] == 2
    assert "not found" in (tmp_path / "e2e.md").read_text(encoding="utf-8")
    out = CliRunner().invoke(app, ["benchmark", "e2e", str(model), str(data), "--gold-span-key", "gold",
                                   "--task", "*:SNOMEDCT:SNOMED CT", "--output", str(tmp_path / "cli.json")])
    assert out.exit_code == 0, out.output
    assert "F1 0.5714" in out.output  # P 2/3, R 2/4


def test_a_task_scores_its_label_on_the_documents_its_corpus_coded(tmp_path: Path) -> None:
    model = build_concepts_model(tmp_path / "model")
    data = _gold(tmp_path / "gold.spacy")
    procedures = E2ETask("procedures", "PROCEDIMIENTO", "SNOMEDCT", "SNOMED CT")
    diseases = E2ETask("diseases", "ENFERMEDAD", "SNOMEDCT", "SNOMED CT")
    result = run_e2e(model, data, gold_span_key="gold", tasks=[procedures, diseases])
    by_name = {t["name"]: t for t in result["tasks"]}
    # only g1 has a coded procedure: the appendectomy, found and coded right
    assert by_name["procedures"]["n_docs"] == 1
    assert (by_name["procedures"]["tp"], by_name["procedures"]["fp"], by_name["procedures"]["fn"]) == (1, 0, 0)
    assert by_name["diseases"]["n_docs"] == 2 and by_name["diseases"]["gold"] == 3


@pytest.mark.parametrize("text", ["PROCEDIMIENTO", "A:B", "A::C", ":B:C", "A:B:C:D"])
def test_a_malformed_task_is_a_clear_error(text: str) -> None:
    with pytest.raises(EvaluationError, match="LABEL:GOLD_SYSTEM:PRED_SYSTEM"):
        E2ETask.parse(text)


def test_a_task_is_parsed() -> None:
    assert E2ETask.parse("ENFERMEDAD:ICD10:CIE-10") == E2ETask("ENFERMEDAD:ICD10:CIE-10", "ENFERMEDAD", "ICD10", "CIE-10")


def test_the_linker_threshold_curve(tmp_path: Path) -> None:
    model = build_concepts_model(tmp_path / "model")
    data = _gold(tmp_path / "gold.spacy")
    any_label = E2ETask("all", "*", "SNOMEDCT", "SNOMED CT")
    result = run_e2e(model, data, gold_span_key="gold", tasks=[any_label], linker_thresholds=[0.0, 1.01],
                     markdown_path=tmp_path / "e2e.md")
    low, high = (point["tasks"][0] for point in result["threshold_curve"])
    assert low["f"] == pytest.approx(result["tasks"][0]["f"])  # everything the linker finds scores above 0
    assert high["f"] == 0.0  # no code reaches 1.01: every concept withheld
    assert "threshold" in (tmp_path / "e2e.md").read_text(encoding="utf-8")
    # the pipeline's own thresholds are restored and reported
    assert set(result["linker_thresholds"].values()) == {0.6}
    out = CliRunner().invoke(app, ["benchmark", "e2e", str(model), str(data), "--gold-span-key", "gold",
                                   "--linker-thresholds", "0.5,x", "--output", str(tmp_path / "cli.json")])
    assert out.exit_code != 0 and "--linker-thresholds" in out.output


def test_a_task_maps_the_gold_label_to_the_predicted_one_and_codiesp_is_scored_apart(tmp_path: Path) -> None:
    """CodiEsp calls diseases DIAGNOSTICO: ``pred_label`` matches them with the pipeline's ENFERMEDAD concepts."""
    from spacy_clinical_es.evaluation.benchmarks.e2e import (
        CODIESP_SPAN_KEY,
        CODIESP_TASKS,
    )

    model = build_concepts_model(tmp_path / "model")
    nlp = make_clinical_nlp()
    codiesp = tmp_path / "codiesp.spacy"
    db = DocBin(store_user_data=True)
    db.add(document_to_doc(Document("c1", "Dolor por apendicitis aguda.", [
        Annotation("T1", "DIAGNOSTICO", [(10, 27)], "apendicitis aguda", {"ICD10-CM": "74400008"}),
    ], corpus="codiesp"), nlp, span_key=CODIESP_SPAN_KEY))
    db.to_disk(codiesp)
    mapped = E2ETask("diagnoses", "DIAGNOSTICO", "ICD10-CM", "SNOMED CT", pred_label="ENFERMEDAD")
    result = run_e2e(model, codiesp, gold_span_key=CODIESP_SPAN_KEY, tasks=[mapped])
    assert result["tasks"][0]["tp"] == 1  # the tiny KB's code for "apendicitis aguda", found as ENFERMEDAD
    unmapped = E2ETask("diagnoses", "DIAGNOSTICO", "ICD10-CM", "SNOMED CT")
    assert run_e2e(model, codiesp, gold_span_key=CODIESP_SPAN_KEY, tasks=[unmapped])["tasks"][0]["tp"] == 0
    # beside the concept tasks: the CodiEsp-X tasks on their own file (the tiny model has no CIE-10-ES linker)
    both = run_e2e(model, _gold(tmp_path / "gold.spacy"), gold_span_key="gold", codiesp=codiesp)
    names = [t["name"] for t in both["tasks"]]
    assert names[-2:] == [t.name for t in CODIESP_TASKS]
    cm = both["tasks"][-2]
    assert (cm["gold"], cm["tp"], cm["stages"]["wrong_code"]) == (1, 0, 1) and cm["data"] == str(codiesp)
