"""runtime.annotate.nested_in: the shortest longer span holding each one, without comparing every pair."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es.runtime.annotate import nested_in


def _every_pair(spans: list[tuple[int, int]]) -> list[int | None]:
    """The definition: among all other spans holding this one and longer, the shortest (first on ties)."""
    out: list[int | None] = []
    for i, (start, end) in enumerate(spans):
        holders = [j for j, (s, e) in enumerate(spans) if j != i and s <= start and end <= e and e - s > end - start]
        out.append(min(holders, key=lambda j: spans[j][1] - spans[j][0]) if holders else None)
    return out


def test_nested_and_crossing_spans() -> None:
    spans = [(0, 20), (0, 10), (5, 25), (6, 9), (30, 35)]  # sorted by start, longest first
    assert nested_in(spans) == [None, 0, None, 1, None]  # (6, 9) sits in (0, 10), the shortest of three holders


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 15)), max_size=40))
def test_same_answer_as_comparing_every_pair(raw: list[tuple[int, int]]) -> None:
    spans = sorted({(s, s + n) for s, n in raw}, key=lambda se: (se[0], -se[1]))
    assert nested_in(spans) == _every_pair(spans)
