"""benchmark linking-scale on a small synthetic KB (the faiss path included): the report's parts are consistent."""
from __future__ import annotations

import json
import random
from pathlib import Path

from spacy_clinical_es.evaluation.benchmarks.linking_scale import (
    make_kb,
    make_words,
    perturb,
    run_linking_scale,
)


def test_synthetic_kb_is_deterministic_and_distinct() -> None:
    words = make_words(50, random.Random(0))
    assert words == make_words(50, random.Random(0)) and len(set(words)) == 50
    kb = make_kb(40, words, random.Random(1))
    assert len(kb) == 40 and len({c.preferred_term for c in kb.concepts.values()}) == 40
    assert perturb("alfa beta", words, random.Random(2)) != ""


def test_small_run_uses_faiss_and_reports_every_part(tmp_path: Path) -> None:
    report = run_linking_scale(
        tmp_path / "scale.json", entries=400, queries=60, words_n=300, exact_sample=20, ann_threshold=100,
        nprobe=4, command="test",
    )
    assert json.loads((tmp_path / "scale.json").read_text(encoding="utf-8"))["entries"] == 400
    assert report["index"] == "FaissIndex" and report["queries"] == 60
    assert 0.0 <= report["ann_vs_exact"]["recall@5"] <= 1.0 and report["ann_vs_exact"]["sample"] == 20
    assert report["source_concept_top1"] > 0.5  # a quarter of the mentions are the term itself
    assert set(report["passed"]) == set(report["limits"])
    assert report["index_bytes"] > 0 and report["peak_rss_gb"] > 0
