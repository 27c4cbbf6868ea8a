"""Text encoders for dense candidate search.

:class:`Encoder` is the protocol: ``fit`` on the knowledge base's terms,
``encode`` queries and terms into L2-normalised rows so that a dot product is
the cosine similarity. :class:`TfidfCharEncoder` is the offline default (no
weights to download): character n-gram TF-IDF over normalized text, as
scispaCy's linker does.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from .kb import LinkingError
from .normalize import normalize_term


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to L2-normalised vectors (a scipy sparse matrix or numpy array)."""

    def fit(self, texts: Sequence[str]) -> Encoder: ...

    def encode(self, texts: Sequence[str]) -> Any: ...

    def to_bytes(self) -> bytes: ...

    def from_bytes(self, data: bytes) -> Encoder: ...


class TfidfCharEncoder:
    """Character n-gram TF-IDF (sublinear tf, smoothed idf, L2 rows) over normalized text.

    Each text is normalized and padded with one space on both sides, so word
    boundaries become n-gram features. N-grams unseen at ``fit`` are ignored.
    """

    def __init__(self, ngram_range: tuple[int, int] = (3, 4), min_df: int = 1) -> None:
        low, high = int(ngram_range[0]), int(ngram_range[1])
        if low < 1 or high < low:
            raise LinkingError(f"ngram_range must be 1 <= low <= high, got {ngram_range!r}.")
        self.ngram_range = (low, high)
        self.min_df = max(1, int(min_df))
        self.vocab: dict[str, int] = {}
        self.idf: np.ndarray = np.zeros(0, dtype=np.float32)
        self.n_docs = 0

    @property
    def unseen_idf(self) -> float:
        """Smoothed idf of an n-gram absent from the fitted texts."""
        return math.log(1 + self.n_docs) + 1.0

    @property
    def is_fitted(self) -> bool:
        return bool(self.vocab)

    def _ngrams(self, text: str) -> Counter:
        padded = f" {normalize_term(text)} "
        low, high = self.ngram_range
        grams: Counter = Counter()
        for n in range(low, high + 1):
            for i in range(len(padded) - n + 1):
                grams[padded[i : i + n]] += 1
        return grams

    def fit(self, texts: Sequence[str]) -> TfidfCharEncoder:
        """Learn the n-gram vocabulary and idf weights from ``texts``."""
        df: Counter = Counter()
        for text in texts:
            df.update(self._ngrams(text).keys())
        kept = sorted(g for g, c in df.items() if c >= self.min_df)
        if not kept:
            raise LinkingError("TfidfCharEncoder.fit got no n-grams: give non-empty terms.")
        n_docs = len(texts)
        self.n_docs = n_docs
        self.vocab = {g: i for i, g in enumerate(kept)}
        self.idf = np.array(
            [math.log((1 + n_docs) / (1 + df[g])) + 1.0 for g in kept], dtype=np.float32
        )
        return self

    def encode(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return a (len(texts), n_features) CSR matrix of L2-normalised rows.

        N-grams unseen at ``fit`` have no column but still count in the row
        norm (with the idf of a never-seen n-gram), so unknown material lowers
        the cosine instead of being ignored. A text without known n-grams gets
        an all-zero row (cosine 0 with everything).
        """
        if not self.is_fitted:
            raise LinkingError("TfidfCharEncoder is not fitted: call fit() or load it first.")
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for text in texts:
            row: dict[int, float] = {}
            unknown = 0.0
            for gram, count in self._ngrams(text).items():
                if gram in self.vocab:
                    row[self.vocab[gram]] = 1.0 + math.log(count)
                else:
                    unknown += ((1.0 + math.log(count)) * self.unseen_idf) ** 2
            cols = sorted(row)
            values = np.array([row[c] for c in cols], dtype=np.float32) * self.idf[cols]
            norm = math.sqrt(float(np.dot(values, values)) + unknown)
            if norm > 0:
                values /= norm
            indices.extend(cols)
            data.extend(values.tolist())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int64), indptr),
            shape=(len(texts), len(self.vocab)),
        )

    def to_bytes(self) -> bytes:
        payload = {
            "ngram_range": list(self.ngram_range),
            "min_df": self.min_df,
            "n_docs": self.n_docs,
            "vocab": sorted(self.vocab, key=self.vocab.__getitem__),
            "idf": [float(x) for x in self.idf],
        }
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def from_bytes(self, data: bytes) -> TfidfCharEncoder:
        try:
            payload = json.loads(data.decode("utf-8"))
            grams = payload["vocab"]
            idf = np.asarray(payload["idf"], dtype=np.float32)
            ngram_range = tuple(payload["ngram_range"])
        except (ValueError, KeyError, TypeError):
            raise LinkingError("Encoder data is not a saved TfidfCharEncoder.") from None
        if len(grams) != len(idf):
            raise LinkingError("Saved TfidfCharEncoder has mismatched vocabulary and idf sizes.")
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.min_df = int(payload.get("min_df", 1))
        self.n_docs = int(payload.get("n_docs", 0))
        self.vocab = {g: i for i, g in enumerate(grams)}
        self.idf = idf
        return self
