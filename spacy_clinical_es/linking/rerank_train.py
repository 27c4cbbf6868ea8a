"""Training the re-ranker of :mod:`.rerank` on the linking corpus, and choosing its NIL threshold on dev.

Training mentions looked up in a knowledge base built from the same mentions
would all be exact matches, which is not what a linker meets on new notes. So
the training rows come from document folds: for each (corpus, code system)
target, the training documents are split into ``folds``; the mentions of one
fold are retrieved against a knowledge base built from the others (unseen
forms and absent codes occur as they do on new documents). The dev split,
against a knowledge base from all of train, gives the accuracy and the
abstention curve from which the threshold is chosen (best F1 of
precision = correct / answered and recall = correct / all mentions).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .candidates import CandidateGenerator, LinkerOptions
from .encoders import Encoder
from .kb import LinkingError, TerminologyKB
from .rerank import LinearReranker, Retrieved, candidate_features, training_rows

logger = logging.getLogger(__name__)

#: (corpus, system) targets of the linking corpus.
TARGETS = (
    ("medprocner", "SNOMEDCT"),
    ("distemist", "SNOMEDCT"),
    ("distemist", "ICD10"),
    ("codiesp", "ICD10-CM"),
    ("codiesp", "ICD10-PCS"),
)

#: Builds the knowledge base of a target from its rows (e.g. adds the CIE-10 table).
KBBuilder = Callable[[str, str, Sequence[Mapping[str, Any]]], TerminologyKB]


def mention_kb(corpus: str, system: str, rows: Sequence[Mapping[str, Any]]) -> TerminologyKB:
    """The default :data:`KBBuilder`: the KB of the rows' mentions."""
    return TerminologyKB.from_linking_rows(rows)


def target_rows(rows: Sequence[Mapping[str, Any]], corpus: str, system: str) -> list[Mapping[str, Any]]:
    return [r for r in rows if r["corpus"] == corpus and r["system"] == system]


@dataclass
class Retrieval:
    """Mentions ``(text, label, gold)``, their retrieved codes and the KB they were retrieved from."""

    mentions: list[tuple[str, str | None, str]]
    retrieved: list[list[Retrieved]]
    kb: TerminologyKB


def retrieve(
    kb: TerminologyKB,
    rows: Sequence[Mapping[str, Any]],
    make_encoder: Callable[[], Encoder],
    dense_encoder: Encoder | None,
    options: LinkerOptions,
) -> Retrieval:
    """Retrieve candidates for ``rows`` against ``kb`` (a fresh TF-IDF encoder fitted on it)."""
    generator = CandidateGenerator(kb, make_encoder(), options=options, dense_encoder=dense_encoder).build()
    mentions = [(r["mention"], r.get("label"), r["code"]) for r in rows]
    return Retrieval(mentions, generator.retrieve([m[0] for m in mentions]), kb)


def fold_retrievals(
    train: Sequence[Mapping[str, Any]],
    make_encoder: Callable[[], Encoder],
    dense_encoder: Encoder | None,
    options: LinkerOptions,
    *,
    folds: int = 5,
    build_kb: KBBuilder = mention_kb,
) -> list[Retrieval]:
    """Document-fold retrievals of every target's training mentions (see the module docstring)."""
    if folds < 2:
        raise LinkingError(f"folds must be at least 2, got {folds}.")
    out = []
    for corpus, system in TARGETS:
        rows = target_rows(train, corpus, system)
        docs = sorted({r["doc_id"] for r in rows})
        fold_of = {doc: i % folds for i, doc in enumerate(docs)}
        for fold in range(folds):
            held = [r for r in rows if fold_of[r["doc_id"]] == fold]
            rest = [r for r in rows if fold_of[r["doc_id"]] != fold]
            if held and rest:
                out.append(retrieve(build_kb(corpus, system, rest), held, make_encoder, dense_encoder, options))
    return out


def rank(retrieval: Retrieval, reranker: LinearReranker | None) -> list[tuple[str | None, float]]:
    """(best code, its score) per mention: re-ranker probability, or the best retriever cosine without one."""
    best: list[tuple[str | None, float]] = []
    for (text, label, _), found in zip(retrieval.mentions, retrieval.retrieved):
        if not found:
            best.append((None, 0.0))
            continue
        if reranker is None:
            scores = np.asarray([1.0 if r.exact else max(r.tfidf, r.dense) for r in found])
        else:
            scores = reranker.predict(candidate_features(text, label, found, retrieval.kb))
        i = int(np.argmax(scores))
        best.append((found[i].code, float(scores[i])))
    return best


def abstention_curve(
    golds: Sequence[str], best: Sequence[tuple[str | None, float]], thresholds: Sequence[float]
) -> list[dict[str, float]]:
    """Precision (correct / answered), recall (correct / all) and F1 at each threshold."""
    curve = []
    n = len(golds)
    for t in thresholds:
        answered = [(g, c) for g, (c, s) in zip(golds, best) if c is not None and s >= t]
        correct = sum(g == c for g, c in answered)
        p = correct / len(answered) if answered else 0.0
        r = correct / n if n else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        curve.append({"threshold": round(float(t), 3), "answered": len(answered), "precision": round(p, 4),
                      "recall": round(r, 4), "f1": round(f, 4)})
    return curve


THRESHOLDS = tuple(round(x, 2) for x in np.arange(0.0, 0.96, 0.05))


def train_reranker(
    train: Sequence[Mapping[str, Any]],
    dev: Sequence[Mapping[str, Any]],
    make_encoder: Callable[[], Encoder],
    dense_encoder: Encoder | None,
    options: LinkerOptions,
    *,
    folds: int = 5,
    l2: float = 1.0,
    build_kb: KBBuilder = mention_kb,
) -> tuple[LinearReranker, dict[str, Any]]:
    """Fit a :class:`LinearReranker` on fold retrievals of ``train``; choose its threshold on ``dev``."""
    started = time.perf_counter()
    pooled = fold_retrievals(train, make_encoder, dense_encoder, options, folds=folds, build_kb=build_kb)
    blocks, labels, counts = [], [], {"mentions": 0, "gold_not_retrieved": 0, "rows": 0}
    for part in pooled:
        try:
            x, y, c = training_rows(part.mentions, part.retrieved, part.kb)
        except LinkingError:
            counts["mentions"] += len(part.mentions)
            counts["gold_not_retrieved"] += len(part.mentions)
            continue
        blocks.append(x)
        labels.append(y)
        for key in counts:
            counts[key] += c[key]
    reranker = LinearReranker(l2=l2).fit(np.concatenate(blocks), np.concatenate(labels))
    fit_seconds = time.perf_counter() - started
    per_target: dict[str, Any] = {}
    all_golds: list[str] = []
    all_best: list[tuple[str | None, float]] = []
    for corpus, system in TARGETS:
        rows = target_rows(dev, corpus, system)
        if not rows:
            continue
        part = retrieve(build_kb(corpus, system, target_rows(train, corpus, system)), rows, make_encoder,
                        dense_encoder, options)
        golds = [m[2] for m in part.mentions]
        best = rank(part, reranker)
        base = rank(part, None)
        per_target[f"{corpus}/{system}"] = {
            "n": len(rows),
            "acc@1_reranked": round(float(np.mean([g == b[0] for g, b in zip(golds, best)])), 4),
            "acc@1_max_cosine": round(float(np.mean([g == b[0] for g, b in zip(golds, base)])), 4),
        }
        all_golds += golds
        all_best += best
    curve = abstention_curve(all_golds, all_best, THRESHOLDS)
    chosen = max(curve, key=lambda point: (point["f1"], -point["threshold"]))
    reranker.threshold = chosen["threshold"]
    report = {
        "folds": folds,
        "l2": l2,
        "training": counts,
        "weights": reranker.coefficients(),
        "dev": per_target,
        "dev_curve": curve,
        "threshold": reranker.threshold,
        "seconds": round(time.perf_counter() - started, 1),
        "fit_seconds": round(fit_seconds, 1),
    }
    logger.info("re-ranker: %s rows, dev %s, threshold %.2f", counts["rows"], per_target, reranker.threshold)
    return reranker, report
