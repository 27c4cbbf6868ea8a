"""The discontinuous error analysis: outcomes and the counts over Docs (gap patterns: tests/concepts/test_patterns.py)."""
from __future__ import annotations

import spacy

from spacy_clinical_es.concepts.patterns import COORDINATION, INTERPOSED
from spacy_clinical_es.evaluation.benchmarks.discontinuous_errors import (
    DETECTION,
    FOUND,
    LINKING,
    analyse_docs,
    markdown,
    outcome,
)


def _frags(text: str, *parts: str) -> list[tuple[int, int]]:
    return [(text.index(p), text.index(p) + len(p)) for p in parts]


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
