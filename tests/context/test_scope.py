"""ConText scope rules: direction, window, terminators, comma continuations, gap words, learning; hypothesis."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.context.lexicon import (
    BACKWARD,
    FORWARD,
    NO_SCOPE,
    CueEntry,
    CueLexicon,
    Sentence,
    TokenSpan,
    normalize,
)
from spacy_clinical_es.context.scope import (
    BASE_TERMINATORS,
    ScopeRules,
    find_context,
    learn_scope_rules,
    mark_targets,
)

RULES = ScopeRules(window=6, continuations=frozenset(["ni"]), gap_words=frozenset(["fueron"]))


def _words(text: str) -> list[str]:
    return [normalize(w) for w in text.split()]


def test_forward_scope_stops_at_terminators_and_punctuation() -> None:
    words = _words("no se observan adenopatías , pero sí edema .")
    assert RULES.scope(words, 0, 1, FORWARD) == (1, 4)
    words = _words("sin fiebre aunque refiere tos")
    assert RULES.scope(words, 0, 1, FORWARD) == (1, 2)


def test_comma_followed_by_a_continuation_word_does_not_end_the_scope() -> None:
    words = _words("no dolor , ni disnea , tos")
    assert RULES.scope(words, 0, 1, FORWARD) == (1, 5)


def test_window_limits_the_scope() -> None:
    words = _words("no a b c d e f g h")
    assert RULES.scope(words, 0, 1, FORWARD) == (1, 7)


def test_backward_scope_skips_gap_words_and_stops_at_a_comma() -> None:
    words = _words("tos , los cultivos fueron negativos")
    assert RULES.scope(words, 5, 6, BACKWARD) == (2, 4)


def test_no_scope_direction_and_empty_scopes() -> None:
    assert RULES.scope(_words("paciente afebril"), 1, 2, NO_SCOPE) is None
    assert RULES.scope(_words("no ."), 0, 1, FORWARD) is None


def test_a_new_cue_starts_a_new_scope() -> None:
    lexicon = CueLexicon([CueEntry(("no",), "NegSyn", FORWARD), CueEntry(("sin",), "NegSyn", FORWARD)])
    result = find_context(_words("no fiebre sin dolor"), lexicon, RULES)
    assert [(c.start, c.end, c.id) for c in result.cues] == [(0, 1, "c0"), (2, 3, "c1")]
    assert [(s.start, s.end, s.id) for s in result.scopes] == [(1, 2, "c0"), (3, 4, "c1")]


def test_learn_scope_rules_finds_terminators_continuations_and_gaps() -> None:
    sentences = []
    for _ in range(3):
        sentences.append(
            Sentence(["no", "dolor", ",", "ni", "tos", "y", "fiebre"], [TokenSpan(0, 1, "NegSyn", "a")], [TokenSpan(1, 5, "DISO", "a")])
        )
        sentences.append(
            Sentence(["cultivos", "fueron", "negativos"], [TokenSpan(2, 3, "NegLex", "b")], [TokenSpan(0, 1, "SUBS", "b")])
        )
    rules = learn_scope_rules(sentences, min_count=3, gap_min_count=3)
    assert "y" in rules.terminators and BASE_TERMINATORS <= rules.terminators
    assert "ni" in rules.continuations
    assert rules.gap_words == frozenset(["fueron"])
    assert ScopeRules.from_cfg(rules.to_cfg()) == rules


def test_mark_targets_by_scope_and_by_scopeless_cue() -> None:
    lexicon = CueLexicon(
        [
            CueEntry(("no",), "NegSyn", FORWARD),
            CueEntry(("posible",), "UncertLex", FORWARD),
            CueEntry(("afebril",), "NegMor", NO_SCOPE),
        ]
    )
    result = find_context(_words("no tos . posible neumonía . afebril . edema"), lexicon, RULES)
    marks = mark_targets([(1, 2), (4, 5), (6, 7), (8, 9)], result)
    assert [(m.negated, m.uncertain) for m in marks] == [(True, False), (False, True), (True, False), (False, False)]
    assert marks[0].negation_cue == "c0" and marks[1].uncertainty_cue == "c1"


WORD = st.sampled_from(["no", "sin", "fiebre", "dolor", ",", ".", "pero", "ni", "y", "negativo", "tos", "de", "la"])


@settings(max_examples=200, deadline=None)
@given(words=st.lists(WORD, max_size=30), window=st.integers(1, 12), stop=st.booleans())
def test_scopes_on_random_text_stay_in_bounds_and_skip_cues(words: list[str], window: int, stop: bool) -> None:
    lexicon = CueLexicon(
        [CueEntry(("no",), "NegSyn", FORWARD), CueEntry(("sin",), "NegSyn", FORWARD), CueEntry(("negativo",), "NegLex", BACKWARD)]
    )
    rules = ScopeRules(window=window, stop_at_cues=stop)
    result = find_context(words, lexicon, rules)
    cue_ids = {c.id for c in result.cues}
    cue_tokens = {k for c in result.cues for k in range(c.start, c.end)}
    assert len(result.cues) == sum(1 for w in words if w in ("no", "sin", "negativo"))
    for scope in result.scopes:
        assert scope.id in cue_ids
        assert 0 <= scope.start < scope.end <= len(words)
        assert scope.end - scope.start <= window
        inside = words[scope.start : scope.end]
        assert not set(inside) & (BASE_TERMINATORS - {","})
        assert inside[0] not in ",." and inside[-1] not in ",."
        if stop:
            assert not cue_tokens & set(range(scope.start, scope.end))
