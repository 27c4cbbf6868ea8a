"""finetune-linker → train-reranker → benchmark linking --encoder --reranker on a hand-made linking corpus."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

from spacy_clinical_es.cli import app
from spacy_clinical_es.linking.rerank import load_reranker
from spacy_clinical_es.linking.rerank_train import TARGETS

FORMS = {
    "C1": ["dolor toracico", "dolor en el torax", "toracalgia"],
    "C2": ["fiebre", "fiebre alta", "hipertermia"],
    "C3": ["tos seca", "tos irritativa", "tos no productiva"],
}


def write_corpus(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for corpus, system in TARGETS:
        for split in ("train", "dev", "test"):
            rows = [
                {"corpus": corpus, "system": system, "mention": form, "code": code, "label": "X",
                 "doc_id": f"{split}{i}"}
                for code, forms in FORMS.items()
                for i, form in enumerate(forms if split == "train" else forms[1:])
            ]
            with (root / f"{corpus}_{split}.jsonl").open("a", encoding="utf-8") as out:
                out.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def test_finetune_rerank_and_benchmark_chains(tmp_path: Path) -> None:
    data = tmp_path / "linking"
    write_corpus(data)
    runner = CliRunner()
    enc = tmp_path / "encoders"
    result = runner.invoke(app, ["finetune-linker", "--data", str(data), "--output", str(enc), "--base", "char",
                                 "--steps", "4", "--eval-every", "2", "--learning-rate", "0.01", "--no-cie"])
    assert result.exit_code == 0, result.output
    report = json.loads((enc / "finetune.json").read_text(encoding="utf-8"))
    assert report["best"] == "char" and [p["step"] for p in report["runs"]["char"]["curve"]] == [2, 4]
    assert (enc / "best" / "weights.pt").is_file()
    rr = tmp_path / "reranker"
    result = runner.invoke(app, ["train-reranker", "--data", str(data), "--encoder", str(enc / "best"),
                                 "--output", str(rr), "--folds", "2", "--no-tables"])
    assert result.exit_code == 0, result.output
    reranker = load_reranker((rr / "reranker.json").read_bytes())
    report = json.loads((rr / "report.json").read_text(encoding="utf-8"))
    assert reranker.kind == "tree-reranker" and report["model"] == "trees"  # the default
    assert report["threshold"] == reranker.threshold and report["settings"] == reranker.settings()
    out = tmp_path / "linking.json"
    result = runner.invoke(app, ["benchmark", "linking", "--data", str(data), "--no-tuning", "-o", str(out),
                                 "--encoder", str(enc / "best"), "--reranker", str(rr / "reranker.json"), "--no-tables"])
    assert result.exit_code == 0, result.output
    chains = json.loads(out.read_text(encoding="utf-8"))["chains"]["results"]
    assert set(chains) == {"tfidf", "tfidf+encoder", "tfidf+encoder+reranker"}
    scores = chains["tfidf+encoder+reranker"]["medprocner/SNOMEDCT"]
    assert scores["all"]["n"] == 6 and scores["all"]["gold_code_in_kb"] == 1.0
    assert scores["mentions_per_second"] > 0 and "nil" in scores


def test_per_base_options_must_match_the_bases(tmp_path: Path) -> None:
    data = tmp_path / "linking"
    write_corpus(data)
    result = CliRunner().invoke(app, ["finetune-linker", "--data", str(data), "--output", str(tmp_path / "e"),
                                      "--base", "char", "--steps", "1", "--steps", "2", "--steps", "3"])
    assert result.exit_code != 0 and "once per --base" in result.output
