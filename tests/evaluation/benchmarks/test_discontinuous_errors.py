"""The discontinuous error analysis: gap patterns, outcomes and the counts over Docs."""
from __future__ import annotations

import spacy
from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es.evaluation.benchmarks.discontinuous_errors import (
    COORDINATION,
    CROSS_SENTENCE,
    DETECTION,
    FOUND,
    INTERPOSED,
    LINKING,
    LONG_GAP,
    PATTERNS,
    analyse_docs,
    gap_pattern,
    markdown,
    outcome,
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


def test_outcomes():
    frags = [(0, 5), (10, 15)]
    entities = {("DIAGNOSTICO", frozenset(frags))}
    fragments = {(0, 5, "DIAGNOSTICO"), (10, 15, "DIAGNOSTICO")}
    assert outcome("DIAGNOSTICO", frags, fragments, entities) == FOUND
    assert outcome("DIAGNOSTICO", frags, fragments, set()) == LINKING
    assert outcome("DIAGNOSTICO", frags, {(0, 5, "DIAGNOSTICO")}, set()) == DETECTION
    assert outcome("PROCEDIMIENTO", frags, fragments, entities) == DETECTION  # the label counts


def test_analyse_docs_counts_each_gold_discontinuous_entity_once():
    nlp = spacy.blank("es")
    text = "Fractura de tibia y peroné. Dolor a nivel de hipogastrio."
    gold = nlp(text)
    gold.spans["codiesp"] = [
        gold.char_span(*_frags(text, "Fractura de")[0], "DIAGNOSTICO", span_id="1"),
        gold.char_span(*_frags(text, "peroné")[0], "DIAGNOSTICO", span_id="1"),
        gold.char_span(*_frags(text, "Fractura de tibia")[0], "DIAGNOSTICO", span_id="2"),
        gold.char_span(*_frags(text, "Dolor")[0], "DIAGNOSTICO", span_id="3"),
        gold.char_span(*_frags(text, "hipogastrio")[0], "DIAGNOSTICO", span_id="3"),
    ]
    pred = nlp(text)
    pred.spans["codiesp"] = [  # "Dolor … hipogastrio" found; "peroné" fragment never predicted
        pred.char_span(*_frags(text, "Dolor")[0], "DIAGNOSTICO", span_id="a"),
        pred.char_span(*_frags(text, "hipogastrio")[0], "DIAGNOSTICO", span_id="a"),
        pred.char_span(*_frags(text, "Fractura de")[0], "DIAGNOSTICO", span_id="b"),
    ]
    result = analyse_docs([gold], [pred])
    assert result["entities"] == 2  # the continuous "Fractura de tibia" is not counted
    assert result["outcomes"] == {FOUND: 1, LINKING: 0, DETECTION: 1}
    assert result["by_pattern"][INTERPOSED][FOUND] == 1
    assert result["by_pattern"][COORDINATION][DETECTION] == 1
    # "Fractura de … peroné" overlaps the gold "Fractura de tibia"
    assert result["sharing_text_with_another_entity"] == {FOUND: 0, LINKING: 0, DETECTION: 1}
    # its missing fragment "peroné" lies outside every predicted span
    assert result["detection_misses"] == {"overlaps_a_predicted_span": 0, "outside_every_predicted_span": 1}
    text_md = markdown({**result, "model": "m", "data": "d", "command": "c"})
    assert "| interposed | 1 |" in text_md and "“Dolor … hipogastrio”" in text_md
