"""Negation scores: cue strict F1, scope tokens and exact scopes by polarity."""
from __future__ import annotations

import pytest

from spacy_clinical_es.context.lexicon import TokenSpan
from spacy_clinical_es.context.scope import ContextResult
from spacy_clinical_es.context.scoring import score_context

GOLD = ContextResult(
    cues=[TokenSpan(0, 1, "NegSyn", "a"), TokenSpan(5, 6, "UncertLex", "b")],
    scopes=[TokenSpan(1, 3, "DISO", "a"), TokenSpan(6, 8, "Phrase", "b")],
)


def test_perfect_prediction_scores_one() -> None:
    scores = score_context([(GOLD, GOLD)])
    assert scores["cues"]["f"] == 1.0
    assert scores["scope_tokens"]["per_type"]["negation"]["f"] == 1.0
    assert scores["scope_exact"]["per_type"]["uncertainty"]["f"] == 1.0


def test_partial_prediction_counts() -> None:
    pred = ContextResult(
        cues=[TokenSpan(0, 1, "NegLex", "x"), TokenSpan(5, 6, "UncertLex", "y")],
        scopes=[TokenSpan(1, 2, "Phrase", "x"), TokenSpan(6, 9, "Phrase", "y")],
    )
    scores = score_context([(GOLD, pred)])
    assert scores["cues"]["per_type"]["NegSyn"]["fn"] == 1 and scores["cues"]["per_type"]["NegLex"]["fp"] == 1
    assert scores["cues_by_polarity"]["per_type"]["negation"]["f"] == 1.0
    neg = scores["scope_tokens"]["per_type"]["negation"]
    assert (neg["tp"], neg["fp"], neg["fn"]) == (1, 0, 1)
    unc = scores["scope_tokens"]["per_type"]["uncertainty"]
    assert unc["p"] == pytest.approx(2 / 3) and unc["r"] == 1.0
    assert scores["scope_exact"]["f"] == 0.0
