"""benchmark discontinuous: all / continuous / discontinuous scores and recall by fragment count, by hand."""
from __future__ import annotations

from spacy_clinical_es.evaluation.benchmarks.discontinuous import score

A = frozenset({(0, 5)})
B = frozenset({(10, 15), (20, 25)})
C = frozenset({(30, 35), (40, 45), (50, 55)})


def test_scores_by_hand() -> None:
    gold = [(0, "DIAGNOSTICO", A), (0, "DIAGNOSTICO", B), (1, "PROCEDIMIENTO", C), (1, "PROCEDIMIENTO", A)]
    pred = [(0, "DIAGNOSTICO", A), (0, "DIAGNOSTICO", frozenset({(10, 15)})), (1, "PROCEDIMIENTO", C)]
    result = score(gold, pred)
    assert (result["all"]["tp"], result["all"]["fp"], result["all"]["fn"]) == (2, 1, 2)
    assert result["all"]["p"] == 2 / 3 and result["all"]["r"] == 0.5
    continuous = result["continuous"]
    assert (continuous["tp"], continuous["fp"], continuous["fn"]) == (1, 1, 1)
    assert continuous["f"] == 0.5
    assert (result["discontinuous"]["tp"], result["discontinuous"]["fn"]) == (1, 1)
    assert result["recall_by_gold_fragments"] == {
        "1": {"gold": 2, "found": 1, "r": 0.5},
        "2": {"gold": 1, "found": 0, "r": 0.0},
        "3": {"gold": 1, "found": 1, "r": 1.0},
    }
    assert result["predicted"] == {"entities": 3, "discontinuous": 1}
    assert set(result["per_type"]) == {"DIAGNOSTICO", "PROCEDIMIENTO"}


def test_empty_sides_score_zero() -> None:
    result = score([], [])
    assert result["all"]["f"] == 0.0 and result["continuous"]["f"] == 0.0
    assert result["recall_by_gold_fragments"] == {}
