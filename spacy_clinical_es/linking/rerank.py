"""A learned re-ranker over the candidates of exact + TF-IDF + dense retrieval.

:func:`candidate_features` describes one (mention, candidate code) pair with
:data:`FEATURES`: each retriever's cosine and its margin to the mention's best,
the exact and word-key tiers, character-trigram and word overlap with the
matched term, head-word match, semantic type vs mention label, code frequency
and whether the code comes from a table only (no annotated mention).
:class:`LinearReranker` is a logistic regression on those features (standardised,
L2-regularised, fitted with L-BFGS): its probability that the candidate is the
gold code orders the candidates and, under a dev-chosen threshold, abstains
(NIL). Weights are a few floats in JSON. Nothing here imports spaCy.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .kb import LinkingError, TerminologyKB
from .normalize import (
    STOP_WORDS,
    expand_abbreviations,
    light_stem,
    normalize_term,
    tokens,
)

#: Feature names, in the order of :func:`candidate_features`' vector.
FEATURES = (
    "tfidf",
    "tfidf_margin",
    "dense",
    "dense_margin",
    "exact",
    "word_key",
    "char_overlap",
    "word_overlap",
    "head_match",
    "type_match",
    "no_label",
    "log_frequency",
    "table_only",
    "length_ratio",
    "abbreviation",
)


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _content_stems(text: str) -> list[str]:
    words = expand_abbreviations(tokens(text))
    return [light_stem(w) for w in words if w not in STOP_WORDS] or [light_stem(w) for w in words]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass(frozen=True)
class Retrieved:
    """What retrieval knows of one candidate code: its best term and each retriever's cosine."""

    code: str
    term: str
    tfidf: float
    dense: float
    exact: bool
    word_key: bool


class MentionFeatures:
    """Features of every candidate of one mention (the mention's own parts computed once)."""

    def __init__(self, text: str, label: str | None, kb: TerminologyKB) -> None:
        self.norm = normalize_term(text)
        self.label = label
        self.kb = kb
        self.grams = _trigrams(self.norm)
        self.stems = _content_stems(text)
        self.stem_set = set(self.stems)
        self.abbreviation = float(expand_abbreviations(tokens(text)) != tokens(text))
        self.max_log_freq = math.log1p(kb.max_frequency) if kb.max_frequency else 1.0

    def vector(self, cand: Retrieved, best_tfidf: float, best_dense: float) -> list[float]:
        concept = self.kb.concepts.get(cand.code)
        term_stems = _content_stems(cand.term)
        frequency = (concept.frequency or 0) if concept is not None else 0
        sem_type = concept.semantic_type if concept is not None else None
        return [
            cand.tfidf,
            cand.tfidf - best_tfidf,
            cand.dense,
            cand.dense - best_dense,
            float(cand.exact),
            float(cand.word_key),
            _jaccard(self.grams, _trigrams(normalize_term(cand.term))),
            _jaccard(self.stem_set, set(term_stems)),
            float(bool(self.stems and term_stems and self.stems[0] == term_stems[0])),
            float(self.label is not None and sem_type == self.label),
            float(self.label is None or sem_type is None),
            math.log1p(frequency) / self.max_log_freq,
            float(frequency == 0),
            min(len(term_stems), 8) / max(1, min(len(self.stems), 8)),
            self.abbreviation,
        ]


def candidate_features(
    text: str, label: str | None, cands: Sequence[Retrieved], kb: TerminologyKB
) -> np.ndarray:
    """A (len(cands), len(FEATURES)) matrix for one mention's candidates."""
    if not cands:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    mention = MentionFeatures(text, label, kb)
    best_tfidf = max(c.tfidf for c in cands)
    best_dense = max(c.dense for c in cands)
    return np.asarray([mention.vector(c, best_tfidf, best_dense) for c in cands], dtype=np.float32)


class LinearReranker:
    """Logistic regression P(candidate is the gold code | features), standardised inputs."""

    kind = "linear-reranker"

    def __init__(self, l2: float = 1.0, threshold: float = 0.0) -> None:
        self.l2 = float(l2)
        self.threshold = float(threshold)
        self.mean = np.zeros(len(FEATURES), dtype=np.float64)
        self.scale = np.ones(len(FEATURES), dtype=np.float64)
        self.weights = np.zeros(len(FEATURES), dtype=np.float64)
        self.bias = 0.0
        self.fitted = False

    def fit(self, features: np.ndarray, labels: np.ndarray) -> LinearReranker:
        """Fit on stacked candidate rows and 0/1 labels (1: the gold code)."""
        from scipy.optimize import minimize

        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(FEATURES) or len(x) != len(y):
            raise LinkingError(f"Re-ranker features must be (n, {len(FEATURES)}) with n labels.")
        if y.min() == y.max():
            raise LinkingError("Re-ranker training needs both gold and non-gold candidates.")
        self.mean = x.mean(axis=0)
        self.scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        z = (x - self.mean) / self.scale
        n = len(y)

        def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = params[:-1], params[-1]
            logits = z @ w + b
            p = 1.0 / (1.0 + np.exp(-logits))
            value = np.sum(np.logaddexp(0.0, logits) - y * logits) / n + 0.5 * self.l2 * w @ w / n
            grad_logits = (p - y) / n
            grad = np.concatenate([z.T @ grad_logits + self.l2 * w / n, [grad_logits.sum()]])
            return float(value), grad

        result = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B")
        self.weights, self.bias = result.x[:-1], float(result.x[-1])
        self.fitted = True
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """P(gold) for each candidate row."""
        if not self.fitted:
            raise LinkingError("The re-ranker is not trained: run the linker's re-ranker training or load it.")
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias)))

    def coefficients(self) -> dict[str, float]:
        """Standardised weight of each feature (for the metrics file)."""
        return {name: round(float(w), 4) for name, w in zip(FEATURES, self.weights)}

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "kind": self.kind,
                "features": list(FEATURES),
                "l2": self.l2,
                "threshold": self.threshold,
                "mean": self.mean.tolist(),
                "scale": self.scale.tolist(),
                "weights": self.weights.tolist(),
                "bias": self.bias,
            }
        ).encode("utf-8")

    def from_bytes(self, data: bytes) -> LinearReranker:
        try:
            payload = json.loads(data.decode("utf-8"))
            if payload.get("kind") != self.kind or list(payload["features"]) != list(FEATURES):
                raise ValueError("kind or features")
            mean, scale, weights = (np.asarray(payload[k], dtype=np.float64) for k in ("mean", "scale", "weights"))
            bias, l2, threshold = float(payload["bias"]), float(payload["l2"]), float(payload["threshold"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LinkingError(
                "Re-ranker data is not a saved LinearReranker of this version: train the re-ranker again."
            ) from None
        if not (len(mean) == len(scale) == len(weights) == len(FEATURES)):
            raise LinkingError("Saved re-ranker has the wrong number of weights: train it again.")
        self.mean, self.scale, self.weights, self.bias = mean, scale, weights, bias
        self.l2, self.threshold, self.fitted = l2, threshold, True
        return self


def training_rows(
    mentions: Sequence[tuple[str, str | None, str]],
    retrieved: Sequence[Sequence[Retrieved]],
    kb: TerminologyKB,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Stacked features and labels of mentions ``(text, label, gold code)`` whose gold code was retrieved.

    Mentions without the gold code among their candidates teach nothing to a
    re-ranker and are counted apart (``counts["gold_not_retrieved"]``).
    """
    blocks, labels = [], []
    counts = {"mentions": len(mentions), "gold_not_retrieved": 0, "rows": 0}
    for (text, label, gold), cands in zip(mentions, retrieved):
        if not any(c.code == gold for c in cands):
            counts["gold_not_retrieved"] += 1
            continue
        blocks.append(candidate_features(text, label, cands, kb))
        labels.extend(float(c.code == gold) for c in cands)
    if not blocks:
        raise LinkingError("No mention has its gold code among the candidates: nothing to train the re-ranker on.")
    features = np.concatenate(blocks)
    counts["rows"] = len(features)
    return features, np.asarray(labels), counts


def settings_of(reranker: LinearReranker | None) -> Mapping[str, Any]:
    """Small summary for logs and metrics."""
    if reranker is None:
        return {}
    return {"threshold": reranker.threshold, "l2": reranker.l2, "weights": reranker.coefficients()}
