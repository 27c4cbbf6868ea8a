"""A gradient-boosted re-ranker: depth-limited trees fitted by scikit-learn, evaluated in numpy.

The linear re-ranker of :mod:`.rerank` adds its features up; a candidate's
chances often depend on them together (a high TF-IDF cosine means less for a
table-only ICD-10 category whose children are in the knowledge base than for
a code annotated in training). :class:`TreeReranker` fits scikit-learn's
``HistGradientBoostingClassifier`` (logistic loss, every tree at most
``max_depth`` deep, no early stopping, a fixed seed) on the same candidate
rows, then copies the trees into complete binary trees of that depth: one
feature index and threshold per internal node, one value per leaf. Prediction
walks each tree over all rows at once, level by level (a few numpy operations
per level, all mentions of a batch together), and the saved model is a small
JSON file that needs neither scikit-learn nor pickle to load (only fitting
needs scikit-learn: ``pip install spacy-clinical-es[linking]``).
At fit time the copied trees must give scikit-learn's probabilities on the
training rows, or fitting fails with an error instead of saving a different
model.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from .kb import LinkingError
from .rerank import FEATURES, saved_payload, sigmoid, training_arrays

#: Threshold of the padding nodes that complete a shallower branch: every finite value goes left.
_ALWAYS_LEFT = float(np.finfo(np.float64).max)


def _complete_tree(nodes: Any, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, thresholds, leaf values) of a scikit-learn tree as a complete binary tree of ``depth`` levels."""
    n_internal = 2**depth - 1
    features = np.zeros(n_internal, dtype=np.int32)
    thresholds = np.full(n_internal, _ALWAYS_LEFT, dtype=np.float64)
    leaves = np.zeros(2**depth, dtype=np.float64)

    def fill(node: int, position: int, level: int) -> None:
        record = nodes[node]
        if record["is_leaf"]:
            # a leaf above the last level: every path below it ends in its value
            width = 2 ** (depth - level)
            first = (position - (2**level - 1)) * width
            leaves[first : first + width] = record["value"]
            return
        if level >= depth:
            raise LinkingError(f"A boosted tree is deeper than max_depth={depth}: fit the re-ranker again.")
        if record["is_categorical"]:
            raise LinkingError("Categorical splits are not supported by the tree re-ranker.")
        features[position] = int(record["feature_idx"])
        thresholds[position] = float(record["num_threshold"])
        fill(int(record["left"]), 2 * position + 1, level + 1)
        fill(int(record["right"]), 2 * position + 2, level + 1)

    fill(0, 0, 0)
    return features, thresholds, leaves


class TreeReranker:
    """P(candidate is the gold code) from boosted trees over :data:`~.rerank.FEATURES` (pointwise).

    Same interface as :class:`~.rerank.LinearReranker`: :meth:`fit` on stacked
    candidate rows, :meth:`predict` probabilities in [0, 1] that order the
    candidates and that ``threshold`` (NIL) is compared with.
    """

    kind = "tree-reranker"
    objective = "pointwise"

    def __init__(
        self,
        *,
        max_depth: int = 4,
        n_trees: int = 100,
        learning_rate: float = 0.1,
        min_samples_leaf: int = 20,
        threshold: float = 0.0,
        seed: int = 0,
    ) -> None:
        if not 1 <= int(max_depth) <= 8:
            raise LinkingError(f"max_depth must be between 1 and 8, got {max_depth}.")
        if int(n_trees) < 1:
            raise LinkingError(f"n_trees must be at least 1, got {n_trees}.")
        self.max_depth = int(max_depth)
        self.n_trees = int(n_trees)
        self.learning_rate = float(learning_rate)
        self.min_samples_leaf = int(min_samples_leaf)
        self.threshold = float(threshold)
        self.seed = int(seed)
        self.baseline = 0.0
        self.features = np.zeros((0, 2**self.max_depth - 1), dtype=np.int32)
        self.thresholds = np.zeros((0, 2**self.max_depth - 1), dtype=np.float64)
        self.leaves = np.zeros((0, 2**self.max_depth), dtype=np.float64)
        self.split_counts = np.zeros(len(FEATURES), dtype=np.int64)
        self.fitted = False

    def fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None) -> TreeReranker:
        """Fit on stacked candidate rows and 0/1 labels (``groups`` is accepted for the common interface, unused)."""
        try:
            from sklearn.ensemble import HistGradientBoostingClassifier
        except ImportError:
            raise LinkingError(
                "Fitting the tree re-ranker needs scikit-learn: pip install 'spacy-clinical-es[linking]' "
                "(or train the linear one: train-reranker --model linear)."
            ) from None
        x, y = training_arrays(features, labels)
        self.fitted = False
        model = HistGradientBoostingClassifier(
            max_iter=self.n_trees,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            min_samples_leaf=self.min_samples_leaf,
            early_stopping=False,
            random_state=self.seed,
        ).fit(x, y.astype(np.int64))
        trees = [_complete_tree(per_class[0].nodes, self.max_depth) for per_class in model._predictors]
        self.features = np.stack([t[0] for t in trees])
        self.thresholds = np.stack([t[1] for t in trees])
        self.leaves = np.stack([t[2] for t in trees])
        self.baseline = float(np.ravel(model._baseline_prediction)[0])
        self.split_counts = np.bincount(
            self.features[self.thresholds < _ALWAYS_LEFT].ravel(), minlength=len(FEATURES)
        ).astype(np.int64)
        if not np.allclose(sigmoid(self.raw_scores(x)), model.predict_proba(x)[:, 1], atol=1e-6):
            raise LinkingError(
                "The boosted trees could not be copied from this scikit-learn version: "
                "train the linear re-ranker (train-reranker --model linear) or report the version."
            )
        self.fitted = True
        return self

    def raw_scores(self, features: np.ndarray) -> np.ndarray:
        """Log-odds of each row: the baseline plus the leaf value of every tree.

        Tree by tree, level by level over all rows: the root's split is one
        column comparison, each deeper level one gather of (feature, row).
        """
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(FEATURES):
            raise LinkingError(f"Re-ranker features must be (n, {len(FEATURES)}).")
        n = len(x)
        out = np.full(n, self.baseline, dtype=np.float64)
        if not n:
            return out
        columns = np.ascontiguousarray(x.T)
        rows = np.arange(n)
        for split_on, thresholds, leaves in zip(self.features, self.thresholds, self.leaves):
            position = (columns[split_on[0]] > thresholds[0]).astype(np.intp)
            for level in range(1, self.max_depth):
                node = (2**level - 1) + position
                position = 2 * position + (columns[split_on[node], rows] > thresholds[node])
            out += leaves[position]
        return out

    def predict(self, features: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
        """P(gold) of each row (``starts``, the mentions' first rows, is not needed: rows are scored alone)."""
        if not self.fitted:
            raise LinkingError("The re-ranker is not trained: run train-reranker or load a saved one.")
        return sigmoid(self.raw_scores(features))

    def coefficients(self) -> dict[str, float]:
        """How often each feature splits a tree (the trees' counterpart of the linear weights, for metrics)."""
        return {name: int(c) for name, c in zip(FEATURES, self.split_counts)}

    def settings(self) -> dict[str, Any]:
        return {"max_depth": self.max_depth, "n_trees": self.n_trees, "learning_rate": self.learning_rate,
                "min_samples_leaf": self.min_samples_leaf, "seed": self.seed}

    def to_bytes(self) -> bytes:
        if not self.fitted:
            raise LinkingError("Cannot save a re-ranker that is not trained.")
        return json.dumps(
            {
                "kind": self.kind,
                "features": list(FEATURES),
                **self.settings(),
                "threshold": self.threshold,
                "baseline": self.baseline,
                "tree_features": self.features.tolist(),
                "tree_thresholds": self.thresholds.tolist(),
                "tree_leaves": self.leaves.tolist(),
                "split_counts": self.split_counts.tolist(),
            }
        ).encode("utf-8")

    def from_bytes(self, data: bytes) -> TreeReranker:
        try:
            payload = saved_payload(data, self.kind)
            depth = int(payload["max_depth"])
            features = np.asarray(payload["tree_features"], dtype=np.int32)
            thresholds = np.asarray(payload["tree_thresholds"], dtype=np.float64)
            leaves = np.asarray(payload["tree_leaves"], dtype=np.float64)
            split_counts = np.asarray(payload["split_counts"], dtype=np.int64)
            if not 1 <= depth <= 8 or features.ndim != 2 or features.shape[1] != 2**depth - 1:
                raise ValueError("tree shape")
            if thresholds.shape != features.shape or leaves.shape != (len(features), 2**depth):
                raise ValueError("tree shape")
            if features.size and (features.min() < 0 or features.max() >= len(FEATURES)):
                raise ValueError("feature index")
            settings = {k: payload[k] for k in ("n_trees", "learning_rate", "min_samples_leaf", "seed")}
            baseline, threshold = float(payload["baseline"]), float(payload["threshold"])
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise LinkingError(
                "Re-ranker data is not a saved TreeReranker of this version: train the re-ranker again."
            ) from None
        self.__init__(max_depth=depth, threshold=threshold, **settings)  # type: ignore[misc]
        self.features, self.thresholds, self.leaves = features, thresholds, leaves
        self.split_counts, self.baseline, self.fitted = split_counts, baseline, True
        return self
