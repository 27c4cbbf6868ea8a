"""Candidate generation: exact normalized match first, then dense nearest neighbours.

:class:`CandidateGenerator` ranks codes for a mention:

1. codes with a term whose normalized form equals the mention's get score
   ``1.0`` (source ``"exact"``);
2. with ``token_match``, codes with a term of the same word-order-insensitive
   key (:func:`~spacy_clinical_es.linking.normalize.token_key`: stems of the
   content words, abbreviations expanded) get ``token_score`` (source
   ``"tokens"``);
3. the encoder's nearest terms fill the list (source ``"dense"``), one entry
   per code with its best term's cosine; the index is exact search below
   ``ann_threshold`` terms and faiss from there on (:func:`~.index.build_index`);
4. with a second, ``dense_encoder`` (e.g. a self-aligned encoder from
   :mod:`.finetune`), its nearest terms join the list too (source
   ``"encoder"``);
5. re-ranking: with a learned ``reranker``
   (:class:`~.rerank.LinearReranker` or :class:`~.rerank_trees.TreeReranker`) every candidate gets its probability of
   being the gold code, from each retriever's cosine (computed for every
   candidate, whichever retriever found it) and the features of
   :mod:`.rerank`; otherwise the re-rank hooks (:data:`Reranker`) adjust
   scores and order, e.g. :func:`code_prior`, :func:`prefer_preferred_terms`,
   :func:`vocabulary_rank`, :func:`semantic_type_match`.

:meth:`CandidateGenerator.link` adds the nested fallback: when the best score
of a mention is under ``threshold``, its contiguous token sub-spans are tried
and the best-scoring one (longest first among equal scores) is linked instead.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import pairwise
from typing import Any, Optional

import numpy as np
import scipy.sparse as sp

from .encoders import Encoder, TfidfCharEncoder
from .index import AnnOptions, VectorIndex, build_index
from .kb import LinkingError, TerminologyKB
from .normalize import normalize_term
from .rerank import LearnedReranker, Retrieved, rerank_scores

EXACT = "exact"
TOKENS = "tokens"
DENSE = "dense"
ENCODER = "encoder"


@dataclass(frozen=True)
class Candidate:
    """One ranked code for a mention, with the KB term that matched it."""

    code: str
    score: float
    term: str
    source: str


#: (mention text, mention label or None, candidates best first, kb) → candidates.
Reranker = Callable[[str, Optional[str], list[Candidate], TerminologyKB], list[Candidate]]


@dataclass(frozen=True)
class LinkResult:
    """Candidates of a mention and the char span (relative to it) they were found for.

    ``span`` is ``(0, len(text))`` unless the nested fallback chose a sub-span.
    """

    candidates: list[Candidate]
    span: tuple[int, int]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def _sort(candidates: list[Candidate]) -> list[Candidate]:
    # stable: equal scores keep their previous order (exact before dense)
    return sorted(candidates, key=lambda c: -c.score)


def prefer_preferred_terms(bonus: float = 0.01) -> Reranker:
    """Add ``bonus`` when the matched term is the concept's preferred term."""

    def rerank(text: str, label: str | None, cands: list[Candidate], kb: TerminologyKB) -> list[Candidate]:
        out = []
        for c in cands:
            preferred = c.code in kb and normalize_term(kb[c.code].preferred_term) == c.term
            out.append(replace(c, score=c.score + bonus) if preferred else c)
        return _sort(out)

    return rerank


def vocabulary_rank(order: Sequence[str], step: float = 0.01) -> Reranker:
    """Favour vocabularies listed first in ``order`` (``step`` per rank; others get none)."""
    bonus = {vocab: step * (len(order) - i) for i, vocab in enumerate(order)}

    def rerank(text: str, label: str | None, cands: list[Candidate], kb: TerminologyKB) -> list[Candidate]:
        out = []
        for c in cands:
            vocab = kb[c.code].vocabulary if c.code in kb else None
            out.append(replace(c, score=c.score + bonus.get(vocab or "", 0.0)))
        return _sort(out)

    return rerank


def code_prior(weight: float = 0.02) -> Reranker:
    """Add ``weight · log(1 + frequency) / log(1 + max frequency)`` (the code prior).

    ``frequency`` is the concept's mention count (set by
    :meth:`TerminologyKB.from_linking_rows`); concepts without one get no
    bonus. Among near-equal candidates, the code annotated more often wins.
    """

    def rerank(text: str, label: str | None, cands: list[Candidate], kb: TerminologyKB) -> list[Candidate]:
        top = kb.max_frequency
        if top <= 0 or not cands:
            return cands
        scale = weight / math.log1p(top)
        out = []
        for c in cands:
            freq = kb[c.code].frequency if c.code in kb else None
            out.append(replace(c, score=c.score + scale * math.log1p(freq)) if freq else c)
        return _sort(out)

    return rerank


def semantic_type_match(
    label_types: dict[str, Sequence[str]] | None = None, bonus: float = 0.05
) -> Reranker:
    """Add ``bonus`` when the concept's semantic type fits the mention label.

    ``label_types`` maps a label to the accepted semantic types; without it
    (or for labels not in it) the type must equal the label.
    """
    mapping = {k: set(v) for k, v in (label_types or {}).items()}

    def rerank(text: str, label: str | None, cands: list[Candidate], kb: TerminologyKB) -> list[Candidate]:
        if label is None:
            return cands
        accepted = mapping.get(label, {label})
        out = []
        for c in cands:
            sem_type = kb[c.code].semantic_type if c.code in kb else None
            out.append(replace(c, score=c.score + bonus) if sem_type in accepted else c)
        return _sort(out)

    return rerank


@dataclass(frozen=True)
class LinkerOptions:
    """Every setting of candidate generation, in one object (the spaCy-free defaults).

    The library defaults are neutral (no word-key match, no re-ranking, no
    threshold); the ``clinical_es_entity_linker`` component states its own
    defaults once, in its ``default_config``, and passes them here.
    ``prior_weight``, ``preferred_bonus``, ``type_bonus`` and ``vocabularies``
    switch on the re-rankers of :meth:`rerankers` (zero / empty: off).
    """

    k: int = 5
    threshold: float = 0.0
    token_match: bool = False
    token_score: float = 0.98
    prior_weight: float = 0.0
    preferred_bonus: float = 0.0
    type_bonus: float = 0.0
    vocabularies: tuple[str, ...] = ()
    search_factor: int = 4
    max_sub_tokens: int = 8
    ann: AnnOptions = field(default_factory=AnnOptions)

    def __post_init__(self) -> None:
        if self.k < 1:
            raise LinkingError(f"k must be at least 1, got {self.k}.")
        object.__setattr__(self, "vocabularies", tuple(self.vocabularies))

    def rerankers(self) -> list[Reranker]:
        """The re-rankers these options switch on, in a fixed order."""
        rerankers: list[Reranker] = []
        if self.prior_weight:
            rerankers.append(code_prior(self.prior_weight))
        if self.preferred_bonus:
            rerankers.append(prefer_preferred_terms(self.preferred_bonus))
        if self.type_bonus:
            rerankers.append(semantic_type_match(bonus=self.type_bonus))
        if self.vocabularies:
            rerankers.append(vocabulary_rank(self.vocabularies))
        return rerankers

    def to_flat(self) -> dict[str, Any]:
        """The settings the component keeps in its ``cfg`` (flat, JSON-ready)."""
        return {
            "k": self.k,
            "threshold": self.threshold,
            "token_match": self.token_match,
            "token_score": self.token_score,
            "prior_weight": self.prior_weight,
            "preferred_bonus": self.preferred_bonus,
            "type_bonus": self.type_bonus,
            "vocabularies": list(self.vocabularies),
            "ann_threshold": self.ann.threshold,
            "ann_factory": self.ann.factory,
            "ann_nprobe": self.ann.nprobe,
        }

    @classmethod
    def from_flat(cls, cfg: Mapping[str, Any]) -> LinkerOptions:
        """Options from a flat mapping with the keys of :meth:`to_flat` (other keys are ignored)."""
        names = {f.name for f in fields(cls)} - {"ann"}
        ann = {key[len("ann_"):]: cfg[key] for key in ("ann_threshold", "ann_factory", "ann_nprobe") if key in cfg}
        return cls(
            **{key: cfg[key] for key in names if key in cfg},
            ann=AnnOptions(**ann),
        )


class CandidateGenerator:
    """Exact + dense candidate search over a :class:`~.kb.TerminologyKB`.

    Call :meth:`build` (fits the encoder on the KB terms unless
    ``fit_encoder=False``, then indexes them) before searching; or pass a
    fitted encoder and its index, e.g. loaded from disk. Settings come from
    ``options`` (:class:`LinkerOptions`), any field of which may be overridden
    by keyword; ``rerankers`` run after the ones the options switch on.
    """

    def __init__(
        self,
        kb: TerminologyKB,
        encoder: Encoder | None = None,
        index: VectorIndex | None = None,
        *,
        options: LinkerOptions | None = None,
        rerankers: Sequence[Reranker] = (),
        dense_encoder: Encoder | None = None,
        dense_index: VectorIndex | None = None,
        reranker: LearnedReranker | None = None,
        **overrides: Any,
    ) -> None:
        self.options = replace(options or LinkerOptions(), **overrides)
        self.kb = kb
        self.encoder = encoder if encoder is not None else TfidfCharEncoder()
        self.index = index
        self.dense_encoder = dense_encoder
        self.dense_index = dense_index
        self.reranker = reranker
        self.rerankers = self.options.rerankers() + list(rerankers)
        self._code_rows: dict[str, np.ndarray] | None = None

    @property
    def aliases(self) -> list[tuple[str, str]]:
        return self.kb.aliases

    def build(self, *, fit_encoder: bool = True) -> CandidateGenerator:
        """(Re)fit the encoder on the KB's normalized terms and index them."""
        terms = [norm for norm, _ in self.aliases]
        if not terms:
            raise LinkingError("The knowledge base has no terms: nothing to index.")
        if fit_encoder:
            self.encoder.fit(terms)
        self.index = build_index(self.encoder.encode(terms), self.options.ann)
        if self.dense_encoder is not None:
            self.dense_index = build_index(self.dense_encoder.fit(terms).encode(terms), self.options.ann)
        return self

    def _rows_of(self, code: str) -> np.ndarray:
        """Alias rows (index rows) of ``code``."""
        if self._code_rows is None:
            rows: dict[str, list[int]] = defaultdict(list)
            for i, (_, owner) in enumerate(self.aliases):
                rows[owner].append(i)
            self._code_rows = {c: np.asarray(r, dtype=np.int64) for c, r in rows.items()}
        return self._code_rows.get(code, np.zeros(0, dtype=np.int64))

    @staticmethod
    def _pair_scores(index: VectorIndex | None, queries: Any, mentions: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of query ``mentions[p]`` with term row ``rows[p]`` for every pair p (0 without an exact index)."""
        matrix = getattr(index, "matrix", None)
        if matrix is None or queries is None or not len(rows):
            return np.zeros(len(rows), dtype=np.float32)
        if sp.issparse(matrix):
            products = sp.csr_matrix(queries)[mentions].multiply(matrix[rows])
            return np.asarray(products.sum(axis=1), dtype=np.float32).reshape(-1)
        dense = queries.toarray() if sp.issparse(queries) else np.asarray(queries, dtype=np.float32)
        # pairs come grouped by mention: one matrix-vector product per mention keeps its query in cache
        # (gathering a query row for each pair took 7x longer on CodiEsp ICD-10-CM's 172,000 pairs)
        if np.any(np.diff(mentions) < 0):
            return np.einsum("ij,ij->i", dense[mentions], matrix[rows]).astype(np.float32)
        out = np.empty(len(rows), dtype=np.float32)
        bounds = np.searchsorted(mentions, np.arange(len(dense) + 1))
        for i, (lo, hi) in enumerate(pairwise(bounds)):
            if lo < hi:
                out[lo:hi] = matrix[rows[lo:hi]] @ dense[i]
        return out

    def retrieve(self, texts: Sequence[str]) -> list[list[Retrieved]]:
        """Every code found by any tier or retriever for each text, with both cosines (unordered).

        Each retriever contributes ``k * search_factor`` terms; a code's
        cosine under a retriever is that of its best alias, computed for every
        code found, all (mention, alias) pairs at once (exact indexes only; an
        approximate index gives 0).
        """
        if self.index is None or (self.dense_encoder is not None and self.dense_index is None):
            raise LinkingError("CandidateGenerator has no index: call build() first.")
        depth = self.options.k * max(1, self.options.search_factor)
        q1 = self.encoder.encode(list(texts))
        idx1, _ = self.index.search(q1, depth)
        q2 = idx2 = None
        if self.dense_encoder is not None:
            q2 = self.dense_encoder.encode(list(texts))
            idx2, _ = self.dense_index.search(q2, depth)
        aliases = self.aliases
        per_mention: list[tuple[list[str], set[str], set[str]]] = []
        pair_mention: list[np.ndarray] = []
        pair_rows: list[np.ndarray] = []
        for i, text in enumerate(texts):
            exact_codes = self.kb.exact(text)
            word_codes = self.kb.token_match(text) if self.options.token_match else []
            exact, word_key = set(exact_codes), set(word_codes)
            codes = dict.fromkeys(exact_codes + word_codes)  # KB order, not set order: ties break the same every run
            for j in idx1[i]:
                codes.setdefault(aliases[int(j)][1], None)
            if idx2 is not None:
                for j in idx2[i]:
                    codes.setdefault(aliases[int(j)][1], None)
            ordered = list(codes)
            per_mention.append((ordered, exact, word_key))
            for code in ordered:
                rows = self._rows_of(code)
                pair_rows.append(rows)
                pair_mention.append(np.full(len(rows), i, dtype=np.int64))
        flat_rows = np.concatenate(pair_rows) if pair_rows else np.zeros(0, dtype=np.int64)
        flat_mentions = np.concatenate(pair_mention) if pair_mention else np.zeros(0, dtype=np.int64)
        s1 = self._pair_scores(self.index, q1, flat_mentions, flat_rows)
        s2 = self._pair_scores(self.dense_index, q2, flat_mentions, flat_rows)
        out: list[list[Retrieved]] = []
        position = 0
        block = 0
        for text, (ordered, exact, word_key) in zip(texts, per_mention):
            found = []
            for code in ordered:
                n = len(pair_rows[block])
                block += 1
                if not n:
                    found.append(Retrieved(code, normalize_term(text), 0.0, 0.0, code in exact, code in word_key))
                    continue
                a, b = s1[position : position + n], s2[position : position + n]
                best1, best2 = (0, 0) if n == 1 else (int(np.argmax(a)), int(np.argmax(b)))
                row = flat_rows[position + (best2 if q2 is not None and b[best2] > a[best1] else best1)]
                position += n
                found.append(Retrieved(code, aliases[int(row)][0], float(a[best1]), float(b[best2]),
                                       code in exact, code in word_key))
            out.append(found)
        return out

    def _reranked(self, texts: Sequence[str], labels: Sequence[str | None]) -> list[list[Candidate]]:
        """Candidates ordered by the learned re-ranker's probability."""
        assert self.reranker is not None
        results = []
        retrieved = self.retrieve(texts)
        scores = rerank_scores(self.reranker, list(zip(texts, labels)), retrieved, self.kb)
        for found, probs in zip(retrieved, scores):
            if not found:
                results.append([])
                continue
            cands = [
                Candidate(r.code, float(p), r.term, EXACT if r.exact else TOKENS if r.word_key else
                          ENCODER if r.dense > r.tfidf else DENSE)
                for r, p in zip(found, probs)
            ]
            results.append(_sort(cands)[: self.options.k])
        return results

    def candidates(self, texts: Sequence[str], labels: Sequence[str | None] | None = None) -> list[list[Candidate]]:
        """Top-``k`` candidates for each text, best first.

        A (text, label) pair that recurs (notes repeat "HTA", "dolor") is
        searched once; every occurrence gets its own list of the same candidates.
        """
        if self.index is None:
            raise LinkingError("CandidateGenerator has no index: call build() first.")
        if labels is None:
            labels = [None] * len(texts)
        if len(labels) != len(texts):
            raise LinkingError(f"Got {len(texts)} texts but {len(labels)} labels.")
        keys = list(zip(texts, labels))
        unique = list(dict.fromkeys(keys))
        if len(unique) == len(keys):
            return self._unique_candidates(texts, labels)
        found = dict(zip(unique, self._unique_candidates([t for t, _ in unique], [lb for _, lb in unique])))
        return [list(found[key]) for key in keys]

    def _unique_candidates(self, texts: Sequence[str], labels: Sequence[str | None]) -> list[list[Candidate]]:
        aliases = self.aliases
        results: list[list[Candidate]] = []
        if not texts:
            return results
        if self.reranker is not None:
            return self._reranked(texts, labels)
        depth = self.options.k * max(1, self.options.search_factor)
        idx, scores = self.index.search(self.encoder.encode(list(texts)), depth)
        idx2 = scores2 = None
        if self.dense_encoder is not None:
            if self.dense_index is None:
                raise LinkingError("CandidateGenerator has no dense index: call build() first.")
            idx2, scores2 = self.dense_index.search(self.dense_encoder.encode(list(texts)), depth)
        for i, (text, label) in enumerate(zip(texts, labels)):
            norm = normalize_term(text)
            seen: set[str] = set()
            cands: list[Candidate] = []
            for code in self.kb.exact(text):
                if code not in seen:
                    seen.add(code)
                    cands.append(Candidate(code, 1.0, norm, EXACT))
            if self.options.token_match:
                for code in self.kb.token_match(text):
                    if code not in seen:
                        seen.add(code)
                        cands.append(Candidate(code, self.options.token_score, norm, TOKENS))
            for j, score in zip(idx[i], scores[i]):
                term, code = aliases[int(j)]
                if code not in seen and score > 0:
                    seen.add(code)
                    cands.append(Candidate(code, float(score), term, DENSE))
            if idx2 is not None:  # without a re-ranker: the second retriever's codes by their cosine
                for j, score in zip(idx2[i], scores2[i]):
                    term, code = aliases[int(j)]
                    if code not in seen and score > 0:
                        seen.add(code)
                        cands.append(Candidate(code, float(score), term, ENCODER))
                cands = _sort(cands)
            for rerank in self.rerankers:
                cands = rerank(text, label, cands, self.kb)
            results.append(cands[: self.options.k])
        return results

    def link(
        self,
        text: str,
        token_spans: Sequence[tuple[int, int]] | None = None,
        label: str | None = None,
    ) -> LinkResult:
        """Candidates for ``text``, with the nested fallback under ``threshold``.

        ``token_spans`` are the mention's token (start, end) char offsets
        relative to ``text``; without them, whitespace tokens are used.
        """
        return self.link_many([text], [token_spans], [label])[0]

    def link_many(
        self,
        texts: Sequence[str],
        token_spans: Sequence[Sequence[tuple[int, int]] | None] | None = None,
        labels: Sequence[str | None] | None = None,
    ) -> list[LinkResult]:
        """Batched :meth:`link` (sub-spans of all low-scoring mentions in one search)."""
        if token_spans is None:
            token_spans = [None] * len(texts)
        if labels is None:
            labels = [None] * len(texts)
        full = self.candidates(texts, labels)
        results = [LinkResult(c, (0, len(t))) for c, t in zip(full, texts)]
        # nested fallback: gather the sub-spans of every mention under threshold
        subs: list[tuple[int, int, int]] = []
        for i, (text, cands) in enumerate(zip(texts, full)):
            if cands and cands[0].score >= self.options.threshold:
                continue
            tokens = list(token_spans[i]) if token_spans[i] is not None else _ws_tokens(text)
            n = len(tokens)
            for length in range(min(n - 1, self.options.max_sub_tokens), 0, -1):
                for s in range(n - length + 1):
                    subs.append((i, tokens[s][0], tokens[s + length - 1][1]))
        if not subs:
            return results
        sub_cands = self.candidates(
            [texts[i][s:e] for i, s, e in subs], [labels[i] for i, _, _ in subs]
        )
        for (i, s, e), cands in zip(subs, sub_cands):
            if not cands or cands[0].score < self.options.threshold:
                continue
            current = results[i]
            is_sub = current.span != (0, len(texts[i]))
            # sub-spans come longest first: replace only on a strictly better score
            if not is_sub or cands[0].score > current.candidates[0].score:
                results[i] = LinkResult(cands, (s, e))
        return results


def _ws_tokens(text: str) -> list[tuple[int, int]]:
    spans = []
    start = None
    for i, ch in enumerate(text):
        if ch.isspace():
            if start is not None:
                spans.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        spans.append((start, len(text)))
    return spans
