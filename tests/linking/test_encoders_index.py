from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.linking import (
    AnnOptions,
    Encoder,
    ExactCosineIndex,
    FaissIndex,
    LinkingError,
    TfidfCharEncoder,
    VectorIndex,
    build_index,
    index_from_bytes,
)

TERMS = ["tomografia computarizada", "resonancia magnetica", "apendicectomia", "apendicitis"]


def test_rows_are_l2_normalised_and_similar_strings_are_closer() -> None:
    enc = TfidfCharEncoder().fit(TERMS)
    assert isinstance(enc, Encoder)
    m = enc.encode(TERMS + ["tomografía computerizada", "zzzz"])
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
    assert np.allclose(norms[:4], 1.0, atol=1e-5)
    assert 0.5 < norms[4] < 0.99  # unseen n-grams count in the norm, not in the row
    assert norms[5] == 0.0  # no known n-gram: zero row
    sims = (m[4] @ m[:4].T).toarray().ravel()
    assert int(np.argmax(sims)) == 0
    assert sims[0] > 0.5 > sims[1]


def test_unknown_ngrams_lower_the_cosine() -> None:
    enc = TfidfCharEncoder().fit(TERMS)
    m = enc.encode(["apendicitis", "apendicitis qqq www", TERMS[3]])
    sims = (m[:2] @ m[2].T).toarray().ravel()
    assert sims[0] == pytest.approx(1.0, abs=1e-5)
    assert sims[1] < 0.8


def test_bytes_round_trip_gives_identical_vectors() -> None:
    enc = TfidfCharEncoder((2, 5)).fit(TERMS)
    loaded = TfidfCharEncoder().from_bytes(enc.to_bytes())
    assert loaded.ngram_range == (2, 5)
    assert (enc.encode(["apendice"]) != loaded.encode(["apendice"])).nnz == 0


def test_encoder_errors() -> None:
    with pytest.raises(LinkingError, match="fit"):
        TfidfCharEncoder().encode(["x"])
    with pytest.raises(LinkingError):
        TfidfCharEncoder((4, 3))
    with pytest.raises(LinkingError):
        TfidfCharEncoder().from_bytes(b"not json")


def test_exact_cosine_index_top_k_and_ties() -> None:
    enc = TfidfCharEncoder().fit(TERMS)
    index = ExactCosineIndex(enc.encode(TERMS + [TERMS[0]]), batch_size=2)
    assert isinstance(index, VectorIndex)
    idx, scores = index.search(enc.encode(["apendicitis", "tomografia computarizada", "resonancia"]), 3)
    assert idx.shape == (3, 3)
    assert idx[0, 0] == 3 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert list(idx[1, :2]) == [0, 4]  # tie: lower row first
    assert idx[2, 0] == 1
    assert np.all(np.diff(scores, axis=1) <= 1e-7)
    loaded = ExactCosineIndex().from_bytes(index.to_bytes())
    idx2, _scores2 = loaded.search(enc.encode(["apendicitis"]), 10)
    assert idx2.shape == (1, 5)
    assert idx2[0, 0] == 3


def test_index_errors() -> None:
    with pytest.raises(LinkingError, match="empty"):
        ExactCosineIndex().search(np.zeros((1, 3)), 1)
    index = ExactCosineIndex(np.eye(3))
    with pytest.raises(LinkingError, match="width"):
        index.search(np.zeros((1, 4)), 1)


# -- TF-IDF v2 options ---------------------------------------------------------------


def test_abbreviations_bring_an_acronym_next_to_its_expansion() -> None:
    terms = ["quimioterapia", "radioterapia", "tomografia computarizada", "hemodialisis"]
    plain = TfidfCharEncoder((2, 4), analyzer="char_wb").fit(terms)
    expanded = TfidfCharEncoder((2, 4), analyzer="char_wb", abbreviations=True).fit(terms)
    for enc, expect_match in ((plain, False), (expanded, True)):
        sims = (enc.encode(["QT", "TC"]) @ enc.encode(terms).T).toarray()
        assert bool(int(np.argmax(sims[0])) == 0 and sims[0, 0] > 0.99) is expect_match
        assert bool(int(np.argmax(sims[1])) == 2 and sims[1, 2] > 0.99) is expect_match


def test_char_wb_keeps_ngrams_inside_words() -> None:
    enc = TfidfCharEncoder((3, 3), analyzer="char_wb").fit(["ab cd"])
    assert "b c" not in enc.vocab and " ab" in enc.vocab and "cd " in enc.vocab
    crossing = TfidfCharEncoder((3, 3)).fit(["ab cd"])
    assert "b c" in crossing.vocab


def test_word_weight_blends_word_stem_cosine() -> None:
    terms = ["trasplante renal", "rinon artificial"]
    enc = TfidfCharEncoder((3, 4), analyzer="char_wb", word_weight=0.5).fit(terms)
    m = enc.encode(["trasplantes renales"] + terms)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
    assert np.allclose(norms[1:], 1.0, atol=1e-5)
    char_only = TfidfCharEncoder((3, 4), analyzer="char_wb").fit(terms)
    c = char_only.encode(["trasplantes renales"] + terms)
    # same stems → the word block adds 0.5 · 1.0: the blend beats the char cosine alone
    assert (m[0] @ m[1].T).toarray()[0, 0] > (c[0] @ c[1].T).toarray()[0, 0]
    loaded = TfidfCharEncoder().from_bytes(enc.to_bytes())
    assert loaded.settings() == enc.settings()
    assert (loaded.encode(["renal"]) != enc.encode(["renal"])).nnz == 0
    with pytest.raises(LinkingError):
        TfidfCharEncoder(word_weight=1.0)
    with pytest.raises(LinkingError):
        TfidfCharEncoder(analyzer="words")


def test_encoder_from_bytes_dispatches_on_kind() -> None:
    from spacy_clinical_es.linking import (
        SentenceTransformerEncoder,
        TransformerEncoder,
        encoder_from_bytes,
    )

    tfidf = TfidfCharEncoder((2, 3)).fit(TERMS)
    assert isinstance(encoder_from_bytes(tfidf.to_bytes()), TfidfCharEncoder)
    st = SentenceTransformerEncoder("some/dir", batch_size=3)
    loaded = encoder_from_bytes(st.to_bytes())
    assert isinstance(loaded, SentenceTransformerEncoder) and loaded.batch_size == 3
    sap = TransformerEncoder("other/dir", pooling="mean", max_length=9)
    loaded = encoder_from_bytes(sap.to_bytes())
    assert isinstance(loaded, TransformerEncoder) and (loaded.pooling, loaded.max_length) == ("mean", 9)
    with pytest.raises(LinkingError):
        TransformerEncoder().from_bytes(st.to_bytes())


# -- indexes ---------------------------------------------------------------------------


def _corpus(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    syllables = ["ra", "to", "mi", "ca", "pe", "lo", "su", "ne", "fi", "gra", "bio", "ter", "al", "ico"]
    words = ["".join(rng.choice(syllables, size=rng.integers(2, 5))) for _ in range(300)]
    return [" ".join(rng.choice(words, size=rng.integers(1, 4))) for _ in range(n)]


def test_exact_index_dense_rows_and_bytes() -> None:
    rng = np.random.default_rng(0)
    m = rng.normal(size=(50, 8)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    index = ExactCosineIndex(m)
    idx, scores = index.search(m[:3], 4)
    assert list(idx[:, 0]) == [0, 1, 2] and np.allclose(scores[:, 0], 1.0, atol=1e-5)
    loaded = index_from_bytes(index.to_bytes())
    assert isinstance(loaded, ExactCosineIndex) and isinstance(loaded.matrix, np.ndarray)
    assert (loaded.search(m[:3], 4)[0] == idx).all()


def test_faiss_index_sparse_rows_rescored_exactly() -> None:
    terms = _corpus(3000)
    enc = TfidfCharEncoder((2, 4), analyzer="char_wb").fit(terms)
    rows = enc.encode(terms)
    queries = enc.encode([t[:-1] for t in terms[:100]] + terms[100:150])
    exact_idx, _ = ExactCosineIndex(rows).search(queries, 5)
    ann = FaissIndex(rows, dim=32, nprobe=8)
    assert len(ann) == 3000 and ann.projection is not None
    idx, scores = ann.search(queries, 5)
    assert idx.shape == (150, 5)
    assert np.mean(idx[:, 0] == exact_idx[:, 0]) > 0.9
    # returned scores are the exact cosines of the returned rows
    true = np.asarray([(queries[i] @ rows[idx[i]].T).toarray().ravel() for i in range(150)])
    assert np.allclose(scores, true, atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    loaded = index_from_bytes(ann.to_bytes())
    assert isinstance(loaded, FaissIndex)
    idx2, scores2 = loaded.search(queries, 5)
    assert (idx2 == idx).all() and np.allclose(scores2, scores)


def test_faiss_index_dense_rows_and_errors() -> None:
    rng = np.random.default_rng(1)
    m = rng.normal(size=(400, 16)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    ann = FaissIndex(m, factory="HNSW16,Flat")
    idx, scores = ann.search(m[:20], 3)
    assert list(idx[:, 0]) == list(range(20)) and np.allclose(scores[:, 0], 1.0, atol=1e-5)
    with pytest.raises(LinkingError, match="width"):
        ann.search(np.zeros((1, 5), np.float32), 1)
    with pytest.raises(LinkingError, match="factory"):
        FaissIndex(m, factory="NoSuchIndex")
    with pytest.raises(LinkingError, match="empty"):
        FaissIndex().search(m[:1], 1)
    with pytest.raises(LinkingError):
        FaissIndex().from_bytes(b"SPRSxx")


def test_build_index_threshold_chooses_the_kind() -> None:
    terms = _corpus(200)
    rows = TfidfCharEncoder().fit(terms).encode(terms)
    assert isinstance(build_index(rows, AnnOptions(threshold=201)), ExactCosineIndex)
    assert isinstance(build_index(rows, AnnOptions(threshold=200, dim=16)), FaissIndex)
    assert isinstance(build_index(rows, AnnOptions(threshold=0)), ExactCosineIndex)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.integers(1, 9).flatmap(
            lambda w: st.tuples(
                st.lists(st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.25, 0.5, 1.0, -0.5]), min_size=w, max_size=w),
                         min_size=n, max_size=n),
                st.integers(1, w),
            )
        )
    )
)
def test_sparse_top_k_equals_the_dense_ordering(case: tuple[list[list[float]], int]) -> None:
    """Sparse score blocks (TF-IDF) skip the dense copy; the order, ties by lower column, must not change."""
    import scipy.sparse as sp

    from spacy_clinical_es.linking.index import _top_k, _top_k_sparse

    rows, k = case
    dense = np.asarray(rows, dtype=np.float32)
    idx, scores = _top_k_sparse(sp.csr_matrix(dense), k)
    want_idx, want_scores = _top_k(dense, k)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(scores, want_scores)
