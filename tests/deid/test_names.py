"""Names: gender, form (initials, case, two surnames, particles) and word consistency."""
from __future__ import annotations

import re

from spacy_clinical_es.deid import normalize, randomize
from spacy_clinical_es.deid.names import FEMALE, MALE, SURNAME_POOL, first_name_gender

LABEL = "NOMBRE_PERSONAL_SANITARIO"


def _one(text: str, seed: int = 0) -> str:
    return randomize(text, [(0, len(text), LABEL)], seed=seed).text


def test_gender_is_kept():
    for seed in range(10):
        assert first_name_gender(_one("María", seed)) == "f"
        assert first_name_gender(_one("Ignacio", seed)) == "m"
        male_compound = _one("José María Pérez", seed).split()
        assert first_name_gender(male_compound[0]) == "m" and first_name_gender(male_compound[1]) == "m"


def test_form_is_kept():
    for seed in range(5):
        initial = _one("J. García", seed)
        assert re.fullmatch(r"[A-Z]\. \w+", initial) and not initial.startswith("J.")
        upper = _one("GARCÍA LÓPEZ", seed)
        assert upper.isupper() and len(upper.split()) == 2
        two = _one("Ignacio Navarro Cuéllar", seed).split()
        assert len(two) == 3 and two[0] in MALE and two[1] in SURNAME_POOL and two[2] in SURNAME_POOL
        hyphen = _one("Patricia Hidalgo-Collazos", seed)
        assert re.fullmatch(r"\w+ \w+-\w+", hyphen) and hyphen.split()[0] in FEMALE
        particle = _one("Natalia del Valle González", seed)
        assert " del " in particle
        title = _one("Dr. Navarro", seed)
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
