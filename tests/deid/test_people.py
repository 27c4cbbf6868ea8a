"""Ages, sex, relatives, professions, other details."""
from __future__ import annotations

from spacy_clinical_es.deid import DeidOptions, randomize
from spacy_clinical_es.deid.people import age_numbers, generalize_age, is_relative
from spacy_clinical_es.deid.resources.vocab_es import KINSHIP, PROFESSIONS


def _one(text: str, label: str, seed: int = 0, **options) -> str:
    return randomize(text, [(0, len(text), label)], seed=seed, options=DeidOptions(**options)).text


def test_age_generalization():
    assert generalize_age("95 años", 89) == "90 o más años"
    assert generalize_age("noventa y cinco años", 89) == "90 o más años"
    assert generalize_age("89 años", 89) == "89 años"
    assert generalize_age("95 meses", 89) == "95 meses"
    assert generalize_age("95", 89) == "90 o más"
    assert generalize_age("95 años", None) == "95 años"
    assert [v for _, _, v, _ in age_numbers("2 años y 10 meses")] == [2, 10]
    assert _one("70 años", "EDAD_SUJETO_ASISTENCIA") == "70 años"
    assert _one("101 años", "EDAD_SUJETO_ASISTENCIA", max_age=99) == "100 o más años"


def test_ages_not_kept_move_a_little():
    for seed in range(10):
        new = _one("45 años", "EDAD_SUJETO_ASISTENCIA", seed, keep_ages=False)
        assert new.endswith(" años") and 40 <= int(new.split()[0]) <= 50 and new != "45 años"
        words = _one("ocho meses", "EDAD_SUJETO_ASISTENCIA", seed, keep_ages=False)
        assert words.endswith(" meses") and words != "ocho meses"


def test_sex_kept_or_swapped_in_form():
    assert _one("Varón", "SEXO_SUJETO_ASISTENCIA") == "Varón"
    assert _one("Varón", "SEXO_SUJETO_ASISTENCIA", keep_sex=False) == "Mujer"
    assert _one("H", "SEXO_SUJETO_ASISTENCIA", keep_sex=False) == "M"
    assert _one("femenino", "SEXO", keep_sex=False) == "masculino"


def test_relatives():
    assert is_relative("abuela materna") and not is_relative("casada")
    for seed in range(10):
        assert _one("abuela materna", "FAMILIARES_SUJETO_ASISTENCIA", seed) == "abuela materna"  # kept by default
        new = _one("abuela materna", "FAMILIARES_SUJETO_ASISTENCIA", seed, keep_relatives=False)
        first, second = new.split()
        assert first in {forms[1] for forms in KINSHIP} - {"abuela"} and second == "paterna"
        names = _one("madre Teresa Rodriguez", "FAMILIARES_SUJETO_ASISTENCIA", seed, keep_relatives=False)
        assert "Teresa" not in names and "Rodriguez" not in names
        kept = _one("madre Teresa Rodriguez", "FAMILIARES_SUJETO_ASISTENCIA", seed, keep_relatives=True)
        assert kept.startswith("madre ") and "Teresa" not in kept
    assert _one("padre", "FAMILIARES_SUJETO_ASISTENCIA", keep_relatives=True) == "padre"


def test_profession_and_other_classes():
    for seed in range(10):
        job = _one("dependienta", "PROFESION", seed)
        assert job in {female for _, female in PROFESSIONS} - {"dependienta"}
        marital = _one("casada", "OTROS_SUJETO_ASISTENCIA", seed)
        assert marital in {"soltera", "viuda", "divorciada", "separada"}
    # nothing to swap: a neutral mask as the whole region, never a typed tag inside a surrogate
    assert _one("tatuaje en la región pectoral", "OTROS_SUJETO_ASISTENCIA") == "[***]"
