"""``spacy_clinical_es.deid.recall``: per-token PHI probabilities to spans."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.deid import DeidError
from spacy_clinical_es.deid.recall import recall_spans

LABELS = ["PAIS", "TERRITORIO"]


def probs(rows: list[tuple[float, float, float]]) -> np.ndarray:
    return np.asarray(rows, dtype="float32")


def test_runs_split_by_label_and_trimmed() -> None:
    # "vive en Madrid , España ."
    p = probs([(0.9, 0.05, 0.05), (0.8, 0.1, 0.1), (0.3, 0.1, 0.6), (0.4, 0.3, 0.3), (0.2, 0.7, 0.1), (0.45, 0.5, 0.05)])
    content = [True, True, True, False, True, False]
    spans = recall_spans(p, LABELS, threshold=0.5, covered=[False] * 6, content=content)
    # The comma joins the run but carries no label change; the run splits at "España", trailing "." is trimmed.
    assert spans == [(2, 3, "TERRITORIO"), (4, 5, "PAIS")]


def test_covered_tokens_break_runs_and_threshold_is_inclusive() -> None:
    p = probs([(0.5, 0.5, 0.0), (0.1, 0.9, 0.0), (0.5, 0.5, 0.0)])
    assert recall_spans(p, LABELS, threshold=0.5, covered=[False, True, False], content=[True] * 3) == [
        (0, 1, "PAIS"),
        (2, 3, "PAIS"),
    ]
    assert recall_spans(p, LABELS, threshold=0.51, covered=[False, True, False], content=[True] * 3) == []


def test_punctuation_only_run_is_dropped() -> None:
    p = probs([(0.1, 0.9, 0.0), (0.1, 0.9, 0.0)])
    assert recall_spans(p, LABELS, threshold=0.5, covered=[False, False], content=[False, False]) == []


def test_pieces_touching_entities_keep_their_punctuation() -> None:
    # "C/ Mayor" (covered) "," "5" "," "Madrid" (covered) "." : ", 5 ," continues and bridges the entities;
    # the final "." touches an entity on its left only and has no content: dropped.
    p = probs([(0.0, 0.0, 1.0)] * 2 + [(0.2, 0.0, 0.8)] * 3 + [(0.0, 0.0, 1.0), (0.3, 0.0, 0.7)])
    covered = [True, True, False, False, False, True, False]
    content = [True, True, False, True, False, True, False]
    assert recall_spans(p, LABELS, threshold=0.5, covered=covered, content=content) == [(2, 5, "TERRITORIO")]
    # A lone comma between two entities bridges them.
    p = probs([(0.0, 1.0, 0.0), (0.4, 0.6, 0.0), (0.0, 1.0, 0.0)])
    bridge = recall_spans(p, LABELS, threshold=0.5, covered=[True, False, True], content=[True, False, True])
    assert bridge == [(1, 2, "PAIS")]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"probabilities": np.zeros((2, 2)), "covered": [False] * 2, "content": [True] * 2},
        {"probabilities": np.zeros((2, 3)), "covered": [False] * 3, "content": [True] * 3},
        {"probabilities": np.zeros((2, 3)), "covered": [False] * 2, "content": [True]},
    ],
)
def test_bad_shapes_raise(kwargs) -> None:
    with pytest.raises(DeidError, match="recall_spans"):
        recall_spans(labels=LABELS, threshold=0.5, **kwargs)


def test_temperature_softens_confident_rows() -> None:
    # P(outside) 0.99 for both tokens; the second spreads its PHI mass over two labels.
    p = probs([(0.99, 0.01, 0.0), (0.99, 0.005, 0.005)])
    kwargs = {"threshold": 0.2, "covered": [False, False], "content": [True, True]}
    assert recall_spans(p, LABELS, **kwargs) == []
    # At T = 3 the PHI shares become 0.178 and 0.255: only the spread token reaches 0.2.
    assert recall_spans(p, LABELS, temperature=3.0, **kwargs) == [(1, 2, "PAIS")]
    assert recall_spans(p, LABELS, temperature=1.0, **kwargs) == recall_spans(p, LABELS, **kwargs)
    with pytest.raises(DeidError, match="temperature"):
        recall_spans(p, LABELS, temperature=0.0, **kwargs)


def test_bad_threshold_raises() -> None:
    with pytest.raises(DeidError, match="threshold"):
        recall_spans(np.zeros((1, 3)), LABELS, threshold=0.0, covered=[False], content=[True])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.floats(0, 1), min_size=3, max_size=3),
            st.booleans(),
            st.booleans(),
        ),
        max_size=40,
    ),
    st.floats(0.01, 1.0),
)
def test_spans_are_sorted_disjoint_uncovered_content_bounded(rows, threshold) -> None:
    p = np.asarray([r[0] for r in rows], dtype="float32").reshape(len(rows), 3)
    covered = [r[1] for r in rows]
    content = [r[2] for r in rows]
    spans = recall_spans(p, LABELS, threshold=threshold, covered=covered, content=content)
    previous_end = 0
    for start, end, label in spans:
        assert previous_end <= start < end <= len(rows)
        assert label in LABELS
        assert content[start] or (start > 0 and covered[start - 1])
        assert content[end - 1] or (end < len(rows) and covered[end])
        assert not any(covered[start:end])
        assert all(1 - p[i, 0] >= threshold for i in range(start, end))
        previous_end = end
    # Every uncovered content token over the threshold is in a span.
    inside = {i for start, end, _ in spans for i in range(start, end)}
    for i in range(len(rows)):
        if content[i] and not covered[i] and 1 - p[i, 0] >= threshold:
            assert i in inside
