from __future__ import annotations

import numpy as np
import pytest

from spacy_clinical_es.linking import (
    Encoder,
    ExactCosineIndex,
    LinkingError,
    TfidfCharEncoder,
    VectorIndex,
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
