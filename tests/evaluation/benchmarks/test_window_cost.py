"""benchmark windows-cost: the cost of each strategy on hand-made piece counts."""
from __future__ import annotations

from spacy_clinical_es.evaluation.benchmarks.window_cost import measure, stand_in_pieces
from spacy_clinical_es.models import NaiveHalfOverlap, SentencePacking


def test_stand_in_pieces() -> None:
    assert stand_in_pieces("  ") == 0
    assert stand_in_pieces("a") == 1
    assert stand_in_pieces("abcdefghi") == 3


def test_a_document_inside_one_window_costs_one() -> None:
    docs = [([1] * 10, [0, 5])]
    for strategy in (NaiveHalfOverlap(64), SentencePacking(64)):
        result = measure(docs, strategy)
        assert result["cost"] == 1.0 and result["windows"] == 1 and result["max_doc_cost"] == 1.0


def test_long_document_naive_costs_more_than_packing() -> None:
    pieces = [1] * 400
    starts = list(range(0, 400, 20))
    naive = measure([(pieces, starts)], NaiveHalfOverlap(66))
    packed = measure([(pieces, starts)], SentencePacking(66))
    assert naive["cost"] > packed["cost"] >= 1.0
    assert measure([], NaiveHalfOverlap(66))["cost"] == 1.0
