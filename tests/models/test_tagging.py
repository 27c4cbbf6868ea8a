"""Tag schemes, checkpoint label names, constrained Viterbi and tags → spans (spaCy-free)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.models.tagging import (
    TagSet,
    is_valid,
    make_tag_set,
    tag_set_from_names,
    tags_to_spans,
    viterbi,
)

BIO = make_tag_set(["EDAD", "SEXO"], "BIO")
BILUO = make_tag_set(["EDAD", "SEXO"], "BILUO")


def _path(tag_set: TagSet, tags: str) -> list[int]:
    return [tag_set.index[t] for t in tags.split()]


def test_make_tag_set_order() -> None:
    assert BIO.tags == ("O", "B-EDAD", "I-EDAD", "B-SEXO", "I-SEXO")
    assert BILUO.tags[:5] == ("O", "B-EDAD", "I-EDAD", "L-EDAD", "U-EDAD")
    assert BIO.labels == ("EDAD", "SEXO")
    with pytest.raises(ConfigError):
        make_tag_set(["X"], "IOB1")


@pytest.mark.parametrize(
    ("names", "scheme", "tags"),
    [
        (["O", "B-PER", "I-PER"], "BIO", ("O", "B-PER", "I-PER")),
        (["B_LOC", "O", "I_LOC"], "BIO", ("B-LOC", "O", "I-LOC")),
        (["O", "S-ORG", "B-ORG", "I-ORG", "E-ORG"], "BILUO", ("O", "U-ORG", "B-ORG", "I-ORG", "L-ORG")),
        (["O", "U-X", "B-X", "I-X", "L-X"], "BILUO", ("O", "U-X", "B-X", "I-X", "L-X")),
        (["o", "b-ENFERMEDAD", "i-ENFERMEDAD"], "BIO", ("O", "B-ENFERMEDAD", "I-ENFERMEDAD")),
    ],
)
def test_tag_set_from_checkpoint_names(names: list[str], scheme: str, tags: tuple) -> None:
    tag_set = tag_set_from_names(names)
    assert tag_set.scheme == scheme
    assert tag_set.tags == tags
    assert tag_set.names == tuple(names)


@pytest.mark.parametrize(
    "names", [["O", "PER"], ["B-PER", "I-PER"], ["O", "O", "B-X"], ["O", "B-X", "B_X"], ["O", "Q-X"]]
)
def test_tag_set_from_bad_names(names: list[str]) -> None:
    with pytest.raises(ConfigError):
        tag_set_from_names(names)


def test_valid_sequences() -> None:
    assert is_valid(_path(BIO, "O B-EDAD I-EDAD B-SEXO O"), BIO)
    assert not is_valid(_path(BIO, "O I-EDAD"), BIO)
    assert not is_valid(_path(BIO, "B-EDAD I-SEXO"), BIO)
    assert is_valid(_path(BILUO, "U-EDAD B-SEXO I-SEXO L-SEXO O"), BILUO)
    assert not is_valid(_path(BILUO, "B-EDAD O"), BILUO)
    assert not is_valid(_path(BILUO, "B-EDAD"), BILUO)  # never closed
    assert not is_valid(_path(BILUO, "L-EDAD"), BILUO)


def test_viterbi_repairs_what_argmax_breaks() -> None:
    # argmax says O I-EDAD I-EDAD: invalid in BIO; the best valid path starts the entity
    scores = np.log(
        np.array([[0.9, 0.05, 0.05, 0, 0], [0.1, 0.3, 0.6, 0, 0], [0.1, 0.1, 0.8, 0, 0]]) + 1e-9
    )
    path = viterbi(scores, BIO)
    assert [BIO.tags[i] for i in path] == ["O", "B-EDAD", "I-EDAD"]
    assert tags_to_spans(path, BIO) == [(1, 3, "EDAD")]


def test_viterbi_keeps_a_valid_argmax() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, len(BIO))) - 5
    gold = _path(BIO, "B-EDAD I-EDAD O B-SEXO B-SEXO I-SEXO")
    scores[np.arange(6), gold] += 20
    assert viterbi(scores, BIO).tolist() == gold


def _brute_force(scores: np.ndarray, tag_set: TagSet) -> float:
    best = -np.inf
    for path in itertools.product(range(len(tag_set)), repeat=scores.shape[0]):
        if is_valid(path, tag_set):
            best = max(best, float(scores[np.arange(len(path)), path].sum()))
    return best


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    scheme=st.sampled_from(["BIO", "BILUO"]),
)
def test_viterbi_is_the_best_valid_path(n: int, seed: int, scheme: str) -> None:
    tag_set = make_tag_set(["A", "B"] if scheme == "BIO" else ["A"], scheme)
    scores = np.random.default_rng(seed).normal(size=(n, len(tag_set))) * 3
    path = viterbi(scores, tag_set)
    assert is_valid(path, tag_set)
    assert scores[np.arange(n), path].sum() == pytest.approx(_brute_force(scores, tag_set))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 200))
def test_viterbi_always_valid_on_long_random_scores(seed: int, n: int) -> None:
    scores = np.random.default_rng(seed).normal(size=(n, len(BILUO))) * 10
    path = viterbi(scores, BILUO)
    assert len(path) == n and is_valid(path, BILUO)
    spans = tags_to_spans(path, BILUO)
    assert all(0 <= s < e <= n for s, e, _ in spans)


def test_tags_to_spans() -> None:
    assert tags_to_spans(_path(BIO, "B-EDAD I-EDAD B-EDAD O I-SEXO I-SEXO"), BIO) == [
        (0, 2, "EDAD"), (2, 3, "EDAD"), (4, 6, "SEXO")  # lenient: I after O opens an entity
    ]
    assert tags_to_spans(_path(BILUO, "U-EDAD B-SEXO I-SEXO L-SEXO O B-EDAD"), BILUO) == [
        (0, 1, "EDAD"), (1, 4, "SEXO"), (5, 6, "EDAD")
    ]
    assert tags_to_spans([], BIO) == []


def test_convert_spacy_biluo_gold() -> None:
    biluo = ["U-EDAD", "B-SEXO", "I-SEXO", "L-SEXO", "O", "-", None, "U-OTRO"]
    assert BIO.convert(biluo) == _path(BIO, "B-EDAD B-SEXO I-SEXO I-SEXO O") + [-1, -1, -1]
    assert BILUO.convert(biluo) == _path(BILUO, "U-EDAD B-SEXO I-SEXO L-SEXO O") + [-1, -1, -1]


def test_viterbi_rejects_wrong_width() -> None:
    with pytest.raises(ConfigError):
        viterbi(np.zeros((3, 2)), BIO)
    assert viterbi(np.zeros((0, len(BIO))), BIO).shape == (0,)
