from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es.linking import normalize_term


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
