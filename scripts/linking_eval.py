"""Linking accuracy@1/@5 on held-out documents with the offline TF-IDF encoder.

For each (corpus, code system) of the linking corpus (``convert linking``),
a knowledge base is built from the mentions of the ``--kb-splits`` splits
(default: train only), and the gold mentions of ``--eval-split`` (default:
test, held-out documents) are ranked by :class:`CandidateGenerator` (exact
normalized match, then character n-gram TF-IDF nearest neighbours). Reported
apart: mentions whose normalized form occurs in the KB ("seen") and the rest
("unseen"), plus the oracle share of mentions whose gold code is in the KB
at all (the ceiling of any KB-restricted linker). No mention text is written.

Usage::

    python scripts/linking_eval.py --output metrics/linking.json [--data DIR]
        [--also-kb-splits train,dev]

Without ``--data`` the linking corpus is built into a temporary directory
from the corpora found by ``resolve_data_dir()``.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from spacy_clinical_es.evaluation.metrics import accuracy_at_k
from spacy_clinical_es.linking import CandidateGenerator, KnowledgeBase, normalize_term
from spacy_clinical_es.linking.kb import _iter_jsonl

logger = logging.getLogger("linking_eval")

#: corpus → systems evaluated (DisTEMIST's ICD-10 rows are the organisers' cross-map).
TARGETS = {
    "medprocner": ("SNOMEDCT",),
    "distemist": ("SNOMEDCT", "ICD10"),
    "codiesp": ("ICD10-CM", "ICD10-PCS"),
}


def _rows(data: Path, corpus: str, split: str, system: str) -> list[dict[str, Any]]:
    path = data / f"{corpus}_{split}.jsonl"
    return [r for r in _iter_jsonl([path]) if r["system"] == system]


def evaluate_target(
    data: Path, corpus: str, system: str, kb_splits: list[str], eval_split: str, k: int
) -> dict[str, Any]:
    """Scores of one (corpus, system); counts only, no text."""
    kb_rows = [r for split in kb_splits for r in _rows(data, corpus, split, system)]
    kb = KnowledgeBase.from_linking_rows(kb_rows)
    generator = CandidateGenerator(kb, k=k).build()
    test = _rows(data, corpus, eval_split, system)
    started = time.perf_counter()
    ranked = generator.candidates([r["mention"] for r in test], [r["label"] for r in test])
    seconds = time.perf_counter() - started
    known_forms = {norm for norm, _ in kb.aliases}
    groups: dict[str, list[int]] = {"all": [], "seen": [], "unseen": []}
    for i, row in enumerate(test):
        groups["all"].append(i)
        groups["seen" if normalize_term(row["mention"]) in known_forms else "unseen"].append(i)
    result: dict[str, Any] = {
        "kb_concepts": len(kb),
        "kb_terms": len(kb.aliases),
        "kb_mentions": len(kb_rows),
        "eval_mentions": len(test),
        "eval_documents": len({r["doc_id"] for r in test}),
        "search_seconds": round(seconds, 3),
    }
    for name, ids in groups.items():
        scores = accuracy_at_k(
            [test[i]["code"] for i in ids], [[c.code for c in ranked[i]] for i in ids], ks=(1, 5)
        )
        scores["gold_code_in_kb"] = (
            sum(test[i]["code"] in kb for i in ids) / len(ids) if ids else 0.0
        )
        result[name] = scores
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="linking JSONL dir")
    parser.add_argument("--output", type=Path, default=Path("metrics/linking.json"))
    parser.add_argument("--kb-splits", default="train", help="comma-separated splits for the KB")
    parser.add_argument(
        "--also-kb-splits", default="", help="extra KB split set reported apart, e.g. train,dev"
    )
    parser.add_argument("--eval-split", default="test")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    kb_splits = [s for s in args.kb_splits.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from spacy_clinical_es.corpora.builders.linking import build_linking

            data = Path(tmp)
            build_linking(data)
        results = {
            f"{corpus}/{system}": evaluate_target(data, corpus, system, kb_splits, args.eval_split, args.k)
            for corpus, systems in TARGETS.items()
            for system in systems
        }
        also = [s for s in args.also_kb_splits.split(",") if s]
        extra = {
            f"{corpus}/{system}": evaluate_target(data, corpus, system, also, args.eval_split, args.k)
            for corpus, systems in TARGETS.items()
            for system in systems
        } if also else None
    report = {
        "command": "python scripts/linking_eval.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "encoder": "spacy_clinical_es.TfidfEncoder.v1 (char 3-4-grams)",
        "candidates": "exact normalized match, then exact cosine nearest neighbours; no re-ranking",
        "kb_splits": kb_splits,
        "eval_split": args.eval_split,
        "python": platform.python_version(),
        "results": results,
    }
    if extra is not None:
        report["also_kb_splits"] = also
        report["results_also_kb_splits"] = extra
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, res in results.items():
        logger.info(
            "%-22s n=%4d acc@1=%.3f acc@5=%.3f | seen n=%4d acc@1=%.3f | unseen n=%4d acc@1=%.3f acc@5=%.3f | ceiling=%.3f",
            name, res["all"]["n"], res["all"]["acc@1"], res["all"]["acc@5"],
            res["seen"]["n"], res["seen"]["acc@1"], res["unseen"]["n"],
            res["unseen"]["acc@1"], res["unseen"]["acc@5"], res["all"]["gold_code_in_kb"],
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
