"""Hand-computed checks and properties of the spaCy-free metrics."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.errors import EvaluationError
from spacy_clinical_es.evaluation.metrics import (
    PRFCounts,
    accuracy_at_k,
    align_spans_to_iob2,
    deid_char_scores,
    deid_token_scores,
    domain_gap,
    fragment_match_prf,
    iob2_token_prf,
    leak_rate,
    spans_to_iob2,
    strict_span_prf,
)


def prf(result: dict) -> tuple:
    return (result["p"], result["r"], result["f"])


def counts(result: dict) -> tuple:
    return (result["tp"], result["fp"], result["fn"])


# -- PRFCounts -----------------------------------------------------------------


def test_prf_counts_zero_denominators_are_zero():
    assert (PRFCounts().precision, PRFCounts().recall, PRFCounts().fscore) == (0, 0, 0)
    # 3 TP, 1 FP, 2 FN: P = 3/4, R = 3/5, F = 2*.75*.6/1.35 = 2/3
    c = PRFCounts(3, 1, 2)
    assert c.precision == pytest.approx(0.75)
    assert c.recall == pytest.approx(0.6)
    assert c.fscore == pytest.approx(2 / 3)
    assert (c + PRFCounts(1, 1, 1)).to_dict()["tp"] == 4


# -- strict spans ----------------------------------------------------------------

GOLD_SPANS = [
    ("d1", 0, 5, "NAME"),
    ("d1", 10, 15, "DATE"),
    ("d1", 20, 25, "NAME"),
    ("d2", 0, 3, "CITY"),
]
PRED_SPANS = [
    ("d1", 0, 5, "NAME"),  # TP
    ("d1", 10, 14, "DATE"),  # FP DATE (end off by one) + FN DATE (10, 15)
    ("d1", 20, 25, "DATE"),  # FP DATE (wrong label) + FN NAME (20, 25)
    ("d2", 0, 3, "CITY"),  # TP
    ("d2", 0, 3, "CITY"),  # duplicate: counts once
    ("d2", 5, 8, "CITY"),  # FP CITY
]


def test_strict_span_prf_hand_computed():
    result = strict_span_prf(GOLD_SPANS, PRED_SPANS)
    # NAME: tp 1, fp 0, fn 1 -> P 1, R 1/2, F 2/3
    assert counts(result["per_type"]["NAME"]) == (1, 0, 1)
    assert prf(result["per_type"]["NAME"]) == pytest.approx((1.0, 0.5, 2 / 3))
    # DATE: tp 0, fp 2, fn 1 -> all 0
    assert counts(result["per_type"]["DATE"]) == (0, 2, 1)
    assert prf(result["per_type"]["DATE"]) == (0.0, 0.0, 0.0)
    # CITY: tp 1, fp 1, fn 0 -> P 1/2, R 1, F 2/3
    assert counts(result["per_type"]["CITY"]) == (1, 1, 0)
    assert prf(result["per_type"]["CITY"]) == pytest.approx((0.5, 1.0, 2 / 3))
    # micro: tp 2, fp 3, fn 2 -> P 2/5, R 2/4, F 2*.4*.5/.9 = 4/9
    assert counts(result) == (2, 3, 2)
    assert prf(result) == pytest.approx((0.4, 0.5, 4 / 9))
    assert list(result["per_type"]) == ["CITY", "DATE", "NAME"]


def test_strict_span_prf_document_id_matters():
    result = strict_span_prf([("a", 0, 3, "X")], [("b", 0, 3, "X")])
    assert counts(result) == (0, 1, 1)


def test_strict_span_prf_labels_filter_and_zero_rows():
    result = strict_span_prf(GOLD_SPANS, PRED_SPANS, labels=["NAME", "HOSPITAL"])
    # Only NAME is scored: tp 1, fp 0, fn 1; HOSPITAL gets an empty row.
    assert counts(result) == (1, 0, 1)
    assert set(result["per_type"]) == {"NAME", "HOSPITAL"}
    assert counts(result["per_type"]["HOSPITAL"]) == (0, 0, 0)
    # Ignored: 2 gold (DATE, CITY) and 4 of the 5 unique predictions (all but NAME)
    assert result["ignored_gold"] == 2
    assert result["ignored_pred"] == 4


@pytest.mark.parametrize(
    "gold,pred,expected",
    [
        ([], [], (0, 0, 0)),  # nothing at all: zeros, not 1.0 and not a crash
        ([], [("d", 0, 1, "X")], (0, 1, 0)),  # no gold: P = R = F = 0
        ([("d", 0, 1, "X")], [], (0, 0, 1)),  # no predictions: P = R = F = 0
    ],
)
def test_strict_span_prf_empty_sides_give_zero(gold, pred, expected):
    result = strict_span_prf(gold, pred)
    assert counts(result) == expected
    assert prf(result) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "span", [("d", 5, 2, "X"), ("d", -1, 2, "X"), ("d", "0", 2, "X"), ("d", 0, 2)]
)
def test_strict_span_prf_rejects_bad_spans(span):
    with pytest.raises(EvaluationError):
        strict_span_prf([span], [])


# -- IOB2 -------------------------------------------------------------------------


def test_iob2_token_prf_hand_computed():
    gold = [["B-A", "I-A", "O", "B-B", "I-B", "O"], ["O"]]
    pred = [["B-A", "B-A", "O", "B-B", "O", "I-A"], ["O"]]
    # t0 B-A/B-A: TP A; t1 I-A/B-A: FN A + FP A (B/I mismatch is an error);
    # t3 B-B/B-B: TP B; t4 I-B/O: FN B; t5 O/I-A: FP A.
    result = iob2_token_prf(gold, pred)
    # A: tp 1, fp 2, fn 1 -> P 1/3, R 1/2, F (2*1/6)/(5/6) = 0.4
    assert counts(result["per_type"]["A"]) == (1, 2, 1)
    assert prf(result["per_type"]["A"]) == pytest.approx((1 / 3, 0.5, 0.4))
    # B: tp 1, fp 0, fn 1 -> P 1, R 1/2, F 2/3
    assert prf(result["per_type"]["B"]) == pytest.approx((1.0, 0.5, 2 / 3))
    # micro: tp 2, fp 2, fn 2
    assert counts(result) == (2, 2, 2)
    assert prf(result) == pytest.approx((0.5, 0.5, 0.5))


def test_iob2_token_prf_labels_filter_treats_other_classes_as_outside():
    result = iob2_token_prf([["B-A", "B-B"]], [["B-A", "B-A"]], labels=["B"])
    # A is ignored: t1 gold B-B vs pred (A -> O): FN B only.
    assert counts(result) == (0, 0, 1)
    assert list(result["per_type"]) == ["B"]


def test_iob2_token_prf_empty_and_all_outside():
    assert prf(iob2_token_prf([], [])) == (0.0, 0.0, 0.0)
    assert counts(iob2_token_prf([["O", "O"]], [["O", "O"]])) == (0, 0, 0)


@pytest.mark.parametrize(
    "gold,pred",
    [
        ([["O"]], []),  # different number of documents
        ([["O", "O"]], [["O"]]),  # different number of tokens
        ([["PER"]], [["O"]]),  # not an IOB2 tag
        ([["O"]], [["B-"]]),  # prefix without a class
        ([["O"]], [["E-X"]]),  # BIOES, not IOB2
    ],
)
def test_iob2_token_prf_rejects_bad_input(gold, pred):
    with pytest.raises(EvaluationError):
        iob2_token_prf(gold, pred)


# Tokens of "Ana Pérez García vive en Calle Mayor 5" (offsets only).
TOKENS = [(0, 3), (4, 9), (10, 16), (17, 21), (22, 24), (25, 30), (31, 36), (37, 38)]


def test_spans_to_iob2_rules():
    spans = [
        (0, 16, "NAME"),  # tokens 0-2, longest: placed first
        (4, 9, "SURNAME"),  # nested in NAME: dropped
        (25, 38, "ADDR"),  # tokens 5-7
        (26, 28, "X"),  # inside ADDR's first token: dropped
        (18, 19, "Y"),  # part of token 3 tags the whole token
        (21, 22, "Z"),  # the space between tokens 3 and 4: no token, dropped
        (0, 16, "NAME"),  # identical duplicate: not a conflict
    ]
    tags, dropped = align_spans_to_iob2(TOKENS, spans)
    assert tags == [
        "B-NAME",
        "I-NAME",
        "I-NAME",
        "B-Y",
        "O",
        "B-ADDR",
        "I-ADDR",
        "I-ADDR",
    ]
    assert dropped == [(4, 9, "SURNAME"), (26, 28, "X"), (21, 22, "Z")]
    assert spans_to_iob2(TOKENS, spans) == tags


def test_spans_to_iob2_ties_and_adjacent_spans():
    tokens = [(0, 2), (3, 5), (6, 8)]
    # Same length (5): the earlier start wins, the other is dropped.
    assert align_spans_to_iob2(tokens, [(3, 8, "B"), (0, 5, "A")]) == (
        ["B-A", "I-A", "O"],
        [(3, 8, "B")],
    )
    # Adjacent mentions of one class stay two mentions.
    assert spans_to_iob2(tokens, [(0, 2, "A"), (3, 5, "A")]) == ["B-A", "B-A", "O"]
    # Empty and out-of-range spans cover no token.
    assert align_spans_to_iob2(tokens, [(4, 4, "A"), (20, 30, "A")])[0] == ["O"] * 3


@pytest.mark.parametrize("tokens", [[(3, 5), (0, 2)], [(0, 3), (2, 5)], [(0, 0)]])
def test_spans_to_iob2_rejects_unsorted_overlapping_or_empty_tokens(tokens):
    with pytest.raises(EvaluationError):
        spans_to_iob2(tokens, [])


# -- de-identification ------------------------------------------------------------


def test_deid_token_scores_hand_computed():
    tokens = {"a": [(0, 4), (5, 10), (11, 13), (14, 20)], "b": [(0, 3)]}
    gold = [("a", 0, 10, "NAME"), ("a", 14, 20, "CITY")]  # PHI tokens a0, a1, a3
    pred = [
        (
            "a",
            5,
            10,
            "DATE",
        ),  # a1: right token, wrong label still counts (labels ignored)
        ("a", 11, 13, "X"),  # a2: FP
        ("a", 15, 16),  # a3: a partial overlap covers the token; label optional
    ]
    result = deid_token_scores(tokens, gold, pred)
    # gold {a0, a1, a3}, pred {a1, a2, a3}: tp 2, fp 1, fn 1 (a0 leaks)
    assert counts(result) == (2, 1, 1)
    assert prf(result) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert result["leak_rate"] == pytest.approx(1 / 3)
    assert (result["gold_tokens"], result["pred_tokens"]) == (3, 3)
    assert leak_rate(tokens, gold, pred) == pytest.approx(1 / 3)


def test_deid_token_scores_edge_cases():
    tokens = {"a": [(0, 4)]}
    # No gold PHI: nothing can leak.
    assert deid_token_scores(tokens, [], [("a", 0, 4)])["leak_rate"] == 0.0
    # No prediction: everything leaks.
    assert deid_token_scores(tokens, [("a", 0, 4)], [])["leak_rate"] == 1.0
    with pytest.raises(EvaluationError, match="no token offsets"):
        deid_token_scores(tokens, [("missing", 0, 4)], [])


def test_deid_char_scores_hand_computed():
    texts = {"a": "Ana Gil Sanz"}
    gold = [("a", 0, 12, "NAME")]
    pred = [("a", 0, 3, "NAME"), ("a", 4, 7, "NAME")]
    # Without texts: gold 12 chars, pred 6 -> tp 6, fn 6, leak 6/12.
    plain = deid_char_scores(gold, pred)
    assert counts(plain) == (6, 0, 6)
    assert plain["leak_rate"] == pytest.approx(0.5)
    # With texts the 2 spaces do not count: gold 10 chars, pred 6 -> fn 4 ("Sanz").
    result = deid_char_scores(gold, pred, texts=texts)
    assert counts(result) == (6, 0, 4)
    assert result["leak_rate"] == pytest.approx(0.4)
    assert result["r"] == pytest.approx(0.6)
    with pytest.raises(EvaluationError, match="after the text"):
        deid_char_scores([("a", 0, 99)], [], texts=texts)


# -- fragment sets ---------------------------------------------------------------


def test_fragment_match_prf_hand_computed():
    gold = [
        ("d", "DIS", frozenset({(0, 5), (10, 15)})),  # discontinuous
        ("d", "DIS", frozenset({(0, 15)})),  # nested around it
        ("d", "PROC", frozenset({(20, 25)})),
    ]
    pred = [
        ("d", "DIS", [(10, 15), (0, 5)]),  # TP: fragment order is irrelevant
        ("d", "DIS", [(0, 5)]),  # FP: one fragment only
        ("d", "PROC", [(20, 25)]),  # TP
        ("d", "PROC", [(30, 35), (40, 45)]),  # FP, discontinuous
    ]
    result = fragment_match_prf(gold, pred)
    # all: tp 2, fp 2, fn 1 ({(0, 15)} missed) -> P 1/2, R 2/3, F 4/7
    assert counts(result) == (2, 2, 1)
    assert prf(result) == pytest.approx((0.5, 2 / 3, 4 / 7))
    assert prf(result["per_type"]["DIS"]) == pytest.approx((0.5, 0.5, 0.5))
    assert prf(result["per_type"]["PROC"]) == pytest.approx((0.5, 1.0, 2 / 3))
    # discontinuous only: gold {DIS 2 frags}, pred {DIS 2 frags, PROC 2 frags}
    # -> tp 1, fp 1, fn 0: P 1/2, R 1, F 2/3
    disc = result["discontinuous"]
    assert counts(disc) == (1, 1, 0)
    assert prf(disc) == pytest.approx((0.5, 1.0, 2 / 3))


def test_fragment_match_prf_adjacent_fragments_are_not_merged():
    result = fragment_match_prf(
        [("d", "X", [(0, 5), (5, 10)])], [("d", "X", [(0, 10)])]
    )
    assert counts(result) == (0, 1, 1)


def test_fragment_match_prf_rejects_items_without_fragments():
    with pytest.raises(EvaluationError):
        fragment_match_prf([("d", "X", [])], [])


# -- linking --------------------------------------------------------------------


def test_accuracy_at_k_hand_computed():
    gold = ["A", {"B", "C"}, "D+E", "F", []]
    ranked = [
        ["A", "X"],  # hit at rank 1
        ["X", "Y", "Z", "W", "C"],  # C (one of the acceptable codes) at rank 5
        ["D", "E", "D+E"],  # composite matches only as a whole string, rank 3
        ["X"],  # miss
        ["A"],  # no gold code: always wrong, reported
    ]
    result = accuracy_at_k(gold, ranked, ks=(1, 3, 5))
    assert result["n"] == 5
    assert result["n_without_gold"] == 1
    assert result["acc@1"] == pytest.approx(1 / 5)
    assert result["acc@3"] == pytest.approx(2 / 5)
    assert result["acc@5"] == pytest.approx(3 / 5)
    assert accuracy_at_k([" A "], [["A"]])["acc@1"] == 1.0
    assert accuracy_at_k([], []) == {
        "n": 0,
        "n_without_gold": 0,
        "acc@1": 0.0,
        "acc@5": 0.0,
    }


@pytest.mark.parametrize("gold,ranked,ks", [(["A"], [], (1,)), (["A"], [["A"]], (0,))])
def test_accuracy_at_k_rejects_bad_input(gold, ranked, ks):
    with pytest.raises(EvaluationError):
        accuracy_at_k(gold, ranked, ks=ks)


# -- domain gap -------------------------------------------------------------------


def test_domain_gap_hand_computed():
    in_domain = {
        "p": 0.8,
        "r": 0.6,
        "f": 0.7,
        "per_type": {
            "A": {"p": 0.9, "r": 0.5, "f": 0.6},
            "B": {"p": 1, "r": 1, "f": 1},
        },
    }
    out_of_domain = {
        "p": 0.5,
        "r": 0.4,
        "f": 0.45,
        "per_type": {
            "A": {"p": 0.4, "r": 0.5, "f": 0.2},
            "C": {"p": 0, "r": 0, "f": 0},
        },
    }
    gap = domain_gap(in_domain, out_of_domain)
    assert (gap["p"], gap["r"], gap["f"]) == pytest.approx((0.3, 0.2, 0.25))
    assert gap["per_type"]["A"] == pytest.approx({"p": 0.5, "r": 0.0, "f": 0.4})
    assert list(gap["per_type"]) == ["A"]
    assert gap["labels_only_id"] == ["B"]
    assert gap["labels_only_ood"] == ["C"]


# -- properties ---------------------------------------------------------------------

LABELS = st.sampled_from(["A", "B", "C"])
SPAN = st.tuples(
    st.sampled_from(["d1", "d2"]), st.integers(0, 20), st.integers(0, 8), LABELS
).map(lambda t: (t[0], t[1], t[1] + t[2], t[3]))
TAG = st.sampled_from(["O", "B-A", "I-A", "B-B", "I-B"])


def assert_valid_prf(result: dict) -> None:
    for row in [result, *result.get("per_type", {}).values()]:
        p, r, f = prf(row)
        assert 0.0 <= p <= 1.0 and 0.0 <= r <= 1.0 and 0.0 <= f <= 1.0
        assert min(p, r) - 1e-9 <= f <= max(p, r) + 1e-9


@settings(max_examples=150, deadline=None)
@given(st.lists(SPAN, max_size=12), st.lists(SPAN, max_size=12))
def test_strict_span_prf_properties(gold, pred):
    result = strict_span_prf(gold, pred)
    assert_valid_prf(result)
    assert result["tp"] + result["fn"] == len(set(gold))
    assert result["tp"] + result["fp"] == len(set(pred))
    perfect = strict_span_prf(gold, gold)
    if gold:
        assert prf(perfect) == (1.0, 1.0, 1.0)
    else:
        assert prf(perfect) == (0.0, 0.0, 0.0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(TAG, TAG), max_size=15), max_size=4))
def test_iob2_token_prf_properties(docs):
    gold = [[g for g, _ in doc] for doc in docs]
    pred = [[p for _, p in doc] for doc in docs]
    result = iob2_token_prf(gold, pred)
    assert_valid_prf(result)
    n_gold_entity_tokens = sum(tag != "O" for doc in gold for tag in doc)
    assert result["tp"] + result["fn"] == n_gold_entity_tokens
    if n_gold_entity_tokens:
        assert prf(iob2_token_prf(gold, gold)) == (1.0, 1.0, 1.0)


@st.composite
def tokens_and_spans(draw):
    lengths = draw(
        st.lists(st.tuples(st.integers(1, 6), st.integers(0, 2)), max_size=12)
    )
    tokens, position = [], 0
    for length, space in lengths:
        tokens.append((position, position + length))
        position += length + space
    spans = draw(
        st.lists(
            st.tuples(st.integers(0, position + 2), st.integers(0, 10), LABELS).map(
                lambda t: (t[0], t[0] + t[1], t[2])
            ),
            max_size=8,
        )
    )
    return tokens, spans


@settings(max_examples=200, deadline=None)
@given(tokens_and_spans())
def test_spans_to_iob2_properties(data):
    tokens, spans = data
    tags, dropped = align_spans_to_iob2(tokens, spans)
    assert len(tags) == len(tokens)
    # Valid IOB2: an I- tag continues a mention of the same class.
    for previous, tag in zip(["O", *tags], tags):
        if tag.startswith("I-"):
            assert previous in (f"B-{tag[2:]}", f"I-{tag[2:]}")
    # Every unique span is either placed (one B- tag each) or reported dropped.
    assert sum(tag.startswith("B-") for tag in tags) + len(dropped) == len(set(spans))
    # Scoring the conversion against itself is perfect whenever it tagged anything.
    if any(tag != "O" for tag in tags):
        assert prf(iob2_token_prf([tags], [tags])) == (1.0, 1.0, 1.0)


@settings(max_examples=150, deadline=None)
@given(tokens_and_spans(), tokens_and_spans())
def test_deid_token_scores_properties(gold_data, pred_data):
    tokens, gold = gold_data
    pred = pred_data[1]
    offsets = {"d": tokens}
    result = deid_token_scores(
        offsets, [("d", *s) for s in gold], [("d", *s) for s in pred]
    )
    assert_valid_prf(result)
    if result["gold_tokens"]:
        assert result["leak_rate"] == pytest.approx(1.0 - result["r"])
        perfect = deid_token_scores(
            offsets, [("d", *s) for s in gold], [("d", *s) for s in gold]
        )
        assert perfect["leak_rate"] == 0.0 and perfect["f"] == 1.0
    else:
        assert result["leak_rate"] == 0.0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("ABCD"), st.lists(st.sampled_from("ABCDE"), max_size=6)
        ),
        max_size=10,
    )
)
def test_accuracy_at_k_is_monotone_in_k(rows):
    gold = [g for g, _ in rows]
    ranked = [r for _, r in rows]
    result = accuracy_at_k(gold, ranked, ks=(1, 2, 5, 10))
    values = [result[f"acc@{k}"] for k in (1, 2, 5, 10)]
    assert values == sorted(values)
    assert all(0.0 <= v <= 1.0 for v in values)
