"""Names: gender, form (initials, case, two surnames, particles) and word consistency."""
from __future__ import annotations

import re

import pytest

from spacy_clinical_es.deid import DeidOptions, normalize, randomize
from spacy_clinical_es.deid.locales import LOCALES, locale_data
from spacy_clinical_es.deid.names import first_name_gender

LABEL = "NOMBRE_PERSONAL_SANITARIO"


def _one(text: str, seed: int = 0, locale: str = "es_ES") -> str:
    return randomize(text, [(0, len(text), LABEL)], seed=seed, options=DeidOptions(locale=locale)).text


@pytest.mark.parametrize("locale", LOCALES)
def test_gender_is_kept(locale):
    data = locale_data(locale)
    for seed in range(10):
        female = _one("María", seed, locale)
        male = _one("Ignacio", seed, locale)
        assert female in data.female_first and male in data.male_first
        assert first_name_gender(female) in ("f", None) and first_name_gender(male) in ("m", None)
        male_compound = _one("José María Pérez", seed, locale)
        assert male_compound.split()[0] in {w for n in data.male_first for w in n.split()}


@pytest.mark.parametrize("locale", LOCALES)
def test_form_is_kept(locale):
    data = locale_data(locale)
    for seed in range(5):
        initial = _one("J. García", seed, locale)
        assert re.fullmatch(r"[A-Z]\. [\w ]+", initial) and not initial.startswith("J.")
        upper = _one("GARCÍA LÓPEZ", seed, locale)
        assert upper.isupper() and normalize(upper) != "garcia lopez"
        two = _one("Ignacio Navarro Cuéllar", seed)
        assert two.split()[0] in locale_data("es_ES").male_first
        three = _one("Ignacio Navarro Cuéllar", seed, locale)
        assert any(three.startswith(n + " ") for n in data.male_first)
        assert any(three.endswith(" " + n) for n in data.surnames)
        hyphen = _one("Patricia Hidalgo-Collazos", seed, locale)
        assert "-" in hyphen and any(hyphen.startswith(n + " ") for n in data.female_first)
        particle = _one("Natalia del Valle González", seed, locale)
        assert " del " in particle
        title = _one("Dr. Navarro", seed, locale)
        assert title.startswith("Dr. ") and "Navarro" not in title


def test_words_are_consistent_across_mentions():
    text = "Ignacio Navarro Cuéllar firma; revisado por NAVARRO."
    result = randomize(text, [(0, 23, LABEL), (44, 51, LABEL)], seed=2)
    full = result.text[result.spans_out[0][0] : result.spans_out[0][1]]
    short = result.text[result.spans_out[1][0] : result.spans_out[1][1]]
    assert normalize(full.split()[1]) == normalize(short) and short.isupper()


def test_surrogate_never_contains_another_original():
    # "Ana" is an original of the document: no surrogate may contain it ("Santana", "Mariana"…)
    text = "Ana y Pedro Santos Marín visitan a Juliana."
    spans = [(0, 3, "NOMBRE_SUJETO_ASISTENCIA"), (6, 24, "NOMBRE_SUJETO_ASISTENCIA"), (35, 42, "NOMBRE_SUJETO_ASISTENCIA")]
    for seed in range(30):
        result = randomize(text, spans, seed=seed)
        for start, end, _ in result.spans_out:
            assert "ana" not in normalize(result.text[start:end])
