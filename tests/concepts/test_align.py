"""align_concept: examples from the issue, tie-breaking rules and a brute-force property check."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.concepts import align_concept, fold, fragments_text, word_tokens
from spacy_clinical_es.errors import ConfigError

SENTENCE = "Edema con fóvea en pierna derecha > izquierda."


def spelled(text: str, concept: str, **kwargs) -> list[str] | None:
    match = align_concept(text, concept, **kwargs)
    return None if match is None else [text[s:e] for s, e in match.fragments]


def test_issue_example_three_fragments() -> None:
    assert spelled(SENTENCE, "edema pierna izquierda") == ["Edema", "pierna", "izquierda"]
    match = align_concept(SENTENCE, "edema pierna izquierda")
    assert match is not None and match.is_discontinuous
    assert match.skipped == 5  # con, fóvea, en, derecha, >
    assert fragments_text(SENTENCE, match.fragments) == "Edema pierna izquierda"


def test_adjacent_words_form_one_fragment() -> None:
    assert spelled(SENTENCE, "edema pierna derecha") == ["Edema", "pierna derecha"]
    assert spelled(SENTENCE, "Edema con fóvea") == ["Edema con fóvea"]


def test_case_and_accent_insensitive() -> None:
    assert spelled(SENTENCE, "EDEMA FOVEA") == ["Edema", "fóvea"]
    assert spelled("Úlcera GÁSTRICA", "ulcera gastrica") == ["Úlcera GÁSTRICA"]


def test_order_is_required() -> None:
    assert align_concept(SENTENCE, "izquierda edema") is None
    assert align_concept(SENTENCE, "edema brazo") is None
    assert align_concept(SENTENCE, "  ") is None
    assert align_concept("", "edema") is None


def test_fewest_fragments_beat_earlier_match() -> None:
    text = "Dolor en abdomen. Refiere dolor abdominal intenso."
    assert spelled(text, "dolor abdominal") == ["dolor abdominal"]


def test_closest_match_wins_then_earliest() -> None:
    text = "masa en la pelvis; masa en riñón y quiste en riñón."
    # "masa … riñón": the second "masa" is closer to the first "riñón" (one word between).
    match = align_concept(text, "masa riñón")
    assert match is not None
    assert [text[s:e] for s, e in match.fragments] == ["masa", "riñón"]
    assert match.fragments[0][0] == text.index("masa en riñón")
    assert match.skipped == 1
    twice = "fiebre alta. fiebre alta."
    assert align_concept(twice, "fiebre alta").fragments == ((0, 11),)


def test_glued_punctuation_stays_inside_a_fragment() -> None:
    assert spelled("TAC abdomino-pélvico normal", "tac abdomino pelvico") == ["TAC abdomino-pélvico"]
    # Punctuation with spaces around it separates fragments.
    assert spelled("dolor , abdominal", "dolor abdominal") == ["dolor", "abdominal"]


def test_concept_punctuation_is_ignored() -> None:
    assert spelled("RTU de próstata", "R.T.U. próstata") is None  # "R.T.U" words are r, t, u
    assert spelled("R.T.U. de próstata", "R.T.U. próstata") == ["R.T.U", "próstata"]


def test_digits_and_letters_are_separate_words() -> None:
    assert spelled("Varón de 38años.", "38 años") == ["38años"]
    assert word_tokens("38años") == [(0, 2), (2, 6)]


def test_external_tokens_and_window() -> None:
    text = "dolor torácico; dolor abdominal"
    tokens = [(0, 5), (6, 14), (14, 15), (16, 21), (22, 31)]
    assert spelled(text, "dolor abdominal", tokens=tokens) == ["dolor abdominal"]
    assert spelled(text, "dolor", start=10) == ["dolor"]
    assert align_concept(text, "dolor", start=10).fragments == ((16, 21),)
    assert align_concept(text, "torácico", end=10) is None


def test_max_fragments() -> None:
    assert align_concept(SENTENCE, "edema pierna izquierda", max_fragments=2) is None
    assert align_concept(SENTENCE, "edema pierna izquierda", max_fragments=3) is not None
    with pytest.raises(ConfigError):
        align_concept(SENTENCE, "edema", max_fragments=0)


def _brute_force(text: str, concept: str) -> tuple[int, int, int] | None:
    """(fragments, skipped, first token) of the best match, by enumerating every subsequence."""
    spans = word_tokens(text)
    keys = [fold(text[s:e]) for s, e in spans]
    words = [fold(concept[s:e]) for s, e in word_tokens(concept) if any(c.isalnum() for c in concept[s:e])]
    best = None
    for combo in itertools.combinations(range(len(spans)), len(words)):
        if any(keys[k] != w for k, w in zip(combo, words)):
            continue
        fragments = 1
        for a, b in zip(combo, combo[1:]):  # noqa: RUF007 (Python 3.9)
            between = range(a + 1, b)
            glued = all(
                not any(c.isalnum() for c in text[spans[k][0] : spans[k][1]])
                and spans[k - 1][1] == spans[k][0]
                and spans[k][1] == spans[k + 1][0]
                for k in between
            )
            fragments += 0 if glued else 1
        cost = (fragments, combo[-1] - combo[0] + 1 - len(combo), combo[0])
        best = cost if best is None or cost < best else best
    return best


WORDS = ["dolor", "Dolor", "renal", "en", "fosa", "derecha", "ríñon", "rinon", "-", ",", ">"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=9),
    st.lists(st.booleans(), min_size=9, max_size=9),
    st.lists(st.sampled_from(["dolor", "renal", "fosa", "derecha", "rinon", "en"]), min_size=1, max_size=3),
)
def test_matches_brute_force_optimum(words: list[str], glue: list[bool], concept_words: list[str]) -> None:
    text = words[0]
    for word, glued in zip(words[1:], glue):
        text += ("" if glued else " ") + word
    concept = " ".join(concept_words)
    expected = _brute_force(text, concept)
    match = align_concept(text, concept)
    if expected is None:
        assert match is None
        return
    assert match is not None
    assert (len(match.fragments), match.skipped, match.tokens[0]) == expected
    # The fragments spell the concept: their words, folded, are the concept words in order.
    inside = [
        fold(text[s:e])
        for k, (s, e) in enumerate(word_tokens(text))
        if k in match.tokens
    ]
    assert inside == [fold(w) for w in concept_words]
    assert all(text[s:e] == text[s:e].strip() and e > s for s, e in match.fragments)
    assert list(match.fragments) == sorted(match.fragments)


def test_concepts_package_is_spacy_free() -> None:
    import subprocess
    import sys

    code = "import sys, spacy_clinical_es.concepts; print(sorted({'spacy', 'thinc'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
