"""Linking accuracy@1/@5 on held-out documents with the offline TF-IDF encoder.

For each (corpus, code system) of the linking corpus (``convert linking``) a
knowledge base is built from the mentions of some splits and the gold
mentions of another split are ranked by :class:`CandidateGenerator`.
Three parts, all written to one JSON file:

* ``tuning``: every candidate setting of :data:`SETTINGS`, KB from ``train``,
  scored on ``dev`` (the only split settings were chosen on);
* ``results``: the chosen setting (``--setting``, default ``final``), KB from
  ``train`` + ``dev``, scored on ``test`` (held-out documents, looked at only
  for this report), with ``results_train_kb`` (KB from ``train`` only) and
  ``baseline`` (the ``v1`` setting, KB from ``train`` + ``dev``) beside it;
* ``distemist/ICD10+CIE10``: the DisTEMIST ICD-10 mentions against their
  mention KB merged with the CIE-10 table of the ``cie`` package (when
  installed): every code has a Spanish description, at the price of 14k
  distractors.

Reported apart: mentions whose normalized form occurs in the KB ("seen") and
the rest ("unseen"), plus the share of mentions whose gold code is in the KB
at all (the ceiling of any KB-restricted linker). No mention text is written.

Usage::

    python scripts/linking_eval.py --data corpus/linking --output metrics/linking.json
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
from spacy_clinical_es.linking import (
    CandidateGenerator,
    KnowledgeBase,
    TfidfCharEncoder,
    code_prior,
    normalize_term,
)
from spacy_clinical_es.linking.kb import _iter_jsonl

logger = logging.getLogger("linking_eval")

#: corpus → systems evaluated (DisTEMIST's ICD-10 rows are the organisers' cross-map).
TARGETS = {
    "medprocner": ("SNOMEDCT",),
    "distemist": ("SNOMEDCT", "ICD10"),
    "codiesp": ("ICD10-CM", "ICD10-PCS"),
}

#: Candidate settings (encoder options + candidate options); ``final`` is what the
#: component's default config uses, chosen on dev (see the ``tuning`` part).
SETTINGS: dict[str, dict[str, Any]] = {
    "v1": {"encoder": {"ngram_range": (3, 4)}, "token_match": False, "prior": 0.0},
    "char_wb": {"encoder": {"ngram_range": (2, 4), "analyzer": "char_wb"}, "token_match": False, "prior": 0.0},
    "char_wb+abbr": {
        "encoder": {"ngram_range": (2, 4), "analyzer": "char_wb", "abbreviations": True},
        "token_match": False, "prior": 0.0,
    },
    "char_wb+abbr+tokens": {
        "encoder": {"ngram_range": (2, 4), "analyzer": "char_wb", "abbreviations": True},
        "token_match": True, "prior": 0.0,
    },
    "final": {
        "encoder": {"ngram_range": (2, 4), "analyzer": "char_wb", "abbreviations": True},
        "token_match": True, "prior": 0.02,
    },
    "final+prior0.05": {
        "encoder": {"ngram_range": (2, 4), "analyzer": "char_wb", "abbreviations": True},
        "token_match": True, "prior": 0.05,
    },
    "final+words0.2": {
        "encoder": {"ngram_range": (2, 4), "analyzer": "char_wb", "abbreviations": True, "word_weight": 0.2},
        "token_match": True, "prior": 0.02,
    },
    "final+char": {
        "encoder": {"ngram_range": (2, 4), "analyzer": "char", "abbreviations": True},
        "token_match": True, "prior": 0.02,
    },
}


def _rows(data: Path, corpus: str, split: str, system: str) -> list[dict[str, Any]]:
    path = data / f"{corpus}_{split}.jsonl"
    return [r for r in _iter_jsonl([path]) if r["system"] == system]


def make_generator(kb: KnowledgeBase, setting: dict[str, Any], k: int) -> CandidateGenerator:
    """A built :class:`CandidateGenerator` for one of :data:`SETTINGS`."""
    encoder = TfidfCharEncoder(**setting["encoder"])
    rerankers = [code_prior(setting["prior"])] if setting["prior"] else []
    return CandidateGenerator(
        kb, encoder, k=k, token_match=setting["token_match"], rerankers=rerankers
    ).build()


def score(kb: KnowledgeBase, test: list[dict[str, Any]], setting: dict[str, Any], k: int) -> dict[str, Any]:
    """Scores of ``test`` mentions against ``kb``; counts only, no text."""
    generator = make_generator(kb, setting, k)
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
        "eval_mentions": len(test),
        "eval_documents": len({r["doc_id"] for r in test}),
        "search_seconds": round(seconds, 3),
    }
    for name, ids in groups.items():
        scores = accuracy_at_k(
            [test[i]["code"] for i in ids], [[c.code for c in ranked[i]] for i in ids], ks=(1, 5)
        )
        scores["gold_code_in_kb"] = sum(test[i]["code"] in kb for i in ids) / len(ids) if ids else 0.0
        result[name] = scores
    return result


def evaluate(
    data: Path, kb_splits: list[str], eval_split: str, setting: dict[str, Any], k: int
) -> dict[str, Any]:
    out = {}
    for corpus, systems in TARGETS.items():
        for system in systems:
            kb_rows = [r for split in kb_splits for r in _rows(data, corpus, split, system)]
            kb = KnowledgeBase.from_linking_rows(kb_rows)
            result = score(kb, _rows(data, corpus, eval_split, system), setting, k)
            result["kb_mentions"] = len(kb_rows)
            out[f"{corpus}/{system}"] = result
    return out


def with_cie10(data: Path, kb_splits: list[str], eval_split: str, setting: dict[str, Any], k: int) -> dict[str, Any] | None:
    """DisTEMIST ICD-10 mentions against mention KB + the ``cie`` package's CIE-10 table."""
    try:
        from spacy_clinical_es.linking.builders import cie10_kb

        kb = cie10_kb()
    except Exception as err:  # noqa: BLE001 - the package is optional
        logger.warning("CIE-10 table unavailable (%s): skipped", type(err).__name__)
        return None
    mentions = KnowledgeBase.from_linking_rows(
        [r for split in kb_splits for r in _rows(data, "distemist", split, "ICD10")]
    )
    for concept in mentions.concepts.values():
        if concept.code in kb:
            table = kb[concept.code]
            terms = tuple(dict.fromkeys(concept.terms + table.terms))
            kb.add(type(concept)(
                code=concept.code, preferred_term=table.preferred_term,
                synonyms=tuple(t for t in terms if t != table.preferred_term),
                semantic_type=concept.semantic_type, vocabulary=concept.vocabulary,
                parent=table.parent, frequency=concept.frequency,
            ))
        else:
            kb.add(concept)
    return score(kb, _rows(data, "distemist", eval_split, "ICD10"), setting, k)


def _summary(name: str, res: dict[str, Any]) -> str:
    return (
        f"{name:24s} n={res['all']['n']:4d} acc@1={res['all']['acc@1']:.3f} acc@5={res['all']['acc@5']:.3f}"
        f" | seen n={res['seen']['n']:4d} acc@1={res['seen']['acc@1']:.3f}"
        f" | unseen n={res['unseen']['n']:4d} acc@1={res['unseen']['acc@1']:.3f} acc@5={res['unseen']['acc@5']:.3f}"
        f" | ceiling={res['all']['gold_code_in_kb']:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="linking JSONL dir")
    parser.add_argument("--output", type=Path, default=Path("metrics/linking.json"))
    parser.add_argument("--setting", default="final", choices=sorted(SETTINGS))
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--no-tuning", action="store_true", help="skip the dev grid")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    setting = SETTINGS[args.setting]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from spacy_clinical_es.corpora.builders.linking import build_linking

            data = Path(tmp)
            build_linking(data)
        tuning = {}
        if not args.no_tuning:
            for name, candidate in SETTINGS.items():
                tuning[name] = {
                    target: {"acc@1": res["all"]["acc@1"], "acc@5": res["all"]["acc@5"]}
                    for target, res in evaluate(data, ["train"], "dev", candidate, args.k).items()
                }
                logger.info(
                    "dev %-22s %s", name,
                    " ".join(f"{t}={v['acc@1']:.3f}" for t, v in tuning[name].items()),
                )
        results = evaluate(data, ["train", "dev"], "test", setting, args.k)
        train_kb = evaluate(data, ["train"], "test", setting, args.k)
        baseline = evaluate(data, ["train", "dev"], "test", SETTINGS["v1"], args.k)
        cie = with_cie10(data, ["train", "dev"], "test", setting, args.k)
    report = {
        "command": "python scripts/linking_eval.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "encoder": "spacy_clinical_es.TfidfEncoder.v2 (char_wb 2-4-grams, abbreviations expanded)",
        "setting": {"name": args.setting, **{k: v for k, v in setting.items()}},
        "candidates": "exact normalized match (1.0), word-key match (0.98), exact cosine nearest "
        "neighbours; code prior re-ranking",
        "protocol": "settings chosen on dev with a train-only KB (tuning); test scored once per "
        "setting with a train+dev KB (results) and a train-only KB (results_train_kb)",
        "kb_splits": ["train", "dev"],
        "eval_split": "test",
        "python": platform.python_version(),
        "seconds": round(time.perf_counter() - started, 1),
        "tuning_dev_train_kb": tuning,
        "results": results,
        "results_train_kb": train_kb,
        "baseline_v1": baseline,
    }
    if cie is not None:
        report["distemist/ICD10+CIE10"] = cie
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, res in results.items():
        logger.info("test %s", _summary(name, res))
    if cie is not None:
        logger.info("test %s", _summary("distemist/ICD10+CIE10", cie))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
