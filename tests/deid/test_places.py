"""Places: postal codes agree with the surrogate province; streets keep their form."""
from __future__ import annotations

import re

from spacy_clinical_es.deid import normalize, randomize
from spacy_clinical_es.deid.places import PROVINCES, province_of

TEXT = "Domicilio: C/ del Abedul 5-7, 2º dcha. 28036 Madrid (Madrid), España. Nacido en Getafe, CP 28901."
SURFACES = [("C/ del Abedul 5-7, 2º dcha", "CALLE"), ("28036", "TERRITORIO"), ("Madrid", "TERRITORIO"),
            ("(Madrid)", "TERRITORIO"), ("España", "PAIS"), ("Getafe", "TERRITORIO"), ("28901", "TERRITORIO")]  # fmt: skip


def _doc(seed: int, key: bytes | None = None) -> list[str]:
    """The surrogates of SURFACES, in order."""
    spans = []
    for surface, label in SURFACES:
        start = TEXT.index(surface) + (1 if surface.startswith("(") else 0)
        spans.append((start, start + len(surface.strip("()")), label))
    result = randomize(TEXT, spans, seed=seed, key=key)
    return [result.text[s:e] for s, e, _ in result.spans_out]


def test_postal_codes_follow_the_surrogate_province():
    for seed in range(20):
        _, code, city, city_again, _, town, code2 = _doc(seed)
        province = province_of(city)
        assert province is not None and province != "28"
        assert code[:2] == province == code2[:2] and len(code) == 5
        assert province_of(town) == province
        assert town != PROVINCES[province][1] or not PROVINCES[province][2]  # Ceuta, Melilla: one municipality
        assert city_again == city
        assert city == PROVINCES[province][1]  # a capital stays a capital


def test_street_keeps_type_and_layout():
    for seed in range(10):
        street = _doc(seed)[0]
        assert street.startswith("C/ ") and "Abedul" not in street
        assert re.search(r" \d-\d, \dº dcha$", street)


def test_country_and_key_consistency():
    a = _doc(0, key=b"k")
    b = _doc(1, key=b"k")
    assert a == b  # with a key the seed does not matter: same originals, same surrogates
    assert normalize(a[4]) != "espana"
