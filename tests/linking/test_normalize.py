from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es.linking import normalize_term, token_key
from spacy_clinical_es.linking.normalize import STOP_WORDS, light_stem


def test_removes_diacritics_case_and_extra_spaces() -> None:
    assert normalize_term("  Tomografía   Axial\tComputarizada ") == "tomografia axial computarizada"
    assert normalize_term("DISEÑO") == "diseno"
    assert normalize_term("Ü") == "u"


def test_keeps_punctuation_and_digits() -> None:
    assert normalize_term("T-4 (TAC)") == "t-4 (tac)"
    assert normalize_term("T4") != normalize_term("T-4")


@given(st.text())
def test_idempotent(text: str) -> None:
    once = normalize_term(text)
    assert normalize_term(once) == once


@given(st.text())
def test_output_has_no_marks_capitals_or_edge_spaces(text: str) -> None:
    out = normalize_term(text)
    assert not any(unicodedata.combining(ch) for ch in out)
    assert out == out.strip()
    assert "  " not in out
    assert out.casefold() == out


@given(st.text(alphabet=st.sampled_from("aeiouáéíóúÁÉÍÓÚñÑ ")))
def test_spanish_accents_equal_plain_vowels(text: str) -> None:
    plain = text.translate(str.maketrans("áéíóúÁÉÍÓÚñÑ", "aeiouAEIOUnN"))
    assert normalize_term(text) == normalize_term(plain)


def test_token_key_examples() -> None:
    assert token_key("analíticas sangre y orina") == token_key("Analítica de orina y sangre")
    assert token_key("trasplantes renales") == token_key("trasplante renal")
    assert token_key("QT") == token_key("quimioterapia")
    assert token_key("de la") == "de la"  # only stop words: they are kept
    assert token_key("¡¿ ?!") == ""
    assert token_key("biopsia hepática") != token_key("biopsia renal")


def test_light_stem_joins_number_gender_and_adjective_forms() -> None:
    groups = [("radiografias", "radiografico", "radiografia"), ("magneticas", "magnetica", "magnetico")]
    for group in groups:
        assert len({light_stem(w) for w in group}) == 1
    assert light_stem("tac") == "tac"  # short words stay


_words = st.lists(st.text(alphabet="abcdeilmnorstuáéíóñ", min_size=1, max_size=8), min_size=1, max_size=5)


@given(_words, st.randoms(use_true_random=False))
def test_token_key_ignores_word_order_and_stop_words(words: list[str], rnd) -> None:
    shuffled = list(words)
    rnd.shuffle(shuffled)
    assert token_key(" ".join(words)) == token_key(" ".join(shuffled))
    if any(token_key(w) and normalize_term(w) not in STOP_WORDS for w in words):
        assert token_key(" de ".join(words)) == token_key(" ".join(words))
