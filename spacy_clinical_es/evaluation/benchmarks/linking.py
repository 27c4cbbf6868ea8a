"""Linking accuracy@1/@5 on held-out documents with the offline TF-IDF encoder.

For each (corpus, code system) of the linking corpus (``convert linking``) a
knowledge base is built from the mentions of some splits and the gold
mentions of another split are ranked by
:class:`~spacy_clinical_es.linking.CandidateGenerator`. Three parts, all in
one JSON file:

* ``tuning_dev_train_kb``: every candidate setting of :data:`SETTINGS`, KB
  from ``train``, scored on ``dev`` (the only split settings were chosen on);
* ``results``: the chosen setting (default ``final``), KB from ``train`` +
  ``dev``, scored on ``test`` (held-out documents, looked at only for this
  report), with ``results_train_kb`` (KB from ``train`` only) and
  ``baseline_v1`` (the ``v1`` setting, KB from ``train`` + ``dev``) beside it;
* ``distemist/ICD10+CIE10``: the DisTEMIST ICD-10 mentions against their
  mention KB merged with the CIE-10 table of the ``cie`` package (when
  installed): every code has a Spanish description, at the price of 14k
  distractors.

Reported apart: mentions whose normalized form occurs in the KB ("seen") and
the rest ("unseen"), plus the share of mentions whose gold code is in the KB
at all (the ceiling of any KB-restricted linker). No mention text is written.
Scores come from :func:`~spacy_clinical_es.evaluation.metrics.accuracy_at_k`.
"""
from __future__ import annotations

import logging
import platform
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...linking import (
    CandidateGenerator,
    LinkerOptions,
    TerminologyKB,
    TfidfCharEncoder,
    iter_jsonl,
    normalize_term,
)
from ..metrics import accuracy_at_k
from ..report import write_json

logger = logging.getLogger(__name__)

#: corpus → systems evaluated (DisTEMIST's ICD-10 rows are the organisers' cross-map).
TARGETS = {
    "medprocner": ("SNOMEDCT",),
    "distemist": ("SNOMEDCT", "ICD10"),
    "codiesp": ("ICD10-CM", "ICD10-PCS"),
}

_WB = {"ngram_range": (2, 4), "analyzer": "char_wb", "abbreviations": True}

#: Candidate settings (encoder options + candidate options); ``final`` is what the
#: component's default config uses, chosen on dev (see the tuning part).
SETTINGS: dict[str, dict[str, Any]] = {
    "v1": {"encoder": {"ngram_range": (3, 4)}, "token_match": False, "prior": 0.0},
    "char_wb": {"encoder": {"ngram_range": (2, 4), "analyzer": "char_wb"}, "token_match": False, "prior": 0.0},
    "char_wb+abbr": {"encoder": dict(_WB), "token_match": False, "prior": 0.0},
    "char_wb+abbr+tokens": {"encoder": dict(_WB), "token_match": True, "prior": 0.0},
    "final": {"encoder": dict(_WB), "token_match": True, "prior": 0.02},
    "final+prior0.05": {"encoder": dict(_WB), "token_match": True, "prior": 0.05},
    "final+words0.2": {"encoder": {**_WB, "word_weight": 0.2}, "token_match": True, "prior": 0.02},
    "final+char": {"encoder": {**_WB, "analyzer": "char"}, "token_match": True, "prior": 0.02},
}


def read_rows(data: Path, corpus: str, split: str, system: str) -> list[dict[str, Any]]:
    """The linking rows of one corpus split and code system."""
    path = data / f"{corpus}_{split}.jsonl"
    if not path.is_file():
        raise ConfigError(f"{path} not found: build the linking corpus first (spacy project run corpus-linking).")
    return [r for r in iter_jsonl([path]) if r["system"] == system]


def setting_options(setting: dict[str, Any], k: int) -> LinkerOptions:
    """The candidate options of one of :data:`SETTINGS`."""
    return LinkerOptions(k=k, token_match=setting["token_match"], prior_weight=setting["prior"])


def make_generator(kb: TerminologyKB, setting: dict[str, Any], k: int) -> CandidateGenerator:
    """A built :class:`CandidateGenerator` for one of :data:`SETTINGS`."""
    return CandidateGenerator(kb, TfidfCharEncoder(**setting["encoder"]), options=setting_options(setting, k)).build()


def score(kb: TerminologyKB, test: list[dict[str, Any]], setting: dict[str, Any], k: int) -> dict[str, Any]:
    """Scores of ``test`` mentions against ``kb``; counts only, no text."""
    generator = make_generator(kb, setting, k)
    started = time.perf_counter()
    ranked = generator.candidates([r["mention"] for r in test], [r["label"] for r in test])
    seconds = time.perf_counter() - started
    return {
        "kb_concepts": len(kb),
        "kb_terms": len(kb.aliases),
        "eval_mentions": len(test),
        "eval_documents": len({r["doc_id"] for r in test}),
        "search_seconds": round(seconds, 3),
        **seen_unseen_scores(kb, test, ranked, {norm for norm, _ in kb.aliases}),
    }


def seen_unseen_scores(
    kb: TerminologyKB,
    test: Sequence[Mapping[str, Any]],
    ranked: Sequence[Sequence[Any]],
    known_forms: set[str],
) -> dict[str, dict[str, Any]]:
    """acc@1/@5 and the share of gold codes in ``kb`` for all mentions, and apart for those whose normalized form
    is in ``known_forms`` ("seen") and the others ("unseen"); ``ranked`` holds each mention's candidates."""
    groups: dict[str, list[int]] = {"all": [], "seen": [], "unseen": []}
    for i, row in enumerate(test):
        groups["all"].append(i)
        groups["seen" if normalize_term(row["mention"]) in known_forms else "unseen"].append(i)
    out = {}
    for name, ids in groups.items():
        scores = accuracy_at_k(
            [test[i]["code"] for i in ids], [[c.code for c in ranked[i]] for i in ids], ks=(1, 5)
        )
        scores["gold_code_in_kb"] = sum(test[i]["code"] in kb for i in ids) / len(ids) if ids else 0.0
        out[name] = scores
    return out


def evaluate(data: Path, kb_splits: list[str], eval_split: str, setting: dict[str, Any], k: int) -> dict[str, Any]:
    """:func:`score` for every target of :data:`TARGETS`."""
    out = {}
    for corpus, systems in TARGETS.items():
        for system in systems:
            kb_rows = [r for split in kb_splits for r in read_rows(data, corpus, split, system)]
            kb = TerminologyKB.from_linking_rows(kb_rows)
            result = score(kb, read_rows(data, corpus, eval_split, system), setting, k)
            result["kb_mentions"] = len(kb_rows)
            out[f"{corpus}/{system}"] = result
    return out


def with_cie10(
    data: Path, kb_splits: list[str], eval_split: str, setting: dict[str, Any], k: int
) -> dict[str, Any] | None:
    """DisTEMIST ICD-10 mentions against mention KB + the ``cie`` package's CIE-10 table (None without it)."""
    from ...linking.builders import cie10_kb, with_table

    try:
        table = cie10_kb()
    except Exception as err:  # noqa: BLE001 - the package is optional
        logger.warning("CIE-10 table unavailable (%s): skipped", type(err).__name__)
        return None
    mentions = TerminologyKB.from_linking_rows(
        [r for split in kb_splits for r in read_rows(data, "distemist", split, "ICD10")]
    )
    return score(with_table(mentions, table), read_rows(data, "distemist", eval_split, "ICD10"), setting, k)


def _chains(data: Path, encoder: Path | None, reranker: Path | None, k: int, tables: bool) -> dict[str, Any]:
    """The ``chains`` part: KB from train + dev (+ CIE-10 table with ``tables``), test documents."""
    from ...linking.encoders import load_dense_encoder
    from ...linking.rerank import load_reranker
    from .linking_chain import run_chains

    def rows(split: str) -> list[dict[str, Any]]:
        return [r for corpus, systems in TARGETS.items() for s in systems for r in read_rows(data, corpus, split, s)]

    loaded = None
    if reranker is not None:
        if not reranker.is_file():
            raise ConfigError(f"Re-ranker file {reranker} not found: run train-reranker first.")
        loaded = load_reranker(reranker.read_bytes())
    dense = load_dense_encoder(encoder) if encoder is not None else None
    return {
        "protocol": "KB: train + dev mentions"
        + (", plus the CIE-10 table (cie package) for DisTEMIST ICD-10 and CodiEsp ICD-10-CM (lower-case codes)"
           if tables else "")
        + "; seen = normalized form among the KB's mentions; re-ranker and its NIL threshold from train-reranker "
        "(how it was fitted: its report, e.g. metrics/linking_reranker.json)",
        "tables": tables,
        "encoder": str(encoder) if encoder is not None else None,
        "reranker": str(reranker) if reranker is not None else None,
        "reranker_threshold": loaded.threshold if loaded is not None else None,
        "results": run_chains(
            rows("train") + rows("dev"), rows("test"), dense_encoder=dense, reranker=loaded, k=k, tables=tables
        ),
    }


def summary_line(name: str, res: dict[str, Any]) -> str:
    """One log line of a target's test scores."""
    return (
        f"{name:24s} n={res['all']['n']:4d} acc@1={res['all']['acc@1']:.3f} acc@5={res['all']['acc@5']:.3f}"
        f" | seen n={res['seen']['n']:4d} acc@1={res['seen']['acc@1']:.3f}"
        f" | unseen n={res['unseen']['n']:4d} acc@1={res['unseen']['acc@1']:.3f} acc@5={res['unseen']['acc@5']:.3f}"
        f" | ceiling={res['all']['gold_code_in_kb']:.3f}"
    )


def run_linking(
    data: Path | None,
    output: Path | None,
    *,
    setting_name: str = "final",
    k: int = 5,
    tuning: bool = True,
    command: str = "",
    encoder: Path | None = None,
    reranker: Path | None = None,
    tables: bool = True,
) -> dict[str, Any]:
    """Tune on dev, score on test; write ``output`` (JSON) and return the report.

    ``data`` is the linking corpus folder (``corpus/linking``); without it the
    corpus is built from the data directory into a temporary folder. With a
    fine-tuned ``encoder`` directory and/or a ``reranker`` file the report
    gains ``chains`` (:mod:`.linking_chain`: TF-IDF, + encoder, + re-ranker).
    """
    if setting_name not in SETTINGS:
        raise ConfigError(f"Unknown linking setting {setting_name!r}: choose one of {sorted(SETTINGS)}.")
    setting = SETTINGS[setting_name]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if data is None:
            from ...corpora.builders.linking import build_linking

            data = Path(tmp)
            build_linking(data)
        grid: dict[str, Any] = {}
        if tuning:
            for name, candidate in SETTINGS.items():
                grid[name] = {
                    target: {"acc@1": res["all"]["acc@1"], "acc@5": res["all"]["acc@5"]}
                    for target, res in evaluate(data, ["train"], "dev", candidate, k).items()
                }
                logger.info("dev %-22s %s", name, " ".join(f"{t}={v['acc@1']:.3f}" for t, v in grid[name].items()))
        results = evaluate(data, ["train", "dev"], "test", setting, k)
        train_kb = evaluate(data, ["train"], "test", setting, k)
        baseline = evaluate(data, ["train", "dev"], "test", SETTINGS["v1"], k)
        cie = with_cie10(data, ["train", "dev"], "test", setting, k)
        chains = None
        if encoder is not None or reranker is not None:
            chains = _chains(data, encoder, reranker, k, tables)
    report: dict[str, Any] = {
        "command": command,
        "encoder": "spacy_clinical_es.TfidfEncoder.v2 (char_wb 2-4-grams, abbreviations expanded)",
        "setting": {"name": setting_name, **setting},
        "candidates": "exact normalized match (1.0), word-key match (0.98), exact cosine nearest "
        "neighbours; code prior re-ranking",
        "protocol": "settings chosen on dev with a train-only KB (tuning); test scored once per "
        "setting with a train+dev KB (results) and a train-only KB (results_train_kb)",
        "kb_splits": ["train", "dev"],
        "eval_split": "test",
        "python": platform.python_version(),
        "seconds": round(time.perf_counter() - started, 1),
        "tuning_dev_train_kb": grid,
        "results": results,
        "results_train_kb": train_kb,
        "baseline_v1": baseline,
    }
    if cie is not None:
        report["distemist/ICD10+CIE10"] = cie
    if chains is not None:
        report["chains"] = chains
    if output is not None:
        write_json(report, output)
    for name, res in results.items():
        logger.info("test %s", summary_line(name, res))
    if cie is not None:
        logger.info("test %s", summary_line("distemist/ICD10+CIE10", cie))
    return report
