"""Gap patterns of discontinuous concepts (coordination, interposed, long gap, cross-sentence)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es.concepts.patterns import (
    COORDINATION,
    CROSS_SENTENCE,
    INTERPOSED,
    LONG_GAP,
    PATTERNS,
    gap_pattern,
)


def _frags(text: str, *parts: str) -> list[tuple[int, int]]:
    return [(text.index(p), text.index(p) + len(p)) for p in parts]


def test_gap_patterns():
    text = "fractura de tibia y peroné. Dolor a nivel de hipogastrio. Tos. Ayer fiebre alta sin foco claro ni otros síntomas de relieve, ahora no."
    assert gap_pattern(text, _frags(text, "fractura de", "peroné")) == COORDINATION
    assert gap_pattern(text, _frags(text, "Dolor", "hipogastrio")) == INTERPOSED
    assert gap_pattern(text, _frags(text, "hipogastrio", "Tos")) == CROSS_SENTENCE
    assert gap_pattern(text, _frags(text, "fiebre", "relieve")) == COORDINATION  # "ni"
    long_text = "dolor que aparece por las noches desde hace tres semanas en hipogastrio"
    assert gap_pattern(long_text, _frags(long_text, "dolor", "hipogastrio")) == LONG_GAP


@given(st.text(max_size=30), st.text(max_size=30), st.text(min_size=1, max_size=10), st.text(min_size=1, max_size=10))
def test_gap_pattern_is_always_one_of_the_patterns(before, gap, a, b):
    text = before + a + gap + b
    frags = [(len(before), len(before) + len(a)), (len(before) + len(a) + len(gap), len(text))]
    assert gap_pattern(text, frags) in PATTERNS
    assert gap_pattern(text, list(reversed(frags))) == gap_pattern(text, frags)  # source order does not matter
