from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.linking import (
    AnnOptions,
    CandidateGenerator,
    Concept,
    LinkingError,
    TerminologyKB,
    code_prior,
    prefer_preferred_terms,
    semantic_type_match,
    vocabulary_rank,
)
from spacy_clinical_es.linking.candidates import DENSE, EXACT, TOKENS


def test_exact_match_comes_first_with_score_one(hand_kb: TerminologyKB) -> None:
    gen = CandidateGenerator(hand_kb, k=3).build()
    (cands,) = gen.candidates(["Tomografía Computarizada"])
    assert cands[0].code == "77477000" and cands[0].source == EXACT and cands[0].score == 1.0
    assert len(cands) <= 3
    assert len({c.code for c in cands}) == len(cands)
    assert all(c.source == DENSE and c.score < 1.0 for c in cands[1:])


def test_tfidf_nearest_neighbour_for_unseen_form(hand_kb: TerminologyKB) -> None:
    gen = CandidateGenerator(hand_kb, k=5).build()
    results = gen.candidates(["resonancias magnéticas", "apendicectomia laparoscopica", "hipertension"])
    assert [r[0].code for r in results] == ["241615005", "80146002", "38341003"]
    assert all(r[0].source == DENSE for r in results)
    assert all(r[i].score >= r[i + 1].score for r in results for i in range(len(r) - 1))


def test_ambiguous_exact_match_and_semantic_type_reranker(hand_kb: TerminologyKB) -> None:
    plain = CandidateGenerator(hand_kb).build()
    (cands,) = plain.candidates(["apendicitis aguda"], ["DIAGNOSTICO"])
    assert {c.code for c in cands[:2]} == {"74400008", "K35.80"}
    assert cands[0].code == "74400008"  # KB order without re-ranking
    typed = CandidateGenerator(hand_kb, rerankers=[semantic_type_match()]).build()
    (cands,) = typed.candidates(["apendicitis aguda"], ["DIAGNOSTICO"])
    assert cands[0].code == "K35.80"
    assert cands[0].score == pytest.approx(1.05)
    (cands,) = typed.candidates(["apendicitis aguda"], ["ENFERMEDAD"])
    assert cands[0].code == "74400008"


def test_preferred_term_and_vocabulary_rerankers(hand_kb: TerminologyKB) -> None:
    pref = CandidateGenerator(hand_kb, rerankers=[prefer_preferred_terms(0.5)]).build()
    (cands,) = pref.candidates(["apendicitis aguda"])
    # preferred term of K35.80, only a synonym of 74400008
    assert cands[0].code == "K35.80"
    vocab = CandidateGenerator(hand_kb, rerankers=[vocabulary_rank(["ICD10-CM", "SNOMEDCT"])]).build()
    (cands,) = vocab.candidates(["apendicitis aguda"])
    assert cands[0].code == "K35.80"


def test_nested_fallback_links_best_sub_span(hand_kb: TerminologyKB) -> None:
    text = "xq zw hipertensión arterial qq"
    gen = CandidateGenerator(hand_kb, threshold=0.95).build()
    assert gen.candidates([text])[0][0].score < 0.95
    result = gen.link(text)
    assert result.best is not None and result.best.code == "38341003"
    assert text[result.span[0] : result.span[1]] == "hipertensión arterial"
    # above threshold: the whole mention is kept
    whole = gen.link("Hipertensión arterial")
    assert whole.span == (0, len("Hipertensión arterial"))


def test_nested_fallback_keeps_whole_span_when_no_sub_span_passes(hand_kb: TerminologyKB) -> None:
    gen = CandidateGenerator(hand_kb, threshold=0.99).build()
    result = gen.link("qq zz ww")
    assert result.span == (0, 8)


def test_link_many_uses_given_token_spans(hand_kb: TerminologyKB) -> None:
    gen = CandidateGenerator(hand_kb, threshold=0.95).build()
    text = "TAC/RM"
    (result,) = gen.link_many([text], [[(0, 3), (3, 4), (4, 6)]])
    assert result.span in {(0, 3), (4, 6)}
    assert result.best.score == 1.0


def test_errors(hand_kb: TerminologyKB) -> None:
    with pytest.raises(LinkingError, match="build"):
        CandidateGenerator(hand_kb).candidates(["TAC"])
    with pytest.raises(LinkingError):
        CandidateGenerator(hand_kb, k=0)
    with pytest.raises(LinkingError, match="no terms"):
        CandidateGenerator(TerminologyKB()).build()
    gen = CandidateGenerator(hand_kb).build()
    with pytest.raises(LinkingError, match="labels"):
        gen.candidates(["TAC"], ["A", "B"])
    assert gen.candidates([]) == []


def test_token_match_tier_ignores_order_plural_stop_words_and_abbreviations(hand_kb: TerminologyKB) -> None:
    hand_kb.add(Concept("Q1", "quimioterapia adyuvante"))
    plain = CandidateGenerator(hand_kb).build()
    tokens = CandidateGenerator(hand_kb, token_match=True, token_score=0.97).build()
    queries = ["arterial hipertensión", "QT adyuvante", "tomografías computarizadas"]
    expected = ["38341003", "Q1", "77477000"]
    for cands, code in zip(tokens.candidates(queries), expected):
        assert cands[0].code == code and cands[0].source == TOKENS and cands[0].score == 0.97
    assert [c[0].source for c in plain.candidates(queries)] == [DENSE] * 3
    # an exact match still outranks a token match of another code
    (cands,) = tokens.candidates(["HTA"])
    assert cands[0].source == EXACT


def test_code_prior_breaks_ties_towards_frequent_codes() -> None:
    kb = TerminologyKB()
    kb.add(Concept("rare", "biopsia", frequency=1))
    kb.add(Concept("common", "biopsia", frequency=40))
    kb.add(Concept("none", "biopsia"))
    (plain,) = CandidateGenerator(kb).build().candidates(["biopsia"])
    assert plain[0].code == "rare"
    (ranked,) = CandidateGenerator(kb, rerankers=[code_prior(0.02)]).build().candidates(["biopsia"])
    assert [c.code for c in ranked] == ["common", "rare", "none"]
    assert ranked[0].score == pytest.approx(1.02)
    assert ranked[2].score == 1.0


def test_faiss_backed_generator_agrees_with_exact_search(hand_kb: TerminologyKB) -> None:
    queries = ["resonancias magneticas", "apendicectomia laparoscopica", "hipertension", "escaner"]
    exact = CandidateGenerator(hand_kb, k=3).build()
    ann = CandidateGenerator(hand_kb, k=3, ann=AnnOptions(threshold=1, dim=8)).build()
    assert type(ann.index).__name__ == "FaissIndex"
    for a, b in zip(exact.candidates(queries), ann.candidates(queries)):
        assert a[0].code == b[0].code
        assert a[0].score == pytest.approx(b[0].score, abs=1e-5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_any_user_text_gets_sorted_distinct_candidates(texts: list[str]) -> None:
    kb = TerminologyKB()
    kb.add(Concept("1", "tomografía computarizada", ("TAC",), frequency=3))
    kb.add(Concept("2", "resonancia magnética", frequency=1))
    gen = CandidateGenerator(kb, k=2, threshold=0.9, token_match=True, rerankers=[code_prior()]).build()
    for text, result in zip(texts, gen.link_many(texts)):
        codes = [c.code for c in result.candidates]
        assert len(codes) == len(set(codes)) <= 2 and set(codes) <= {"1", "2"}
        assert all(a.score >= b.score for a, b in zip(result.candidates, result.candidates[1:]))
        assert 0 <= result.span[0] <= result.span[1] <= len(text)


def test_retrieved_exact_codes_keep_knowledge_base_order() -> None:
    """Codes sharing a form come back in KB order (not a set's, which changes with the hash seed between runs)."""
    kb = TerminologyKB()
    codes = [f"c{i}" for i in range(12)]
    for code in codes:
        kb.add(Concept(code, "dolor toracico"))
    (found,) = CandidateGenerator(kb, k=3, token_match=True).build().retrieve(["dolor toracico"])
    assert [r.code for r in found] == codes and all(r.exact for r in found)


def test_repeated_mentions_are_searched_once_and_get_their_own_lists(hand_kb: TerminologyKB) -> None:
    gen = CandidateGenerator(hand_kb, k=3).build()
    texts = ["resonancias magnéticas", "hipertension", "resonancias magnéticas", "hipertension"]
    labels = ["PROCEDIMIENTO", None, "PROCEDIMIENTO", "ENFERMEDAD"]
    searched: list[list[str]] = []
    search = gen.index.search
    gen.index.search = lambda queries, k: (searched.append(queries.shape[0]), search(queries, k))[1]
    results = gen.candidates(texts, labels)
    assert searched == [3]  # three distinct (text, label) pairs
    assert results[0] == results[2] and results[0] is not results[2]
    alone = CandidateGenerator(hand_kb, k=3).build().candidates(texts[1:2], labels[1:2])
    assert results[1] == alone[0]
