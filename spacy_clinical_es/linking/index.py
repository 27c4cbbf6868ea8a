"""Nearest-neighbour search over encoded knowledge-base terms.

:class:`VectorIndex` is the protocol. Two implementations, chosen by
:func:`build_index` from the number of terms (:attr:`AnnOptions.threshold`):

* :class:`ExactCosineIndex`: exact search by (sparse or dense) dot products in
  query batches; fast enough for tens of thousands of terms and the default
  for the knowledge bases built from the corpora.
* :class:`FaissIndex`: approximate search with faiss for large knowledge
  bases (hundreds of thousands to millions of terms).

Why faiss rather than hnswlib: faiss-cpu ships prebuilt wheels for Linux,
macOS and Windows while hnswlib's current release is a source distribution
that needs a C++ compiler at install time; faiss serializes an index to a
byte buffer (``serialize_index``), which fits spaCy's ``to_bytes`` /
``to_disk`` without temporary files; and one factory string switches between
an inverted file (``IVF…,SQ8``: k-means on a sample, then one assignment per
vector, so the index of 1,000,000 terms builds in under a minute on two cores;
``SQ8`` stores each projected vector as 8-bit codes, a quarter of ``Flat``'s
memory, which costs nothing here since candidates are re-scored exactly) and a
graph (``HNSW32,Flat``: better recall per query but a much slower build). Neither
library indexes sparse vectors (scispaCy used nmslib's sparse space, whose
wheels stopped at old Pythons), so sparse TF-IDF rows are projected onto
their top singular vectors (truncated SVD fitted on a sample) for the
approximate step, and the candidates it returns are re-scored exactly with
the sparse rows: the returned scores are true cosines; only recall is
approximate.
"""
from __future__ import annotations

import io
import logging
import math
import os
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from .kb import LinkingError

logger = logging.getLogger(__name__)

_SPARSE_TAG = b"SPRS"
_DENSE_TAG = b"DENS"
_FAISS_TAG = b"FAIS"
_ADD_CHUNK = 100_000


@dataclass(frozen=True)
class AnnOptions:
    """When the approximate index is used and how it is built (the one place of these defaults).

    ``threshold``: number of terms from which :func:`build_index` builds a
    :class:`FaissIndex` (``0``: never). The other fields configure
    :class:`FaissIndex` (see there).
    """

    threshold: int = 200_000
    factory: str = "IVF{nlist},SQ8"
    nprobe: int = 16
    dim: int = 128
    sample: int = 50_000
    rescore_factor: int = 4
    seed: int = 0
    batch_size: int = 1024


@runtime_checkable
class VectorIndex(Protocol):
    """Top-k search of L2-normalised query rows against the indexed rows."""

    def __len__(self) -> int: ...

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def to_bytes(self) -> bytes: ...

    def from_bytes(self, data: bytes) -> VectorIndex: ...


def _top_k(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns per row, best first, ties by lower column."""
    if k < block.shape[1]:
        part = np.argpartition(block, block.shape[1] - k, axis=1)[:, -k:]
        # argpartition breaks ties arbitrarily: widen to every column tied with the k-th score
        kth = np.take_along_axis(block, part, axis=1).min(axis=1, keepdims=True)
        rows = []
        for i in range(block.shape[0]):
            cand = np.flatnonzero(block[i] >= kth[i])
            order = np.lexsort((cand, -block[i, cand]))[:k]
            rows.append(cand[order])
        order = np.vstack(rows)
    else:
        order = np.argsort(-block, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(block, order, axis=1)


def _top_k_sparse(block: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_top_k` of a sparse score block without making it dense (same result, ties by lower column).

    Only a row's stored scores compete for its first places; when it has fewer
    than ``k`` positive ones, its lowest columns not stored (score 0) fill the
    rest, as the dense ordering would. A row with a negative score (no TF-IDF
    row has one) takes the dense path.
    """
    block = block.tocsr()
    block.eliminate_zeros()
    n = block.shape[0]
    idx = np.zeros((n, k), dtype=np.int64)
    scores = np.zeros((n, k), dtype=np.float32)
    indptr, indices, data = block.indptr, block.indices, block.data
    for i in range(n):
        cols, vals = indices[indptr[i] : indptr[i + 1]], data[indptr[i] : indptr[i + 1]]
        if len(vals) and vals.min() < 0:
            idx[i], scores[i] = (a[0] for a in _top_k(block[i].toarray(), k))
            continue
        if len(vals) > k:
            kth = np.partition(vals, len(vals) - k)[len(vals) - k]
            keep = vals >= kth
            cols, vals = cols[keep], vals[keep]
        order = np.lexsort((cols, -vals))[:k]
        taken = len(order)
        idx[i, :taken], scores[i, :taken] = cols[order], vals[order]
        if taken < k:  # zeros, lowest columns first
            stored = set(cols.tolist())
            fill = [c for c in range(k) if c not in stored][: k - taken]  # k <= width; at most `taken` are stored
            idx[i, taken:] = fill
    return idx, scores


class ExactCosineIndex:
    """Exact cosine search: rows of ``matrix`` (sparse or dense) are L2-normalised term vectors."""

    def __init__(self, matrix: Any = None, *, batch_size: int = 512) -> None:
        self.matrix: Any = None
        self.batch_size = max(1, int(batch_size))
        if matrix is not None:
            self.matrix = sp.csr_matrix(matrix, dtype=np.float32) if sp.issparse(matrix) else np.asarray(
                matrix, dtype=np.float32
            )

    def __len__(self) -> int:
        return 0 if self.matrix is None else self.matrix.shape[0]

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (indices, scores), each (n_queries, min(k, len)), best first.

        Ties are broken by the lower row index, so results are deterministic.
        """
        if self.matrix is None:
            raise LinkingError("The index is empty: build it from a fitted encoder first.")
        if queries.shape[1] != self.matrix.shape[1]:
            raise LinkingError(
                f"Query width {queries.shape[1]} differs from the index width "
                f"{self.matrix.shape[1]}: encoder and index do not belong together."
            )
        sparse = sp.issparse(self.matrix)
        if sparse:
            queries = sp.csr_matrix(queries)
            transposed = self.matrix.T.tocsc()
        else:
            queries = queries.toarray() if sp.issparse(queries) else np.asarray(queries, dtype=np.float32)
            transposed = self.matrix.T
        k = min(int(k), self.matrix.shape[0])
        n = queries.shape[0]
        all_idx = np.zeros((n, k), dtype=np.int64)
        all_scores = np.zeros((n, k), dtype=np.float32)
        for start in range(0, n, self.batch_size):
            block = queries[start : start + self.batch_size] @ transposed
            idx, scores = _top_k_sparse(block, k) if sp.issparse(block) else _top_k(np.asarray(block), k)
            all_idx[start : start + len(idx)] = idx
            all_scores[start : start + len(idx)] = scores
        return all_idx, all_scores

    def to_bytes(self) -> bytes:
        if self.matrix is None:
            raise LinkingError("Cannot save an empty index.")
        buffer = io.BytesIO()
        if sp.issparse(self.matrix):
            buffer.write(_SPARSE_TAG)
            sp.save_npz(buffer, self.matrix, compressed=True)
        else:
            buffer.write(_DENSE_TAG)
            np.save(buffer, self.matrix, allow_pickle=False)
        return buffer.getvalue()

    def from_bytes(self, data: bytes) -> ExactCosineIndex:
        tag, body = data[:4], data[4:]
        try:
            if tag == _DENSE_TAG:
                self.matrix = np.load(io.BytesIO(body), allow_pickle=False)
            else:  # tagged sparse, or an untagged file of an earlier version
                payload = body if tag == _SPARSE_TAG else data
                self.matrix = sp.csr_matrix(sp.load_npz(io.BytesIO(payload)))
        except (ValueError, OSError, KeyError, EOFError):
            raise LinkingError("Index data is not a saved ExactCosineIndex.") from None
        return self


def _import_faiss() -> Any:
    try:
        import faiss
    except ImportError:  # pragma: no cover - depends on the environment
        raise LinkingError(
            "The approximate index needs faiss: pip install faiss-cpu (or raise ann_threshold "
            "to keep exact search)."
        ) from None
    return faiss


class FaissIndex:
    """Approximate inner-product search with faiss; sparse rows via SVD projection + exact re-scoring.

    ``factory`` is a faiss index-factory string; ``{nlist}`` is replaced by
    about ``sqrt(n)`` inverted lists (at least 1, at most ``n / 39`` so
    k-means has enough points). ``nprobe`` lists are visited per query.
    Sparse input is projected onto ``dim`` SVD components fitted on up to
    ``sample`` rows; ``rescore_factor · k`` approximate neighbours are then
    re-scored with the exact sparse cosine.
    """

    def __init__(self, matrix: Any = None, options: AnnOptions | None = None, **overrides: Any) -> None:
        """``options`` (default :class:`AnnOptions`), with any of its fields overridden by keyword."""
        opts = replace(options or AnnOptions(), **overrides)
        self.factory = opts.factory
        self.nprobe = max(1, int(opts.nprobe))
        self.dim = max(1, int(opts.dim))
        self.sample = max(1, int(opts.sample))
        self.rescore_factor = max(1, int(opts.rescore_factor))
        self.seed = int(opts.seed)
        self.batch_size = max(1, int(opts.batch_size))
        self.index: Any = None
        self.projection: np.ndarray | None = None  # (features, dim) for sparse input
        self.rows: sp.csr_matrix | None = None  # sparse rows kept for exact re-scoring
        self.width = 0
        self._pid = os.getpid()
        if matrix is not None:
            self.build(matrix)

    def __len__(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    # -- building ----------------------------------------------------------------

    def _fit_projection(self, matrix: sp.csr_matrix) -> np.ndarray:
        from scipy.sparse.linalg import svds

        rng = np.random.default_rng(self.seed)
        n = matrix.shape[0]
        rows = rng.choice(n, size=min(n, self.sample), replace=False) if n > self.sample else np.arange(n)
        sample = matrix[np.sort(rows)].astype(np.float64)
        k = min(self.dim, min(sample.shape) - 1)
        if k < 1:
            # degenerate (one row or one feature): identity on the used columns
            return np.eye(matrix.shape[1], min(self.dim, matrix.shape[1]), dtype=np.float32)
        _, _, vt = svds(sample, k=k, random_state=self.seed)
        return np.ascontiguousarray(vt.T, dtype=np.float32)

    def _project(self, queries: Any) -> np.ndarray:
        if self.projection is not None:
            dense = np.asarray(sp.csr_matrix(queries) @ self.projection, dtype=np.float32)
        else:
            dense = queries.toarray() if sp.issparse(queries) else np.asarray(queries)
            dense = np.asarray(dense, dtype=np.float32)
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        return np.ascontiguousarray(dense / np.maximum(norms, 1e-12))

    def build(self, matrix: Any) -> FaissIndex:
        """Index the rows of ``matrix`` (sparse or dense, L2-normalised)."""
        faiss = _import_faiss()
        n, self.width = matrix.shape
        if n == 0:
            raise LinkingError("Cannot build an index without rows.")
        if sp.issparse(matrix):
            self.rows = sp.csr_matrix(matrix, dtype=np.float32)
            self.projection = self._fit_projection(self.rows)
        else:
            self.rows = None
            self.projection = None
        nlist = max(1, min(int(math.sqrt(n)), n // 39))
        factory = self.factory.format(nlist=nlist)
        width = self.projection.shape[1] if self.projection is not None else self.width
        try:
            index = faiss.index_factory(width, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError:
            raise LinkingError(f"faiss cannot build an index from the factory string {factory!r}.") from None
        if not index.is_trained:
            rng = np.random.default_rng(self.seed)
            size = min(n, 64 * nlist)
            rows = np.sort(rng.choice(n, size=size, replace=False)) if size < n else np.arange(n)
            index.train(self._project(matrix[rows]))
        # project and add in chunks: the dense copy of all rows never exists at once
        for start in range(0, n, _ADD_CHUNK):
            index.add(self._project(matrix[start : start + _ADD_CHUNK]))
        self.index = index
        self._set_nprobe()
        return self

    def _set_nprobe(self) -> None:
        faiss = _import_faiss()
        try:
            faiss.extract_index_ivf(self.index).nprobe = self.nprobe
        except RuntimeError:
            pass  # not an inverted-file index
        if hasattr(self.index, "hnsw"):
            self.index.hnsw.efSearch = max(self.index.hnsw.efSearch, 4 * self.nprobe)

    # -- searching ----------------------------------------------------------------

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (indices, scores), each (n_queries, min(k, len)), best first."""
        if self.index is None:
            raise LinkingError("The index is empty: build it from a fitted encoder first.")
        if os.getpid() != self._pid:
            # a forked child (nlp.pipe(n_process=...)): the parent's OpenMP threads do not
            # exist here and faiss would wait for them forever, so search single-threaded
            _import_faiss().omp_set_num_threads(1)
            self._pid = os.getpid()
        if queries.shape[1] != self.width:
            raise LinkingError(
                f"Query width {queries.shape[1]} differs from the index width {self.width}: "
                "encoder and index do not belong together."
            )
        k = min(int(k), len(self))
        n = queries.shape[0]
        all_idx = np.zeros((n, k), dtype=np.int64)
        all_scores = np.zeros((n, k), dtype=np.float32)
        fetch = min(len(self), k * (self.rescore_factor if self.rows is not None else 1))
        for start in range(0, n, self.batch_size):
            block = queries[start : start + self.batch_size]
            scores, idx = self.index.search(self._project(block), fetch)
            if self.rows is not None:
                scores = self._rescore(sp.csr_matrix(block), idx)
            # unfilled slots (-1) sort last; ties by the lower row index
            scores = np.where(idx < 0, -np.inf, scores)
            order = np.lexsort((np.where(idx < 0, np.iinfo(np.int64).max, idx), -scores), axis=1)[:, :k]
            idx = np.take_along_axis(idx, order, axis=1)
            scores = np.take_along_axis(scores, order, axis=1)
            end = start + block.shape[0]
            all_idx[start:end] = np.where(idx < 0, 0, idx)
            all_scores[start:end] = np.where(np.isfinite(scores), scores, 0.0)
        return all_idx, all_scores

    def _rescore(self, queries: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
        """Exact cosine of each query with each of its candidate rows."""
        b, c = idx.shape
        flat = np.where(idx < 0, 0, idx).ravel()
        candidates = self.rows[flat]
        repeated = queries[np.repeat(np.arange(b), c)]
        exact = np.asarray(candidates.multiply(repeated).sum(axis=1)).ravel()
        return exact.reshape(b, c).astype(np.float32)

    # -- serialization ------------------------------------------------------------

    def to_bytes(self) -> bytes:
        if self.index is None:
            raise LinkingError("Cannot save an empty index.")
        faiss = _import_faiss()
        arrays: dict[str, np.ndarray] = {
            "faiss": faiss.serialize_index(self.index),
            "settings": np.array(
                [self.nprobe, self.dim, self.sample, self.rescore_factor, self.seed, self.width],
                dtype=np.int64,
            ),
            "factory": np.frombuffer(self.factory.encode("utf-8"), dtype=np.uint8),
        }
        if self.projection is not None and self.rows is not None:
            arrays["projection"] = self.projection
            arrays["data"] = self.rows.data
            arrays["indices"] = self.rows.indices
            arrays["indptr"] = self.rows.indptr
        buffer = io.BytesIO()
        buffer.write(_FAISS_TAG)
        np.savez(buffer, **arrays)
        del arrays  # the serialized faiss copy: free it before the buffer is copied out
        return buffer.getvalue()

    def from_bytes(self, data: bytes) -> FaissIndex:
        faiss = _import_faiss()
        if data[:4] != _FAISS_TAG:
            raise LinkingError("Index data is not a saved FaissIndex.")
        try:
            with np.load(io.BytesIO(data[4:]), allow_pickle=False) as arrays:
                nprobe, dim, sample, rescore, seed, width = (int(x) for x in arrays["settings"])
                self.factory = arrays["factory"].tobytes().decode("utf-8")
                self.index = faiss.deserialize_index(arrays["faiss"])
                if "projection" in arrays:
                    self.projection = arrays["projection"]
                    self.rows = sp.csr_matrix(
                        (arrays["data"], arrays["indices"], arrays["indptr"]),
                        shape=(int(self.index.ntotal), width),
                    )
                else:
                    self.projection = self.rows = None
        except (ValueError, OSError, KeyError, EOFError, RuntimeError):
            raise LinkingError("Index data is not a saved FaissIndex.") from None
        self.nprobe, self.dim, self.sample, self.rescore_factor, self.seed, self.width = (
            nprobe, dim, sample, rescore, seed, width,
        )
        self._set_nprobe()
        return self


def build_index(vectors: Any, options: AnnOptions | None = None) -> ExactCosineIndex | FaissIndex:
    """Exact search below ``options.threshold`` rows, :class:`FaissIndex` from there on."""
    options = options or AnnOptions()
    n = vectors.shape[0]
    if options.threshold > 0 and n >= options.threshold:
        logger.info("%d terms >= ann threshold %d: approximate (faiss) index", n, options.threshold)
        return FaissIndex(vectors, options)
    return ExactCosineIndex(vectors)


def index_from_bytes(data: bytes) -> ExactCosineIndex | FaissIndex:
    """Load an index saved by either class (chosen by the leading tag)."""
    if data[:4] == _FAISS_TAG:
        return FaissIndex().from_bytes(data)
    return ExactCosineIndex().from_bytes(data)
