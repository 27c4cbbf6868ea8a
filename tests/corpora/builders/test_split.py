"""Deterministic stratified document splits."""
from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.corpora.builders.split import (
    split_label_counts,
    split_sizes,
    stratified_split,
)


def _corpus(n: int = 559, seed: int = 3) -> dict:
    rng = random.Random(seed)
    docs = {}
    for k in range(n):
        counts = Counter()
        counts["ENFERMEDAD"] = rng.randint(0, 25)
        counts["PROCEDIMIENTO"] = rng.randint(0, 30)
        counts["EDAD"] = rng.randint(0, 2)
        if rng.random() < 0.05:
            counts["RARE"] = 1
        docs[f"S{k:04d}-1"] = counts
    return docs


def test_sizes_are_exact() -> None:
    assert split_sizes(559, (("train", 0.7), ("dev", 0.15), ("test", 0.15))) == {
        "train": 391,
        "dev": 84,
        "test": 84,
    }
    assert sum(split_sizes(7, (("a", 0.7), ("b", 0.15), ("c", 0.15))).values()) == 7
    with pytest.raises(ValueError):
        split_sizes(10, (("a", 0.0), ("b", 0.0)))


def test_deterministic_and_order_independent() -> None:
    docs = _corpus()
    a = stratified_split(docs, seed=1)
    shuffled = dict(sorted(docs.items(), key=lambda kv: random.Random(9).random()))
    b = stratified_split(shuffled, seed=1)
    assert a == b
    c = stratified_split(docs, seed=2)
    assert c != a  # the seed matters


def test_partition_and_proportions() -> None:
    docs = _corpus()
    parts = stratified_split(docs, seed=0)
    ids = [d for part in parts.values() for d in part]
    assert sorted(ids) == sorted(docs)  # every document exactly once
    assert {k: len(v) for k, v in parts.items()} == {"train": 391, "dev": 84, "test": 84}
    per_split = split_label_counts(docs, parts)
    totals = Counter()
    for counts in docs.values():
        totals.update(counts)
    for label in ("ENFERMEDAD", "PROCEDIMIENTO", "EDAD", "RARE"):
        for name, share in (("train", 0.7), ("dev", 0.15), ("test", 0.15)):
            got = per_split[name].get(label, 0) / totals[label]
            assert abs(got - share) < 0.05, (label, name, got)


def test_stratification_beats_random_on_a_rare_label() -> None:
    docs = {f"d{k:03d}": Counter({"COMMON": 1}) for k in range(100)}
    for k in range(0, 100, 10):  # 10 documents carry the rare label
        docs[f"d{k:03d}"]["RARE"] = 1
    parts = stratified_split(docs, (("train", 0.6), ("dev", 0.2), ("test", 0.2)), seed=5)
    rare = split_label_counts(docs, parts)
    assert rare["train"]["RARE"] == 6
    assert rare["dev"]["RARE"] == 2
    assert rare["test"]["RARE"] == 2


@settings(max_examples=60, deadline=None)
@given(
    counts=st.dictionaries(
        st.text(alphabet="abcdef0123", min_size=1, max_size=6),
        st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(0, 5), max_size=3),
        max_size=40,
    ),
    seed=st.integers(0, 5),
)
def test_split_is_a_partition(counts: dict, seed: int) -> None:
    parts = stratified_split(counts, seed=seed)
    ids = [d for part in parts.values() for d in part]
    assert sorted(ids) == sorted(counts)
    sizes = split_sizes(len(counts), (("train", 0.7), ("dev", 0.15), ("test", 0.15)))
    assert {k: len(v) for k, v in parts.items()} == sizes
    assert parts == stratified_split(counts, seed=seed)
