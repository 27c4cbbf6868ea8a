"""benchmark linking on a hand-made linking corpus: accuracy, seen/unseen split and the KB ceiling are exact."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.evaluation.benchmarks.linking import TARGETS, run_linking
from spacy_clinical_es.evaluation.report import round_floats

TRAIN = [("dolor torácico", "C1"), ("fiebre", "C2"), ("tos seca", "C3")]
TEST = [("Dolor  torácico", "C1"), ("fiebre alta", "C2"), ("cefalea", "C9")]  # seen, unseen, code not in KB


def write_corpus(root: Path) -> None:
    for corpus, systems in TARGETS.items():
        for split, pairs in (("train", TRAIN), ("dev", TRAIN[:1]), ("test", TEST)):
            rows = [
                {"system": system, "mention": m, "label": "X", "code": c, "doc_id": f"{split}{i}"}
                for system in systems
                for i, (m, c) in enumerate(pairs)
            ]
            (root / f"{corpus}_{split}.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
            )


def test_scores_are_exact_on_a_hand_made_corpus(tmp_path: Path) -> None:
    write_corpus(tmp_path)
    report = run_linking(tmp_path, tmp_path / "linking.json", tuning=False, command="test")
    written = json.loads((tmp_path / "linking.json").read_text(encoding="utf-8"))
    assert written["results"] == round_floats(report["results"])
    result = report["results"]["medprocner/SNOMEDCT"]
    assert result["kb_concepts"] == 3 and result["eval_mentions"] == 3 and result["eval_documents"] == 3
    assert result["seen"]["n"] == 1 and result["seen"]["acc@1"] == 1.0  # normalized form equals a KB term
    assert result["unseen"]["n"] == 2
    assert result["all"]["gold_code_in_kb"] == pytest.approx(2 / 3)  # C9 is in no KB: the ceiling
    assert result["all"]["acc@1"] <= result["all"]["acc@5"] <= 2 / 3
    assert set(report["results"]) == {f"{c}/{s}" for c, systems in TARGETS.items() for s in systems}
    assert report["tuning_dev_train_kb"] == {}


def test_missing_corpus_and_unknown_setting_are_package_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="corpus-linking"):
        run_linking(tmp_path, None, tuning=False)
    with pytest.raises(ConfigError, match="Unknown linking setting"):
        run_linking(tmp_path, None, setting_name="nope")
