"""A learned re-ranker over the candidates of exact + TF-IDF + dense retrieval.

:func:`candidate_features` describes one (mention, candidate code) pair with
:data:`FEATURES`: each retriever's cosine and its margin to the mention's best,
the exact and word-key tiers, character-trigram and word overlap with the
matched term, head-word match, semantic type vs mention label, code frequency,
whether the code comes from a table only (no annotated mention), how strongly
the mention's words are associated with the code in the knowledge base
(:class:`KBStats`: share of the KB terms holding a word that belong to the
code), how much support the code's ICD-10 category gets from the other
candidates, and whether the code is an ICD-10 code with more specific codes
below it in the knowledge base (a category such as "K81" beside "K81.9":
coders pick the leaf).
:class:`LinearReranker` is a logistic regression on those features (standardised,
L2-regularised, fitted with L-BFGS); :class:`~.rerank_trees.TreeReranker`
boosted trees on the same rows. Either gives each candidate a probability of
being the gold code, which orders the candidates and, under a dev-chosen
threshold, abstains (NIL); both are small JSON files (:func:`load_reranker`
reads either). Nothing here imports spaCy.
"""
from __future__ import annotations

import functools
import json
import math
import re
import weakref
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

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
    "word_code_mean",
    "word_code_max",
    "category_support",
    "has_children",
)

_ICD = re.compile(r"^[a-zA-Z][0-9][0-9a-zA-Z]")


class KBStats:
    """Word → code association of a knowledge base: for each content stem, the codes of the terms holding it."""

    def __init__(self, kb: TerminologyKB) -> None:
        by_stem: dict[str, Counter] = defaultdict(Counter)
        # through _term_parts when the KB fits its cache: the features' per-term cache is filled here, once per
        # KB, instead of during the first mentions linked
        warm = len(kb.aliases) <= _TERM_CACHE_SIZE
        for norm, code in kb.aliases:
            for stem in _term_parts(norm)[2] if warm else set(_content_stems(norm)):
                by_stem[stem][code] += 1
        self.by_stem = {stem: (codes, sum(codes.values())) for stem, codes in by_stem.items()}
        # ICD-10 codes with a more specific code in the KB (a prefix of another code, dots and case aside)
        prefixes = {_icd_key(c)[:i] for c in kb.concepts if _ICD.match(c) for i in range(3, len(_icd_key(c)))}
        self.parents = {c for c in kb.concepts if _ICD.match(c) and _icd_key(c) in prefixes}

    def stem_codes(self, stems: Sequence[str]) -> list[tuple[Counter, int]]:
        """The (codes, term count) entries of the known ``stems``: looked up once per mention."""
        return [self.by_stem[s] for s in stems if s in self.by_stem]

    @staticmethod
    def association(entries: Sequence[tuple[Counter, int]], code: str) -> tuple[float, float]:
        """(mean, max) over a mention's :meth:`stem_codes` of the share of their terms that belong to ``code``."""
        shares = [codes[code] / total for codes, total in entries]
        return (sum(shares) / len(shares), max(shares)) if shares else (0.0, 0.0)

    def has_children(self, code: str) -> bool:
        """Whether ``code`` is an ICD-10 code with a more specific code in the KB (other systems: False)."""
        return code in self.parents

    @classmethod
    def of(cls, kb: TerminologyKB) -> KBStats:
        """The stats of ``kb``, computed once per KB object (and again when its aliases change)."""
        key = id(kb)
        cached = _STATS_CACHE.get(key)
        if cached is not None and cached[0]() is kb and cached[1].n_aliases == len(kb.aliases):
            return cached[1]
        stats = cls(kb)
        stats.n_aliases = len(kb.aliases)
        _STATS_CACHE[key] = (weakref.ref(kb), stats)
        return stats

    n_aliases = 0


#: id(kb) → (weak reference to the kb, its stats); a reused id is caught by the weak reference.
_STATS_CACHE: dict[int, tuple[weakref.ref, KBStats]] = {}


def _icd_key(code: str) -> str:
    return code.replace(".", "").upper()


def _category(code: str) -> str | None:
    """The 3-character ICD-10 category of ``code`` (None for other code systems)."""
    return code[:3].upper() if _ICD.match(code) else None


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _content_stems(text: str) -> list[str]:
    words = expand_abbreviations(tokens(text))
    return [light_stem(w) for w in words if w not in STOP_WORDS] or [light_stem(w) for w in words]


_TERM_CACHE_SIZE = 65536


@functools.lru_cache(maxsize=_TERM_CACHE_SIZE)
def _term_parts(term: str) -> tuple[frozenset[str], tuple[str, ...], frozenset[str]]:
    """(character trigrams, content stems, their set) of a KB term: terms recur across mentions, so cached."""
    stems = tuple(_content_stems(term))
    return frozenset(_trigrams(normalize_term(term))), stems, frozenset(stems)


def _jaccard(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
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
        self.stats = KBStats.of(kb)
        self.norm = normalize_term(text)
        self.label = label
        self.kb = kb
        self.grams = _trigrams(self.norm)
        self.stems = _content_stems(text)
        self.stem_set = set(self.stems)
        self.stem_codes = self.stats.stem_codes(self.stems)
        self.abbreviation = float(expand_abbreviations(tokens(text)) != tokens(text))
        self.max_log_freq = math.log1p(kb.max_frequency) if kb.max_frequency else 1.0

    def vector(self, cand: Retrieved, best_tfidf: float, best_dense: float, support: float) -> list[float]:
        concept = self.kb.concepts.get(cand.code)
        word_mean, word_max = self.stats.association(self.stem_codes, cand.code)
        term_grams, term_stems, term_stem_set = _term_parts(cand.term)
        frequency = (concept.frequency or 0) if concept is not None else 0
        sem_type = concept.semantic_type if concept is not None else None
        return [
            cand.tfidf,
            cand.tfidf - best_tfidf,
            cand.dense,
            cand.dense - best_dense,
            float(cand.exact),
            float(cand.word_key),
            _jaccard(self.grams, term_grams),
            _jaccard(self.stem_set, term_stem_set),
            float(bool(self.stems and term_stems and self.stems[0] == term_stems[0])),
            float(self.label is not None and sem_type == self.label),
            float(self.label is None or sem_type is None),
            math.log1p(frequency) / self.max_log_freq,
            float(frequency == 0),
            min(len(term_stems), 8) / max(1, min(len(self.stems), 8)),
            self.abbreviation,
            word_mean,
            word_max,
            support,
            float(self.stats.has_children(cand.code)),
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
    # category support: the other candidates' best cosines, summed per ICD-10 category
    by_category: dict[str, float] = defaultdict(float)
    scores = [1.0 if c.exact else max(c.tfidf, c.dense) for c in cands]
    categories = [_category(c.code) for c in cands]
    for category, score in zip(categories, scores):
        if category is not None:
            by_category[category] += score
    support = [by_category[cat] - score if cat is not None else 0.0 for cat, score in zip(categories, scores)]
    return np.asarray(
        [mention.vector(c, best_tfidf, best_dense, s) for c, s in zip(cands, support)], dtype=np.float32
    )


def training_arrays(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate rows and 0/1 labels as float64 arrays, checked: (n, len(FEATURES)), n labels, both classes."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or len(x) != len(y):
        raise LinkingError(f"Re-ranker features must be (n, {len(FEATURES)}) with n labels.")
    if not len(y) or y.min() == y.max():
        raise LinkingError("Re-ranker training needs both gold and non-gold candidates.")
    return x, y


def saved_payload(data: bytes, kind: str) -> dict[str, Any]:
    """The JSON object of a saved re-ranker of ``kind`` over this version's :data:`FEATURES`.

    Raises ``ValueError`` (or ``KeyError``/``TypeError``) for anything else: each ``from_bytes`` turns that into its
    "train the re-ranker again" error.
    """
    payload = json.loads(data.decode("utf-8"))
    if payload.get("kind") != kind or list(payload["features"]) != list(FEATURES):
        raise ValueError("kind or features")
    return payload


def sigmoid(log_odds: np.ndarray) -> np.ndarray:
    """Probabilities of log-odds (the pointwise re-rankers' output)."""
    return 1.0 / (1.0 + np.exp(-log_odds))


def _block_softmax(scores: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax of ``scores`` within each block of rows (``starts``: each block's first row, in order), and each
    block's log normaliser (log-sum-exp), computed from the block's maximum so that no exp overflows."""
    owner = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(scores))))
    top = np.maximum.reduceat(scores, starts)
    e = np.exp(scores - top[owner])
    total = np.add.reduceat(e, starts)
    return e / total[owner], top + np.log(total)


OBJECTIVES = ("pointwise", "listwise")


class LinearReranker:
    """A linear score over standardised features, fitted pointwise or listwise.

    ``pointwise``: logistic regression, P(candidate is the gold code).
    ``listwise``: conditional logit, the softmax of the scores over one
    mention's candidates (the rows given to :meth:`predict` together), fitted
    on the mentions whose gold code was retrieved. Either way :meth:`predict`
    gives numbers in [0, 1] that order the candidates and that the NIL
    threshold is compared with.
    """

    kind = "linear-reranker"

    def __init__(self, l2: float = 1.0, threshold: float = 0.0, objective: str = "pointwise") -> None:
        if objective not in OBJECTIVES:
            raise LinkingError(f"objective must be one of {OBJECTIVES}, got {objective!r}.")
        self.l2 = float(l2)
        self.threshold = float(threshold)
        self.objective = objective
        self.mean = np.zeros(len(FEATURES), dtype=np.float64)
        self.scale = np.ones(len(FEATURES), dtype=np.float64)
        self.weights = np.zeros(len(FEATURES), dtype=np.float64)
        self.bias = 0.0
        self.fitted = False

    def fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None) -> LinearReranker:
        """Fit on stacked candidate rows and 0/1 labels (1: the gold code).

        ``groups`` (listwise only): the start row of each mention's block, in order.
        """
        from scipy.optimize import minimize

        x, y = training_arrays(features, labels)
        if self.objective == "listwise" and groups is None:
            raise LinkingError("A listwise re-ranker needs the start row of each mention's candidates (groups).")
        self.mean = x.mean(axis=0)
        self.scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        z = (x - self.mean) / self.scale
        if self.objective == "pointwise":
            n = len(y)

            def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
                w, b = params[:-1], params[-1]
                logits = z @ w + b
                p = sigmoid(logits)
                value = np.sum(np.logaddexp(0.0, logits) - y * logits) / n + 0.5 * self.l2 * w @ w / n
                grad_logits = (p - y) / n
                grad = np.concatenate([z.T @ grad_logits + self.l2 * w / n, [grad_logits.sum()]])
                return float(value), grad

            result = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B")
            self.weights, self.bias = result.x[:-1], float(result.x[-1])
        else:
            starts = np.asarray(groups, dtype=np.int64)
            m = len(starts)

            def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
                s = z @ w
                p, log_normaliser = _block_softmax(s, starts)
                value = -(np.add.reduceat(y * s, starts) - log_normaliser).sum() / m + 0.5 * self.l2 * w @ w / m
                grad = z.T @ (p - y) / m + self.l2 * w / m
                return float(value), grad

            result = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B")
            self.weights, self.bias = result.x, 0.0
        self.fitted = True
        return self

    def predict(self, features: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
        """P(gold) of each row (pointwise), or the softmax over each mention's rows (listwise).

        ``starts``: the first row of each mention's candidates, in order (listwise; without it all rows are
        one mention's).
        """
        if not self.fitted:
            raise LinkingError("The re-ranker is not trained: run the linker's re-ranker training or load it.")
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        scores = z @ self.weights + self.bias
        if self.objective == "pointwise":
            return sigmoid(scores)
        if not len(scores):
            return scores
        starts = np.zeros(1, dtype=np.int64) if starts is None else np.asarray(starts, dtype=np.int64)
        return _block_softmax(scores, starts)[0]

    def settings(self) -> dict[str, Any]:
        return {"objective": self.objective, "l2": self.l2}

    def coefficients(self) -> dict[str, float]:
        """Standardised weight of each feature (for the metrics file)."""
        return {name: round(float(w), 4) for name, w in zip(FEATURES, self.weights)}

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "kind": self.kind,
                "objective": self.objective,
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
            payload = saved_payload(data, self.kind)
            mean, scale, weights = (np.asarray(payload[k], dtype=np.float64) for k in ("mean", "scale", "weights"))
            bias, l2, threshold = float(payload["bias"]), float(payload["l2"]), float(payload["threshold"])
            objective = payload.get("objective", "pointwise")
            if objective not in OBJECTIVES:
                raise ValueError(objective)
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise LinkingError(
                "Re-ranker data is not a saved LinearReranker of this version: train the re-ranker again."
            ) from None
        if not (len(mean) == len(scale) == len(weights) == len(FEATURES)):
            raise LinkingError("Saved re-ranker has the wrong number of weights: train it again.")
        self.mean, self.scale, self.weights, self.bias = mean, scale, weights, bias
        self.l2, self.threshold, self.objective, self.fitted = l2, threshold, objective, True
        return self


@runtime_checkable
class LearnedReranker(Protocol):
    """What :class:`~.candidates.CandidateGenerator` needs of a fitted re-ranker (linear or trees)."""

    kind: str
    threshold: float
    fitted: bool

    def fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None) -> Any: ...

    def predict(self, features: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray: ...

    def coefficients(self) -> dict[str, float]: ...

    def settings(self) -> dict[str, Any]: ...

    def to_bytes(self) -> bytes: ...

    def from_bytes(self, data: bytes) -> Any: ...


#: ``train-reranker --model`` choices.
MODELS = ("trees", "linear")


def make_reranker(model: str, *, l2: float = 1.0, objective: str = "listwise", **tree_settings: Any) -> LearnedReranker:
    """A fresh re-ranker: ``"trees"`` (:class:`~.rerank_trees.TreeReranker`) or ``"linear"``."""
    if model == "linear":
        return LinearReranker(l2=l2, objective=objective)
    if model == "trees":
        from .rerank_trees import TreeReranker

        return TreeReranker(**tree_settings)
    raise LinkingError(f"Re-ranker model must be one of {MODELS}, got {model!r}.")


def load_reranker(data: bytes) -> LearnedReranker:
    """A saved re-ranker of either kind (``reranker.json`` of ``train-reranker``)."""
    from .rerank_trees import TreeReranker

    try:
        kind = json.loads(data.decode("utf-8")).get("kind")
    except (ValueError, AttributeError, UnicodeDecodeError):
        kind = None
    for cls in (LinearReranker, TreeReranker):
        if kind == cls.kind:
            return cls().from_bytes(data)
    raise LinkingError("Re-ranker data is not a saved re-ranker of this version: train the re-ranker again.")


def rerank_scores(
    reranker: LearnedReranker,
    mentions: Sequence[tuple[str, str | None]],
    retrieved: Sequence[Sequence[Retrieved]],
    kb: TerminologyKB,
) -> list[np.ndarray]:
    """The re-ranker's probability of every candidate of every mention, in one ``predict`` call.

    One call for all mentions keeps the per-call cost (the trees' walk, the
    standardisation) out of the per-mention loop; a listwise model still gets
    each mention's softmax through the block starts.
    """
    blocks = [candidate_features(text, label, found, kb) for (text, label), found in zip(mentions, retrieved)]
    sizes = [len(b) for b in blocks]
    if not sum(sizes):
        return [np.zeros(0) for _ in blocks]
    kept = [b for b in blocks if len(b)]
    starts = np.cumsum([0] + [len(b) for b in kept[:-1]]).astype(np.int64)
    probs = reranker.predict(np.concatenate(kept), starts)
    return np.split(probs, np.cumsum(sizes)[:-1])


def training_rows(
    mentions: Sequence[tuple[str, str | None, str]],
    retrieved: Sequence[Sequence[Retrieved]],
    kb: TerminologyKB,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Stacked features, labels and group starts of mentions ``(text, label, gold code)`` whose gold code was retrieved.

    Mentions without the gold code among their candidates teach nothing to a
    re-ranker and are counted apart (``counts["gold_not_retrieved"]``).
    """
    blocks, labels, starts = [], [], []
    counts = {"mentions": len(mentions), "gold_not_retrieved": 0, "rows": 0}
    for (text, label, gold), cands in zip(mentions, retrieved):
        if not any(c.code == gold for c in cands):
            counts["gold_not_retrieved"] += 1
            continue
        starts.append(len(labels))
        blocks.append(candidate_features(text, label, cands, kb))
        labels.extend(float(c.code == gold) for c in cands)
    if not blocks:
        raise LinkingError("No mention has its gold code among the candidates: nothing to train the re-ranker on.")
    features = np.concatenate(blocks)
    counts["rows"] = len(features)
    return features, np.asarray(labels), np.asarray(starts, dtype=np.int64), counts
