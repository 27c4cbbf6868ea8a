"""Wordpiece windowing and logit merging (spaCy-free core)."""
from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.models import (
    NaiveHalfOverlap,
    SentencePacking,
    Window,
    WindowError,
    WindowStrategy,
    central_owners,
    cost,
    merge_logits,
    merge_logits_backward,
    piece_to_token_backward,
    piece_to_token_logits,
    with_central_ownership,
)

LIMIT = 510  # window 512 minus [CLS] and [SEP]
STRATEGY_CLASSES = [NaiveHalfOverlap, SentencePacking]


def _check_plan(windows: list[Window], pieces: Sequence[int], limit: int) -> None:
    """Invariants every plan must satisfy."""
    n = int(sum(pieces))
    assert all(0 < w.length <= limit for w in windows)
    assert all(w.context_end <= n for w in windows)
    covered = np.zeros(n, dtype=int)
    owned = np.zeros(n, dtype=int)
    for w in windows:
        covered[w.context_start : w.context_end] += 1
        owned[w.start : w.end] += 1
    assert (covered >= 1).all()
    assert (owned == 1).all()
    # owned ranges are in document order and each window owns something
    assert [w.start for w in windows] == sorted(w.start for w in windows)
    assert all(w.end > w.start for w in windows)
    assert cost(windows, n) >= 1.0
    # the owned ranges are exactly the "central" rule
    owner = central_owners(windows, n)
    for i, w in enumerate(windows):
        assert (owner[w.start : w.end] == i).all()


def _random_logits(windows: list[Window], n_labels: int = 3, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(w.length, n_labels)) for w in windows]


@pytest.mark.parametrize("cls", STRATEGY_CLASSES)
def test_strategies_follow_protocol(cls: type) -> None:
    assert isinstance(cls(512), WindowStrategy)


@pytest.mark.parametrize("cls", STRATEGY_CLASSES)
def test_windows_cover_every_token(cls: type) -> None:
    rng = random.Random(1)
    pieces = [rng.choice([0, 1, 1, 2, 3, 7]) for _ in range(900)]
    starts = sorted(rng.sample(range(900), 60))
    windows = cls(128).plan(pieces, starts)
    _check_plan(windows, pieces, 126)
    offsets = np.concatenate([[0], np.cumsum(pieces)])
    for t in range(len(pieces)):
        for p in range(offsets[t], offsets[t + 1]):
            assert any(w.context_start <= p < w.context_end for w in windows), (t, p)


@pytest.mark.parametrize("cls", STRATEGY_CLASSES)
def test_short_doc_is_one_window_like_a_single_pass(cls: type) -> None:
    pieces = [1, 2, 0, 3, 1] * 20  # 140 pieces
    windows = cls(512).plan(pieces, [0, 5, 10])
    assert windows == [Window(0, 140, 0, 140)]
    single = np.random.default_rng(3).normal(size=(140, 4)).astype(np.float32)
    for mode in ("average", "central"):
        merged = merge_logits(windows, [single], 140, mode=mode)
        assert merged.dtype == np.float32
        np.testing.assert_array_equal(merged, single)


@pytest.mark.parametrize("cls", STRATEGY_CLASSES)
def test_exactly_one_window_limit(cls: type) -> None:
    assert len(cls(512).plan([LIMIT])) == 1
    assert len(cls(512).plan([LIMIT + 1])) == 2


def test_naive_five_windows() -> None:
    pieces = [2] * (3 * LIMIT // 2)  # 1530 pieces = 3 windows, stride 255
    windows = NaiveHalfOverlap(512).plan(pieces)
    assert [(w.context_start, w.context_end) for w in windows] == [
        (0, 510), (255, 765), (510, 1020), (765, 1275), (1020, 1530)
    ]
    # owned boundaries sit in the middle of each overlap
    assert [(w.start, w.end) for w in windows] == [
        (0, 383), (383, 638), (638, 893), (893, 1148), (1148, 1530)
    ]
    _check_plan(windows, pieces, LIMIT)
    assert cost(windows, 1530) == pytest.approx(2550 / 1530)


def test_sentence_packing_five_windows_and_cost() -> None:
    rng = random.Random(7)
    pieces: list[int] = []
    starts: list[int] = []
    sentence_bounds = {0}
    while sum(pieces) < 5 * LIMIT:
        starts.append(len(pieces))
        pieces.extend(rng.choice([1, 1, 1, 2, 3]) for _ in range(rng.randint(3, 30)))
        sentence_bounds.add(sum(pieces))
    n = sum(pieces)
    strategy = SentencePacking(512)
    windows = strategy.plan(pieces, starts)
    assert len(windows) >= 5
    _check_plan(windows, pieces, LIMIT)
    # every window owns whole sentences and sees `context` pieces past each seam
    for w in windows:
        assert w.start in sentence_bounds and w.end in sentence_bounds
        assert w.start - w.context_start == min(strategy.context, w.start)
        assert w.context_end - w.end == min(strategy.context, n - w.end)
    assert cost(windows, n) <= 1.3
    naive = NaiveHalfOverlap(512).plan(pieces)
    assert cost(naive, n) > 1.6


@pytest.mark.parametrize("cls", STRATEGY_CLASSES)
@pytest.mark.parametrize("n_pieces", [750, 3000])
def test_single_huge_token_never_exceeds_limit(cls: type, n_pieces: int) -> None:
    # a 3,000-character token without spaces: 750 pieces (4 chars/piece) up to 1 per char
    pieces = [1, 1, n_pieces, 1, 0]
    for window in (512, 128):
        windows = cls(window).plan(pieces, [0, 2, 3])
        _check_plan(windows, pieces, window - 2)
        assert len(windows) >= 2


def test_sentence_packing_without_sentences_is_naive() -> None:
    pieces = [3, 1, 4, 1, 5] * 300
    for window in (512, 513, 64):
        assert SentencePacking(window).plan(pieces) == NaiveHalfOverlap(window).plan(pieces)


def test_sentence_packing_long_sentence_falls_back_to_half_overlap() -> None:
    # limit 10, context 2; sentences: [0,3) [3,8) [8,9) [9,15) [15,24) [24,25)
    pieces = [1] * 25
    windows = SentencePacking(12, 2).plan(pieces, [0, 3, 8, 9, 15, 24])
    assert [(w.context_start, w.context_end) for w in windows] == [
        (0, 10), (6, 11), (7, 17), (13, 23), (18, 25)
    ]
    assert [(w.start, w.end) for w in windows] == [(0, 8), (8, 9), (9, 15), (15, 21), (21, 25)]


def test_empty_document() -> None:
    for cls in STRATEGY_CLASSES:
        assert cls(512).plan([]) == []
        assert cls(512).plan([0, 0, 0], [0, 1]) == []
    assert cost([], 0) == 1.0
    assert merge_logits([], [], 0).shape[0] == 0


# --- merging, hand-computed -------------------------------------------------

W0 = np.array([[1, 0], [2, 0], [3, 0], [4, 0]], dtype=float)  # pieces 0..3
W1 = np.array([[10, 1], [20, 1], [30, 1], [40, 1]], dtype=float)  # pieces 2..5


def _two_windows() -> list[Window]:
    return with_central_ownership([(0, 4), (2, 6)], 6)


def test_central_ownership_hand_computed() -> None:
    # piece 2: distances 1 (w0) vs 0 (w1); piece 3: 0 vs 1
    assert _two_windows() == [Window(0, 3, 0, 4), Window(3, 6, 2, 6)]


def test_merge_average_hand_computed() -> None:
    merged = merge_logits(_two_windows(), [W0, W1], 6, mode="average")
    expected = [[1, 0], [2, 0], [6.5, 0.5], [12, 0.5], [30, 1], [40, 1]]
    np.testing.assert_allclose(merged, expected)


def test_merge_central_hand_computed() -> None:
    merged = merge_logits(_two_windows(), [W0, W1], 6, mode="central")
    expected = [[1, 0], [2, 0], [3, 0], [20, 1], [30, 1], [40, 1]]
    np.testing.assert_allclose(merged, expected)


def test_merge_central_ties_go_to_earlier_window() -> None:
    # contexts (0,4) and (1,5): piece 2 is 1 away from an edge in both
    a = np.arange(8, dtype=float).reshape(4, 2)
    b = 100 + np.arange(8, dtype=float).reshape(4, 2)
    windows = [Window(0, 0, 0, 4), Window(1, 1, 1, 5)]
    merged = merge_logits(windows, [a, b], 5, mode="central")
    np.testing.assert_allclose(merged[:3], a[:3])
    np.testing.assert_allclose(merged[3:], b[2:])
    swapped = merge_logits(windows[::-1], [b, a], 5, mode="central")
    # pieces 0, 1 are still more central in (0,4); the tie at piece 2 now goes to (1,5)
    np.testing.assert_allclose(swapped[:2], a[:2])
    np.testing.assert_allclose(swapped[2:], b[1:])


def test_merge_average_three_windows() -> None:
    windows = [Window(0, 0, 0, 3), Window(1, 1, 1, 4), Window(2, 2, 2, 5)]
    logits = [np.full((3, 1), v, dtype=float) for v in (3.0, 6.0, 12.0)]
    merged = merge_logits(windows, logits, 5, mode="average")
    np.testing.assert_allclose(merged[:, 0], [3, 4.5, 7, 9, 12])


@pytest.mark.parametrize("cls", STRATEGY_CLASSES)
def test_central_merge_equals_owned_ranges(cls: type) -> None:
    rng = random.Random(5)
    pieces = [rng.randint(0, 4) for _ in range(600)]
    windows = cls(64).plan(pieces, sorted(rng.sample(range(600), 40)))
    n = sum(pieces)
    logits = _random_logits(windows)
    merged = merge_logits(windows, logits, n, mode="central")
    for w, lg in zip(windows, logits):
        np.testing.assert_array_equal(
            merged[w.start : w.end], lg[w.start - w.context_start : w.end - w.context_start]
        )


def test_merge_rejects_bad_input() -> None:
    windows = _two_windows()
    with pytest.raises(WindowError):
        merge_logits(windows, [W0], 6)
    with pytest.raises(WindowError):
        merge_logits(windows, [W0, W1[:3]], 6)  # special-token rows not stripped / wrong length
    with pytest.raises(WindowError):
        merge_logits(windows, [W0, W1[:, :1]], 6)
    with pytest.raises(WindowError):
        merge_logits([Window(0, 0, 0, 4)], [W0], 6)  # pieces 4, 5 uncovered
    with pytest.raises(ConfigError):
        merge_logits(windows, [W0, W1], 6, mode="max")


def test_piece_to_token_logits() -> None:
    pieces = [2, 0, 1, 3]
    piece_logits = np.arange(12, dtype=np.float32).reshape(6, 2)
    first = piece_to_token_logits(piece_logits, pieces, how="first")
    np.testing.assert_array_equal(first[[0, 2, 3]], [[0, 1], [4, 5], [6, 7]])
    assert np.isnan(first[1]).all()
    mean = piece_to_token_logits(piece_logits, pieces, how="mean")
    np.testing.assert_allclose(mean[[0, 2, 3]], [[1, 2], [4, 5], [8, 9]])
    assert np.isnan(mean[1]).all()
    with pytest.raises(WindowError):
        piece_to_token_logits(piece_logits[:5], pieces)
    with pytest.raises(ConfigError):
        piece_to_token_logits(piece_logits, pieces, how="last")


def test_bad_configuration_and_input() -> None:
    with pytest.raises(ConfigError):
        NaiveHalfOverlap(2)
    with pytest.raises(ConfigError):
        NaiveHalfOverlap(512, overlap=1.0)
    with pytest.raises(ConfigError):
        SentencePacking(12, min_context=5)  # 2 * 5 >= limit 10
    with pytest.raises(WindowError):
        NaiveHalfOverlap(512).plan([1, -1])
    with pytest.raises(WindowError):
        SentencePacking(512).plan([1, 1], [0, 3])
    with pytest.raises(WindowError):
        Window(3, 2, 0, 4)


def test_registry_functions() -> None:
    from spacy.util import registry

    import spacy_clinical_es.models.registry  # noqa: F401

    config = {
        "naive": {"@misc": "spacy_clinical_es.NaiveWindows.v1", "window": 128},
        "packed": {"@misc": "spacy_clinical_es.SentenceWindows.v1", "window": 128, "min_context": 4},
        "default": {"@misc": "spacy_clinical_es.SentenceWindows.v1"},
    }
    resolved = registry.resolve(config)
    assert isinstance(resolved["naive"], NaiveHalfOverlap) and resolved["naive"].limit == 126
    assert isinstance(resolved["packed"], SentencePacking) and resolved["packed"].context == 4
    # window=None is "the model's limit": resolved by with_window when the model loads
    assert resolved["default"].window is None
    with pytest.raises(WindowError):
        resolved["default"].plan([1, 2])
    sized = resolved["default"].with_window(512, 2)
    assert sized.limit == 510 and sized.context == 31
    assert resolved["naive"].with_window(64, 3).limit == 61


def test_core_imports_neither_spacy_nor_torch() -> None:
    code = "import sys, spacy_clinical_es.models; print(sorted({'spacy', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- backward passes: <f(x), dy> == <x, f^T(dy)> for these linear maps ------


@pytest.mark.parametrize("mode", ["average", "central"])
@pytest.mark.parametrize("cls", STRATEGY_CLASSES)
def test_merge_backward_is_the_adjoint(cls: type, mode: str) -> None:
    rng = np.random.default_rng(11)
    pieces = rng.integers(0, 4, size=400).tolist()
    windows = cls(40).plan(pieces, sorted(rng.choice(400, 30, replace=False).tolist()))
    n = sum(pieces)
    logits = _random_logits(windows, n_labels=3, seed=2)
    d_merged = rng.normal(size=(n, 3))
    grads = merge_logits_backward(windows, d_merged, mode=mode)
    assert [g.shape for g in grads] == [lg.shape for lg in logits]
    lhs = float((merge_logits(windows, logits, n, mode=mode) * d_merged).sum())
    rhs = sum(float((lg * g).sum()) for lg, g in zip(logits, grads))
    assert lhs == pytest.approx(rhs)


def test_merge_backward_hand_computed() -> None:
    d = np.ones((6, 2))
    average = merge_logits_backward(_two_windows(), d, mode="average")
    np.testing.assert_allclose(average[0][:, 0], [1, 1, 0.5, 0.5])
    np.testing.assert_allclose(average[1][:, 0], [0.5, 0.5, 1, 1])
    central = merge_logits_backward(_two_windows(), d, mode="central")
    np.testing.assert_allclose(central[0][:, 0], [1, 1, 1, 0])
    np.testing.assert_allclose(central[1][:, 0], [0, 1, 1, 1])


@pytest.mark.parametrize("how", ["first", "mean"])
def test_piece_to_token_backward_is_the_adjoint(how: str) -> None:
    rng = np.random.default_rng(4)
    pieces = [2, 0, 1, 3, 0, 5, 1]
    n = sum(pieces)
    piece_logits = rng.normal(size=(n, 2))
    d_tokens = rng.normal(size=(len(pieces), 2))
    forward = np.nan_to_num(piece_to_token_logits(piece_logits, pieces, how=how))
    d_pieces = piece_to_token_backward(d_tokens, pieces, how=how)
    assert d_pieces.shape == (n, 2)
    assert float((forward * d_tokens).sum()) == pytest.approx(float((piece_logits * d_pieces).sum()))
    with pytest.raises(WindowError):
        piece_to_token_backward(d_tokens[:3], pieces, how=how)


# --- properties --------------------------------------------------------------


@st.composite
def documents(draw: st.DrawFn) -> tuple:
    n_tokens = draw(st.integers(0, 3000))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # mostly short tokens and some zero-piece ones; 1 in 10 anywhere in 0..40
    common = rng.choice([0, 1, 1, 1, 2, 3], size=n_tokens)
    pieces = np.where(rng.random(n_tokens) < 0.1, rng.integers(0, 41, size=n_tokens), common).tolist()
    n_starts = draw(st.integers(0, max(0, n_tokens // 5)))
    starts: list[int] | None = None
    if draw(st.booleans()):
        starts = sorted(rng.integers(0, n_tokens + 1, size=n_starts).tolist())
    window = draw(st.integers(8, 512))
    return pieces, starts, window


@pytest.mark.parametrize("cls", STRATEGY_CLASSES)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
def test_plan_properties(cls: type, doc: tuple) -> None:
    pieces, starts, window = doc
    windows = cls(window).plan(pieces, starts)
    _check_plan(windows, pieces, window - 2)
    n = sum(pieces)
    if n:
        logits = _random_logits(windows, n_labels=2)
        for mode in ("average", "central"):
            assert merge_logits(windows, logits, n, mode=mode).shape == (n, 2)
