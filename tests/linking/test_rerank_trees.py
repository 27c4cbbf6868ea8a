"""The boosted-tree re-ranker: trees copied from scikit-learn, numpy prediction, JSON round trip, batched scoring."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.linking import Concept, TerminologyKB
from spacy_clinical_es.linking.kb import LinkingError
from spacy_clinical_es.linking.rerank import (
    FEATURES,
    LinearReranker,
    Retrieved,
    candidate_features,
    load_reranker,
    make_reranker,
    rerank_scores,
)
from spacy_clinical_es.linking.rerank_trees import TreeReranker

sklearn_ensemble = pytest.importorskip("sklearn.ensemble")


def _interaction_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gold when features 0 and 1 are both positive: no linear score separates it, two-level trees do."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    y = ((x[:, 0] > 0) & (x[:, 1] > 0)).astype(float)
    return x, y


def test_trees_learn_an_interaction_and_give_scikit_learns_probabilities() -> None:
    x, y = _interaction_data(2000, 0)
    held_x, held_y = _interaction_data(500, 1)
    trees = TreeReranker(max_depth=3, n_trees=60, learning_rate=0.2).fit(x, y)
    linear = LinearReranker().fit(x, y)
    tree_acc = np.mean((trees.predict(held_x) > 0.5) == held_y)
    assert tree_acc > 0.95 and tree_acc > np.mean((linear.predict(held_x) > 0.5) == held_y) + 0.1
    reference = sklearn_ensemble.HistGradientBoostingClassifier(
        max_iter=60, max_depth=3, learning_rate=0.2, min_samples_leaf=20, early_stopping=False, random_state=0
    ).fit(x, y.astype(int))
    np.testing.assert_allclose(trees.predict(held_x), reference.predict_proba(held_x)[:, 1], atol=1e-9)
    counts = trees.coefficients()
    assert set(counts) == set(FEATURES) and counts["tfidf"] > 0 and counts["tfidf_margin"] > 0


def test_round_trip_and_loader_dispatch() -> None:
    x, y = _interaction_data(400, 2)
    trees = TreeReranker(max_depth=2, n_trees=10, threshold=0.3).fit(x, y)
    loaded = load_reranker(trees.to_bytes())
    assert isinstance(loaded, TreeReranker) and loaded.threshold == 0.3 and loaded.settings() == trees.settings()
    np.testing.assert_array_equal(loaded.predict(x), trees.predict(x))
    linear = LinearReranker(objective="listwise").fit(x, y, np.arange(0, 400, 4))
    assert isinstance(load_reranker(linear.to_bytes()), LinearReranker)
    assert isinstance(make_reranker("trees", max_depth=2), TreeReranker)
    with pytest.raises(LinkingError, match="must be one of"):
        make_reranker("forest")
    # a saved file from another version (other features) asks for retraining
    payload = json.loads(trees.to_bytes())
    payload["features"] = payload["features"][:-1]
    with pytest.raises(LinkingError, match="train the re-ranker again"):
        load_reranker(json.dumps(payload).encode())


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_the_package_error(data: bytes) -> None:
    with pytest.raises(LinkingError):
        TreeReranker().from_bytes(data)
    with pytest.raises(LinkingError):
        load_reranker(data)


def test_errors_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _interaction_data(50, 3)
    with pytest.raises(LinkingError, match="not trained"):
        TreeReranker().predict(x)
    with pytest.raises(LinkingError, match="max_depth"):
        TreeReranker(max_depth=9)
    with pytest.raises(LinkingError, match="both gold and non-gold"):
        TreeReranker().fit(x, np.zeros(50))
    with pytest.raises(LinkingError, match=r"\(n, "):
        TreeReranker(max_depth=2, n_trees=2).fit(x, y).predict(x[:, :3])
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    with pytest.raises(LinkingError, match=r"scikit-learn.*--model linear"):
        TreeReranker().fit(x, y)


def _kb() -> TerminologyKB:
    kb = TerminologyKB()
    for code, name in [("k81", "colecistitis"), ("k81.9", "colecistitis no especificada"),
                       ("k80.2", "colelitiasis"), ("123", "colecistectomia"), ("1234", "colecistectomia abierta")]:
        kb.add(Concept(code, name))
    return kb


def test_has_children_marks_icd10_categories_with_codes_below_them() -> None:
    cands = [Retrieved(code, "colecistitis", 0.5, 0.0, False, False) for code in ("k81", "k81.9", "k80.2", "123")]
    column = candidate_features("colecistitis", None, cands, _kb())[:, FEATURES.index("has_children")]
    assert column.tolist() == [1.0, 0.0, 0.0, 0.0]  # SNOMED CT ids are not a hierarchy of prefixes


def test_batched_scores_equal_one_mention_at_a_time() -> None:
    kb = _kb()
    retrieved = [
        [Retrieved("k81", "colecistitis", 0.9, 0.2, False, False),
         Retrieved("k81.9", "colecistitis no especificada", 0.7, 0.6, False, False)],
        [],
        [Retrieved("123", "colecistectomia", 1.0, 0.9, True, False),
         Retrieved("1234", "colecistectomia abierta", 0.6, 0.8, False, False),
         Retrieved("k80.2", "colelitiasis", 0.1, 0.1, False, False)],
    ]
    mentions = [("colecistitis aguda", "ENFERMEDAD"), ("nada", None), ("colecistectomia", "PROCEDIMIENTO")]
    x, y = _interaction_data(300, 4)
    for reranker in (LinearReranker(objective="listwise").fit(x, y, np.arange(0, 300, 3)),
                     TreeReranker(max_depth=2, n_trees=5).fit(x, y)):
        batched = rerank_scores(reranker, mentions, retrieved, kb)
        assert [len(b) for b in batched] == [2, 0, 3]
        for (text, label), found, scores in zip(mentions, retrieved, batched):
            if found:
                np.testing.assert_allclose(scores, reranker.predict(candidate_features(text, label, found, kb)))
