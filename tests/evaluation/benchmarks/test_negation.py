"""benchmark negation: gold concepts, NegEx termsets, the metrics file and its Markdown on a tiny corpus."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from spacy.tokens import DocBin, Span

from spacy_clinical_es.cli.benchmark import benchmark_app
from spacy_clinical_es.context.schema import CUES_KEY, SCOPES_KEY
from spacy_clinical_es.evaluation.benchmarks.negation import (
    gold_concepts,
    negex_termsets,
    rules_pipeline,
    run_negation_benchmark,
)
from spacy_clinical_es.tokenizer import make_clinical_nlp

ROWS = [
    ("No se observan adenopatías .", [(0, 1, "NegSyn")], [(3, 4, "DISO", 0), (1, 4, "Phrase", 0)]),
    ("sin fiebre ni tos", [(0, 1, "NegSyn")], [(1, 4, "DISO", 0)]),
    ("Imagen sugestiva de espondilolisis", [(1, 3, "UncertLex")], [(3, 4, "DISO", 0)]),
    ("Cultivos negativos .", [(1, 2, "NegLex")], [(0, 1, "PROC", 0)]),
    ("Buen estado general .", [], []),
]


def _docbin(path: Path, rows=ROWS) -> Path:
    nlp = make_clinical_nlp()
    docs = []
    for text, cues, scopes in rows:
        doc = nlp.make_doc(text)
        doc.spans[CUES_KEY] = [Span(doc, s, e, label=lab, span_id=f"T{i}") for i, (s, e, lab) in enumerate(cues)]
        doc.spans[SCOPES_KEY] = [Span(doc, s, e, label=lab, span_id=f"T{k}") for s, e, lab, k in scopes]
        docs.append(doc)
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    return path


def test_gold_concepts_are_diso_proc_scope_targets_with_their_polarities(tmp_path: Path) -> None:
    docs = list(DocBin().from_disk(_docbin(tmp_path / "g.spacy")).get_docs(make_clinical_nlp().vocab))
    assert gold_concepts(docs[0]) == {(15, 26): {"negation"}}  # the Phrase scope is no concept
    assert gold_concepts(docs[2]) == {(20, 34): {"uncertainty"}}
    assert gold_concepts(docs[4]) == {}


def test_negex_termsets_come_from_the_training_cues(tmp_path: Path) -> None:
    nlp = make_clinical_nlp()
    docs = list(DocBin().from_disk(_docbin(tmp_path / "t.spacy")).get_docs(nlp.vocab))
    rules = rules_pipeline(docs * 2)
    termsets = negex_termsets(rules, docs)
    assert {"no", "sin"} <= set(termsets["negation"]["preceding_negations"])
    assert "negativos" in termsets["negation"]["following_negations"]
    assert "sugestiva de" in termsets["uncertainty"]["preceding_negations"]
    assert "pero" in termsets["negation"]["termination"]


def test_run_writes_json_and_markdown(tmp_path: Path) -> None:
    pytest.importorskip("negspacy")
    data = _docbin(tmp_path / "test.spacy")
    out = tmp_path / "metrics" / "negation.json"
    result = run_negation_benchmark(data, data, output=out, repeats=1, command="test")
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert set(saved["systems"]) == {"rules", "negex"}
    rules = saved["systems"]["rules"]
    assert rules["cues"]["per_type"]["NegSyn"]["f"] == 1.0  # trained and tested on the same sentences
    assert rules["concepts"]["per_type"]["negated"]["tp"] == 3
    assert "cues" not in saved["systems"]["negex"] and saved["systems"]["negex"]["concepts"]["per_type"]["negated"]["tp"] > 0
    assert result["concepts"] == 4 and set(saved["goals"]) == {"rules"}
    markdown = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| NegSyn | 2 |" in markdown and "words/s" in markdown


def test_the_command_is_registered() -> None:
    assert "negation" in {c.name for c in benchmark_app.registered_commands}
