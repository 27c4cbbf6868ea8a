"""benchmark discontinuous: all / continuous / discontinuous scores and recall by fragment count, by hand."""
from __future__ import annotations

from spacy_clinical_es.concepts.patterns import PATTERNS
from spacy_clinical_es.evaluation.benchmarks.discontinuous import markdown, score

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


def test_discontinuous_scores_by_gap_pattern_keep_the_label() -> None:
    text = "fractura de tibia y peroné. Dolor a nivel de hipogastrio. Tos seca."
    at = lambda *parts: frozenset((text.index(p), text.index(p) + len(p)) for p in parts)
    coordination, interposed, cross = at("fractura de", "peroné"), at("Dolor", "hipogastrio"), at("hipogastrio", "Tos")
    gold = [(0, "DIAGNOSTICO", coordination), (0, "DIAGNOSTICO", interposed), (0, "DIAGNOSTICO", at("Dolor"))]
    pred = [(0, "DIAGNOSTICO", coordination), (0, "PROCEDIMIENTO", interposed), (0, "DIAGNOSTICO", cross)]
    patterns = score(gold, pred, [text])["discontinuous_by_pattern"]
    assert set(patterns) == set(PATTERNS)
    assert (patterns["coordination"]["tp"], patterns["coordination"]["f"]) == (1, 1.0)
    assert (patterns["interposed"]["tp"], patterns["interposed"]["fp"], patterns["interposed"]["fn"]) == (0, 1, 1)
    assert (patterns["cross_sentence"]["fp"], patterns["cross_sentence"]["fn"]) == (1, 0)
    assert patterns["long_gap"] == {"p": 0.0, "r": 0.0, "f": 0.0, "tp": 0, "fp": 0, "fn": 0}
    assert "discontinuous_by_pattern" not in score(gold, pred)


def test_markdown_shows_old_and_new_decoders_side_by_side() -> None:
    text = "fractura de tibia y peroné."
    frags = frozenset({(0, 11), (20, 26)})
    new = {**score([(0, "DIAGNOSTICO", frags)], [(0, "DIAGNOSTICO", frags)], [text]), "words_per_second": 10.0}
    old = {**score([(0, "DIAGNOSTICO", frags)], [], [text]), "words_per_second": 20.0}
    thresholds = {"part_threshold": 0.1, "link_threshold": 0.9}
    grid = {"part 0.1 link 0.9": {"all": new["all"], "discontinuous": new["discontinuous"]}}
    split = {"config": new, "tuned": new, "brat_round_trip": {
        "documents": 1, "entities_written": 1, "discontinuous_written": 1, "documents_differing_after_read_back": 0}}
    results = {
        "model": "new", "gold": "gold", "protocol": "protocol", "command": "cmd", "settings": thresholds,
        "tuned_thresholds": thresholds, "tuning_grid": grid, "splits": {"test": split},
        "baseline": {"model": "old", "tuned_thresholds": thresholds, "splits": {"test": {"config": old, "tuned": old}}},
    }
    text_md = markdown(results)
    assert "Old decoder (baseline `old`" in text_md
    rows = [line for line in text_md.splitlines() if line.startswith("| test | config | ")]
    assert any("| old |" in row and "0.0000 / 0.0000 / **0.0000**" in row for row in rows)
    assert any("| new |" in row and "1.0000 / 1.0000 / **1.0000**" in row for row in rows)
    assert "coordination" in text_md
