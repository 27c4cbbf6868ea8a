"""Nearest-neighbour search over encoded knowledge-base terms.

:class:`VectorIndex` is the protocol an approximate index would implement
later; :class:`ExactCosineIndex` is exact search by (sparse or dense) dot
products in query batches, which is fast enough for knowledge bases of tens
of thousands of terms.
"""
from __future__ import annotations

import io
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from .kb import LinkingError


@runtime_checkable
class VectorIndex(Protocol):
    """Top-k search of L2-normalised query rows against the indexed rows."""

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def to_bytes(self) -> bytes: ...

    def from_bytes(self, data: bytes) -> VectorIndex: ...


class ExactCosineIndex:
    """Exact cosine search: rows of ``matrix`` are L2-normalised term vectors."""

    def __init__(self, matrix: Any = None, *, batch_size: int = 512) -> None:
        self.matrix = sp.csr_matrix(matrix) if matrix is not None else None
        self.batch_size = max(1, int(batch_size))

    def __len__(self) -> int:
        return 0 if self.matrix is None else self.matrix.shape[0]

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (indices, scores), each (n_queries, min(k, len)), best first.

        Ties are broken by the lower row index, so results are deterministic.
        """
        if self.matrix is None:
            raise LinkingError("The index is empty: build it from a fitted encoder first.")
        queries = sp.csr_matrix(queries)
        if queries.shape[1] != self.matrix.shape[1]:
            raise LinkingError(
                f"Query width {queries.shape[1]} differs from the index width "
                f"{self.matrix.shape[1]}: encoder and index do not belong together."
            )
        k = min(int(k), self.matrix.shape[0])
        n = queries.shape[0]
        all_idx = np.zeros((n, k), dtype=np.int64)
        all_scores = np.zeros((n, k), dtype=np.float32)
        transposed = self.matrix.T.tocsc()
        for start in range(0, n, self.batch_size):
            block = (queries[start : start + self.batch_size] @ transposed).toarray()
            # stable sort on -score keeps the lower index first among ties
            order = np.argsort(-block, axis=1, kind="stable")[:, :k]
            all_idx[start : start + len(block)] = order
            all_scores[start : start + len(block)] = np.take_along_axis(block, order, axis=1)
        return all_idx, all_scores

    def to_bytes(self) -> bytes:
        if self.matrix is None:
            raise LinkingError("Cannot save an empty index.")
        buffer = io.BytesIO()
        sp.save_npz(buffer, self.matrix, compressed=True)
        return buffer.getvalue()

    def from_bytes(self, data: bytes) -> ExactCosineIndex:
        try:
            self.matrix = sp.csr_matrix(sp.load_npz(io.BytesIO(data)))
        except (ValueError, OSError, KeyError):
            raise LinkingError("Index data is not a saved ExactCosineIndex.") from None
        return self
