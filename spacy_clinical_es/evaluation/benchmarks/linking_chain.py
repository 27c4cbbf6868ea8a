"""Linking chains side by side on held-out documents: TF-IDF, + fine-tuned encoder, + learned re-ranker.

Every chain searches the same knowledge base per target: the mentions of the
KB splits plus, for ICD-10 targets, the CIE-10 table of the ``cie`` package
(:func:`kb_builder`; CodiEsp's ICD-10-CM codes are matched in lower case). For
each target and chain: acc@1/@5 on all, seen and unseen mention forms (seen:
the normalized form occurs among the KB's *mentions*, so adding a table does
not move a mention between the groups), the ceiling (share of mentions whose
gold code is in the KB), acc@1 divided by the ceiling, and search speed
(mentions per second, one process, the whole chain: encoding, search,
features, re-ranking; best of three passes, the first pass's rate beside
it). With the re-ranker, its dev-chosen threshold gives the NIL trade-off:
answered share, precision and recall, and the test curve.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...linking import (
    CandidateGenerator,
    LinkerOptions,
    TerminologyKB,
    TfidfCharEncoder,
    normalize_term,
)
from ...linking.encoders import Encoder
from ...linking.rerank import LearnedReranker
from ...linking.rerank_train import (
    TARGETS,
    KBBuilder,
    abstention_curve,
    mention_kb,
    target_rows,
)
from .linking import SETTINGS, seen_unseen_scores, setting_options

logger = logging.getLogger(__name__)

#: The TF-IDF setting every chain starts from: the one chosen on dev for the linker (``benchmark linking``'s ``final``).
FINAL = SETTINGS["final"]


def tfidf_encoder() -> TfidfCharEncoder:
    """A fresh TF-IDF encoder of the :data:`FINAL` setting."""
    return TfidfCharEncoder(**FINAL["encoder"])


def chain_options(k: int = 5) -> LinkerOptions:
    """The candidate options of the :data:`FINAL` setting with ``k`` candidates per mention."""
    return setting_options(FINAL, k)


def kb_builder(tables: bool = True) -> KBBuilder:
    """Mention KB, plus the CIE-10 table for ICD-10 (DisTEMIST) and ICD-10-CM (CodiEsp) when ``tables``."""
    if not tables:
        return mention_kb
    from ...linking.builders import cie10_kb, with_table

    table = cie10_kb()

    def build(corpus: str, system: str, rows: Sequence[Mapping[str, Any]]) -> TerminologyKB:
        kb = mention_kb(corpus, system, rows)
        if system == "ICD10-CM":
            return with_table(kb, table, lowercase=True)
        if system == "ICD10":
            return with_table(kb, table)
        return kb

    return build


def score_chain(
    generator: CandidateGenerator,
    kb_rows: Sequence[Mapping[str, Any]],
    test: Sequence[Mapping[str, Any]],
    repeats: int = 3,
) -> dict[str, Any]:
    """Scores of one chain (a built generator) on ``test``; counts only, no text.

    Speed: the best of ``repeats`` passes over the test mentions (the first pass
    also fills the per-term caches of the features; its rate is kept beside).
    """
    kb, reranker = generator.kb, generator.reranker
    texts = [r["mention"] for r in test]
    labels = [r.get("label") for r in test]
    generator.candidates(texts[:1], labels[:1])  # one-off work (the KB's word statistics) out of the timing
    passes = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        ranked = generator.candidates(texts, labels)
        passes.append(time.perf_counter() - started)
    seconds = min(passes)
    result: dict[str, Any] = {
        "kb_concepts": len(kb),
        "kb_terms": len(kb.aliases),
        "eval_mentions": len(test),
        "search_seconds": round(seconds, 3),
        "mentions_per_second": round(len(test) / seconds, 1) if seconds > 0 else None,
        "first_pass_mentions_per_second": round(len(test) / passes[0], 1) if passes[0] > 0 else None,
    }
    known = {normalize_term(r["mention"]) for r in kb_rows}  # the KB's *mentions*: table terms do not make a form seen
    for name, scores in seen_unseen_scores(kb, test, ranked, known).items():
        ceiling = scores["gold_code_in_kb"]
        scores["gold_code_in_kb"] = round(ceiling, 4)
        scores["acc@1_of_ceiling"] = round(scores["acc@1"] / ceiling, 4) if ceiling else 0.0
        result[name] = scores
    if reranker is not None:
        golds = [r["code"] for r in test]
        best = [(c[0].code, c[0].score) if c else (None, 0.0) for c in ranked]
        at = abstention_curve(golds, best, [reranker.threshold])[0]
        result["nil"] = {**at, "answered_share": round(at["answered"] / len(test), 4) if test else 0.0}
        result["nil_curve"] = abstention_curve(golds, best, [round(x, 2) for x in np.arange(0.0, 0.96, 0.1)])
    return result


def run_chains(
    kb_rows: Sequence[Mapping[str, Any]],
    test: Sequence[Mapping[str, Any]],
    *,
    dense_encoder: Encoder | None,
    reranker: LearnedReranker | None,
    k: int = 5,
    tables: bool = True,
) -> dict[str, dict[str, Any]]:
    """``{chain: {target: scores}}`` for TF-IDF, + encoder (when given), + re-ranker (when given)."""
    build = kb_builder(tables)
    options = chain_options(k)
    chains: dict[str, tuple[Encoder | None, LearnedReranker | None]] = {"tfidf": (None, None)}
    if dense_encoder is not None:
        chains["tfidf+encoder"] = (dense_encoder, None)
    if reranker is not None:
        chains["tfidf+encoder+reranker" if dense_encoder is not None else "tfidf+reranker"] = (dense_encoder, reranker)
    out: dict[str, dict[str, Any]] = {name: {} for name in chains}
    for corpus, system in TARGETS:
        rows = target_rows(kb_rows, corpus, system)
        evaluated = target_rows(test, corpus, system)
        if not rows or not evaluated:
            continue
        full = CandidateGenerator(build(corpus, system, rows), tfidf_encoder(), options=options,
                                  dense_encoder=dense_encoder).build()  # indexes shared by every chain
        for name, (encoder, rr) in chains.items():
            generator = CandidateGenerator(
                full.kb, full.encoder, full.index, options=options, dense_encoder=encoder,
                dense_index=full.dense_index if encoder is not None else None, reranker=rr,
            )
            res = score_chain(generator, rows, evaluated)
            out[name][f"{corpus}/{system}"] = res
            logger.info(
                "%-24s %-20s acc@1=%.3f unseen=%.3f ceiling=%.3f %s mentions/s",
                name, f"{corpus}/{system}", res["all"]["acc@1"], res["unseen"]["acc@1"],
                res["all"]["gold_code_in_kb"], res["mentions_per_second"],
            )
    return out
