"""benchmark windows on a tiny trained transformer pipeline: every window x strategy x merge row, cost by plan."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from spacy.tokens import DocBin

from spacy_clinical_es.evaluation.benchmarks.windows import run_windows
from spacy_clinical_es.models.tiny import build_tiny_encoder

pytest.importorskip("torch")

from tests.pipeline.test_transformer_ner import TEXTS, TRAIN, train_pipeline


def test_every_setting_is_scored_on_the_same_pipeline(tmp_path: Path) -> None:
    encoder = build_tiny_encoder(tmp_path / "bert", TEXTS * 5, model_type="bert")
    nlp = train_pipeline(encoder, steps=15)
    nlp.to_disk(tmp_path / "model")
    gold = DocBin()
    for text, ents in TRAIN:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label=label) for s, e, label in ents]
        gold.add(doc)
    gold.to_disk(tmp_path / "gold.spacy")
    report = run_windows(
        tmp_path / "model", tmp_path / "gold.spacy", output=tmp_path / "windows.json",
        window_sizes=["16", "8"], merges=["average", "central"], command="test",
    )
    rows = {(r["window"], r["strategy"], r["merge"]) for r in report["results"]}
    assert rows == {(w, s, m) for w in (16, 8) for s in ("naive", "packed") for m in ("average", "central")}
    for row in report["results"]:
        assert row["cost"] >= 1.0 and row["cost_with_special_tokens"] > row["cost"]
        assert 0.0 <= row["strict_f"] <= 1.0
    assert len(report["comparison"]) == 4
    assert json.loads((tmp_path / "windows.json").read_text(encoding="utf-8"))["corpus"]["documents"] == 2
