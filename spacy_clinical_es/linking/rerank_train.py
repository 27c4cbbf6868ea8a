"""Training the re-ranker of :mod:`.rerank` on the linking corpus, and choosing its NIL threshold on dev.

Training mentions looked up in a knowledge base built from the same mentions
would all be exact matches, which is not what a linker meets on new notes.
Two ways to get realistic training rows (``fit_on``):

* ``"train"``: document folds of train. For each (corpus, code system)
  target the training documents are split into ``folds``; the mentions of
  one fold are retrieved against a knowledge base built from the others
  (unseen forms and absent codes occur as they do on new documents). The dev
  split, against a knowledge base from all of train, gives the accuracy and
  the abstention curve. Sound for the TF-IDF features; but a dense encoder
  fine-tuned on the training mentions has *seen* them, so its cosines look
  more trustworthy on train than they are on new documents.
* ``"dev"``: dev mentions against a knowledge base from train — mentions no
  fine-tuning saw. Dev documents are split into ``folds``; each fold is
  scored by a re-ranker fitted on the others (out-of-fold scores give the
  accuracy and the curve), and the saved re-ranker is fitted on all of dev.

Either way the threshold is the best F1 of precision = correct / answered and
recall = correct / all mentions on dev.
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
from .rerank import (
    LearnedReranker,
    Retrieved,
    make_reranker,
    rerank_scores,
    training_rows,
)

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


def rank(retrieval: Retrieval, reranker: LearnedReranker | None) -> list[tuple[str | None, float]]:
    """(best code, its score) per mention: re-ranker probability, or the best retriever cosine without one."""
    if reranker is None:
        per_mention = [np.asarray([1.0 if r.exact else max(r.tfidf, r.dense) for r in found])
                       for found in retrieval.retrieved]
    else:
        per_mention = rerank_scores(reranker, [(text, label) for text, label, _ in retrieval.mentions],
                                    retrieval.retrieved, retrieval.kb)
    best: list[tuple[str | None, float]] = []
    for found, scores in zip(retrieval.retrieved, per_mention):
        if not found:
            best.append((None, 0.0))
            continue
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


def _stack(parts: Sequence[Retrieval]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    blocks, labels, groups, counts = [], [], [], {"mentions": 0, "gold_not_retrieved": 0, "rows": 0}
    offset = 0
    for part in parts:
        try:
            x, y, g, c = training_rows(part.mentions, part.retrieved, part.kb)
        except LinkingError:  # no mention of this part has its gold code among the candidates
            counts["mentions"] += len(part.mentions)
            counts["gold_not_retrieved"] += len(part.mentions)
            continue
        blocks.append(x)
        labels.append(y)
        groups.append(g + offset)
        offset += len(y)
        for key in counts:
            counts[key] += c[key]
    if not blocks:
        raise LinkingError("No mention has its gold code among the candidates: nothing to train the re-ranker on.")
    return np.concatenate(blocks), np.concatenate(labels), np.concatenate(groups), counts


def _subset(part: Retrieval, keep: Sequence[int]) -> Retrieval:
    return Retrieval([part.mentions[i] for i in keep], [part.retrieved[i] for i in keep], part.kb)


FIT_ON = ("train", "dev")
#: The defaults, chosen on dev (``metrics/linking_reranker.json``): a re-ranker fitted on train folds trusts the
#: fine-tuned encoder, which has seen those mentions, too much (MedProcNER dev acc@1 0.563 vs 0.613 fitted on dev),
#: and the listwise objective gives the better NIL trade-off (dev F1 0.715 vs 0.704) at the same acc@1.
DEFAULT_FIT_ON = "dev"
DEFAULT_OBJECTIVE = "listwise"
#: Boosted trees (:class:`~.rerank_trees.TreeReranker`) over the linear model: out-of-fold dev acc@1 of CodiEsp
#: ICD-10-CM 0.7289 vs 0.7125, DisTEMIST ICD-10 0.7515 vs 0.6982, mean over the five targets 0.636 vs 0.622
#: (``metrics/linking_reranker.json`` and ``metrics/linking_reranker_linear.json``; the trees' grid in the README).
DEFAULT_MODEL = "trees"


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
    fit_on: str = DEFAULT_FIT_ON,
    objective: str = DEFAULT_OBJECTIVE,
    model: str = DEFAULT_MODEL,
    tree_settings: Mapping[str, Any] | None = None,
) -> tuple[LearnedReranker, dict[str, Any]]:
    """Fit a re-ranker (``model``: trees or linear; see the module docstring for ``fit_on``); choose its threshold
    on ``dev``. ``l2``/``objective`` apply to the linear model, ``tree_settings`` to the trees."""

    def fresh() -> LearnedReranker:
        return make_reranker(model, l2=l2, objective=objective, **dict(tree_settings or {}))

    if fit_on not in FIT_ON:
        raise LinkingError(f"fit_on must be one of {FIT_ON}, got {fit_on!r}.")
    if folds < 2:
        raise LinkingError(f"folds must be at least 2, got {folds}.")
    started = time.perf_counter()
    dev_parts: dict[str, tuple[Retrieval, list[str]]] = {}
    for corpus, system in TARGETS:
        rows = target_rows(dev, corpus, system)
        if rows:
            part = retrieve(build_kb(corpus, system, target_rows(train, corpus, system)), rows, make_encoder,
                            dense_encoder, options)
            dev_parts[f"{corpus}/{system}"] = (part, [str(r["doc_id"]) for r in rows])
    # out-of-sample (code, score) of every dev mention, target by target
    best_of: dict[str, list[tuple[str | None, float]]] = {}
    if fit_on == "train":
        x, y, g, counts = _stack(fold_retrievals(train, make_encoder, dense_encoder, options, folds=folds,
                                                 build_kb=build_kb))
        reranker = fresh().fit(x, y, g)
        for name, (part, _) in dev_parts.items():
            best_of[name] = rank(part, reranker)
    else:
        fold_of: dict[tuple[str, str], int] = {}
        for name, (_, docs) in dev_parts.items():
            for i, doc in enumerate(sorted(set(docs))):
                fold_of[(name, doc)] = i % folds
        for name, (part, _) in dev_parts.items():
            best_of[name] = [(None, 0.0)] * len(part.mentions)
        for fold in range(folds):
            fitted = [_subset(part, [i for i, d in enumerate(docs) if fold_of[(name, d)] != fold])
                      for name, (part, docs) in dev_parts.items()]
            x, y, g, _ = _stack(fitted)
            fold_model = fresh().fit(x, y, g)
            for name, (part, docs) in dev_parts.items():
                held = [i for i, d in enumerate(docs) if fold_of[(name, d)] == fold]
                for i, found in zip(held, rank(_subset(part, held), fold_model)):
                    best_of[name][i] = found
        x, y, g, counts = _stack([part for part, _ in dev_parts.values()])
        reranker = fresh().fit(x, y, g)
    fit_seconds = time.perf_counter() - started
    per_target: dict[str, Any] = {}
    all_golds: list[str] = []
    all_best: list[tuple[str | None, float]] = []
    for name, (part, _) in dev_parts.items():
        golds = [m[2] for m in part.mentions]
        best = best_of[name]
        base = rank(part, None)
        per_target[name] = {
            "n": len(golds),
            "acc@1_reranked": round(float(np.mean([g == b[0] for g, b in zip(golds, best)])), 4),
            "acc@1_max_cosine": round(float(np.mean([g == b[0] for g, b in zip(golds, base)])), 4),
        }
        all_golds += golds
        all_best += best
    curve = abstention_curve(all_golds, all_best, THRESHOLDS)
    chosen = max(curve, key=lambda point: (point["f1"], -point["threshold"]))
    reranker.threshold = chosen["threshold"]
    report = {
        "model": model,
        "fit_on": fit_on,
        "folds": folds,
        "settings": reranker.settings(),
        ("weights" if model == "linear" else "split_counts"): reranker.coefficients(),
        "training": counts,
        "dev": per_target,
        "dev_scores": "out of sample: fitted on train folds" if fit_on == "train" else "out of fold (dev documents)",
        "dev_curve": curve,
        "threshold": reranker.threshold,
        "seconds": round(time.perf_counter() - started, 1),
        "fit_seconds": round(fit_seconds, 1),
    }
    logger.info("re-ranker (%s, fitted on %s): %s rows, dev %s, threshold %.2f", model, fit_on, counts["rows"], per_target,
                reranker.threshold)
    return reranker, report
