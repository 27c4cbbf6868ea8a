"""Identifiers: format kept, NIF/NIE/NASS validity kept."""
from __future__ import annotations

import re

from spacy_clinical_es.deid import randomize
from spacy_clinical_es.deid.ids import is_valid_nass, is_valid_nie, is_valid_nif


def _surrogate(text: str, label: str = "ID_SUJETO_ASISTENCIA", seed: int = 0) -> str:
    return randomize(text, [(0, len(text), label)], seed=seed).text


def _shape(text: str) -> str:
    return re.sub(r"[a-z]", "a", re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", text)))


def test_validators():
    assert is_valid_nif("12345678Z") and not is_valid_nif("12345678A")
    assert is_valid_nie("X1234567L") and not is_valid_nie("X1234567A")
    assert is_valid_nass("28 12345678 40") == (int("2812345678") % 97 == 40)


def test_format_preserving():
    for text in ("7345645/87", "28 28 70973", "84 75830635 33", "AB-1234-c", "nhc 150679"):
        for seed in range(5):
            new = _surrogate(text, seed=seed)
            assert new != text and _shape(new) == _shape(text)


def test_valid_numbers_stay_valid():
    valid_nass = "28 12345678 " + f"{int('2812345678') % 97:02d}"
    for seed in range(10):
        nif = _surrogate("12345678Z", seed=seed)
        assert is_valid_nif(nif) and nif != "12345678Z"
        nie = _surrogate("X1234567-L", seed=seed)
        assert is_valid_nie(nie.replace("-", "")) and "-" in nie
        nass = _surrogate(valid_nass, "ID_ASEGURAMIENTO", seed=seed)
        assert is_valid_nass(nass) and _shape(nass) == _shape(valid_nass)
