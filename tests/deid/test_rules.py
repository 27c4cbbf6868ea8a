"""Tests for :mod:`spacy_clinical_es.deid.rules` (invented Spanish examples)."""
from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.deid import DeidError
from spacy_clinical_es.deid.rules import (
    DEFAULT_RULES,
    RULE_NAMES,
    PhiMatch,
    compile_patterns,
    find_phi,
    resolve_overlaps,
    select_rules,
    valid_dni,
    valid_nie,
)


def found(text: str) -> list[tuple[str, str]]:
    """``(span text, label)`` of every match."""
    return [(text[m.start : m.end], m.label) for m in find_phi(text)]


@pytest.mark.parametrize(
    "text,expected",
    [
        # e-mails
        ("Correo electrónico: nnavcu@hotmail.com.", [("nnavcu@hotmail.com", "CORREO_ELECTRONICO")]),
        ("E-mail: ana.lopez_2@hospital.sanidad.es\n", [("ana.lopez_2@hospital.sanidad.es", "CORREO_ELECTRONICO")]),
        ("Navarra E-mail.hleon@hotmail.com", [("hleon@hotmail.com", "CORREO_ELECTRONICO")]),
        # URLs
        ("Más datos en https://www.ejemplo.es/casos/12. Gracias", [("https://www.ejemplo.es/casos/12", "URL_WEB")]),
        ("véase www.clinica-demo.org, sección 2", [("www.clinica-demo.org", "URL_WEB")]),
        # phones and faxes
        ("Pamplona Tfno. 848429462 E-mail: a@b.es", [("848429462", "NUMERO_TELEFONO"), ("a@b.es", "CORREO_ELECTRONICO")]),
        ("Teléfono: 915 86 75 76.", [("915 86 75 76", "NUMERO_TELEFONO")]),
        ("Tel.: 93 416 97 00", [("93 416 97 00", "NUMERO_TELEFONO")]),
        ("Telfs.: 918823884 / 918823984 / 619128686.", [("918823884", "NUMERO_TELEFONO"), ("918823984", "NUMERO_TELEFONO"), ("619128686", "NUMERO_TELEFONO")]),
        ("Tfno: 956 203 145 y 956 203 146.", [("956 203 145", "NUMERO_TELEFONO"), ("956 203 146", "NUMERO_TELEFONO")]),
        ("Tfno: 986413144 ext 1530 - Fax: 986421439", [("986413144 ext 1530", "NUMERO_TELEFONO"), ("986421439", "NUMERO_FAX")]),
        ("Fax: 985-27-36-14. e-mail", [("985-27-36-14", "NUMERO_FAX")]),
        ("Tel. y Fax: 961 622 403", [("961 622 403", "NUMERO_TELEFONO")]),
        ("Tfno.+34679802102 E-mail", [("34679802102", "NUMERO_TELEFONO")]),
        ("llame al +34 612 345 678 mañana", [("34 612 345 678", "NUMERO_TELEFONO")]),
        ("avisando a la madre al número de móvil: 653 343 435", [("653 343 435", "NUMERO_TELEFONO")]),
        # identifiers after their prefix
        ("NHC: 368503.", [("368503", "ID_SUJETO_ASISTENCIA")]),
        ("NHC:  78956135/2.", [("78956135/2", "ID_SUJETO_ASISTENCIA")]),
        ("CIPA: nhc-789412.", [("789412", "ID_SUJETO_ASISTENCIA")]),
        ("Nº de historia: 4455667.", [("4455667", "ID_SUJETO_ASISTENCIA")]),
        ("NASS: 26 63514095.", [("26 63514095", "ID_ASEGURAMIENTO")]),
        ("NASS:07 81346557 28.", [("07 81346557 28", "ID_ASEGURAMIENTO")]),
        ("Ignacio Navarro NºCol: 28 28 70973.", [("28 28 70973", "ID_TITULACION_PERSONAL_SANITARIO")]),
        ("MartínezNºCol: 28 28 98702.", [("28 28 98702", "ID_TITULACION_PERSONAL_SANITARIO")]),
        ("colegiado nº 282870973", [("282870973", "ID_TITULACION_PERSONAL_SANITARIO")]),
        ("Episodio: 7345609.", [("7345609", "ID_CONTACTO_ASISTENCIAL")]),
        ("DNI: 12345678Z.", [("12345678Z", "ID_SUJETO_ASISTENCIA")]),
        ("NIE X1234567L", [("X1234567L", "ID_SUJETO_ASISTENCIA")]),
        ("con documento 12345678Z en regla", [("12345678Z", "ID_SUJETO_ASISTENCIA")]),
        # postal codes
        ("CP: 28016.", [("28016", "TERRITORIO")]),
        ("C.P. 08009 Barcelona", [("08009", "TERRITORIO")]),
        ("Heredia CP: 40140-280.", [("40140-280", "TERRITORIO")]),
        ("Avda. de Córdoba s/n. 28041 Madrid", [("28041", "TERRITORIO")]),
        # dates
        ("Fecha de nacimiento: 03/03/1946.", [("03/03/1946", "FECHAS")]),
        ("ingresó el 12-03-1960 y", [("12-03-1960", "FECHAS")]),
        ("control el 9/05/05.", [("9/05/05", "FECHAS")]),
        ("el 3 de marzo de 2014 acudió", [("3 de marzo de 2014", "FECHAS")]),
        ("desde marzo 2014", [("marzo 2014", "FECHAS")]),
        ("en Septiembre del 2002", [("Septiembre del 2002", "FECHAS")]),
        ("el 13-noviembre-2017", [("13-noviembre-2017", "FECHAS")]),
        ("operado el 25 de agosto.", [("25 de agosto", "FECHAS")]),
        ("en noviembre 06 acude", [("noviembre 06", "FECHAS")]),
        ("diagnosticado en 2006 de LLC", [("2006", "FECHAS")]),
        ("en el año 2000 fue intervenida", [("año 2000", "FECHAS")]),
        # ages of infants, before "de vida" / "de edad"
        ("ingresó a los 19 días de vida por fiebre", [("19 días", "EDAD_SUJETO_ASISTENCIA")]),
        ("Lactante de tres meses de edad que", [("tres meses", "EDAD_SUJETO_ASISTENCIA")]),
        # header fields: the rest of the line without final spaces, periods and commas
        ("Nombre:  Jose .\nApellidos: Ramos Ibañez .\n", [("Jose", "NOMBRE_SUJETO_ASISTENCIA"), ("Ramos Ibañez", "NOMBRE_SUJETO_ASISTENCIA")]),
        ("NHC: 368503.\nDomicilio: Calle Tudela, 27, 4 der..\nLocalidad", [("368503", "ID_SUJETO_ASISTENCIA"), ("Calle Tudela, 27, 4 der", "CALLE")]),
        ("País: España.\nEdad: 64  años Sexo: H.", [("España", "PAIS"), ("64  años", "EDAD_SUJETO_ASISTENCIA"), ("H", "SEXO_SUJETO_ASISTENCIA")]),
    ],
)
def test_patterns(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Leucocitos 17850/mm3 y plaquetas 250000.",
        "dosis de 2000 mg cada 8 horas",
        "alrededor de 20000 plaquetas/ml",
        "Hospital Universitario 12 de Octubre",
        "PSA de 1.16 ng/ml, hemoglobina 12,5 g/dl",
        "con documento 12345678A en regla",  # wrong check letter, no prefix
        "tensión 120/80 mmHg, FC 80 lpm",
        "Ese mismo año recibió su primer trasplante",
        "el teléfono móvil del paciente",
        "fractura de grado 3/4",
        "tratamiento durante 6 semanas de duración",
        "Domicilio: .\n",  # an empty header field
        "el Nombre: del fármaco",  # a header field word inside a line
    ],
)
def test_no_false_positives(text: str) -> None:
    assert found(text) == []


def test_dni_and_nie_check_letters() -> None:
    assert valid_dni("12345678Z") and valid_dni("12345678-z")
    assert not valid_dni("12345678A") and not valid_dni("1234567Z")
    assert valid_nie("X1234567L") and valid_nie("Y-1234567-X")
    assert not valid_nie("X1234567A") and not valid_nie("A1234567L")


def test_numeric_date_is_validated() -> None:
    assert found("el 45/13/2010 y el 31/12/2010") == [("31/12/2010", "FECHAS")]


def test_overlaps_longest_then_earliest_then_rule_order() -> None:
    order = {"a": 0, "b": 1}
    matches = [PhiMatch(0, 5, "X", "b"), PhiMatch(0, 5, "Y", "a"), PhiMatch(3, 10, "Z", "b"), PhiMatch(10, 12, "W", "a")]
    kept = resolve_overlaps(matches, order)
    assert kept == [PhiMatch(3, 10, "Z", "b"), PhiMatch(10, 12, "W", "a")]
    assert resolve_overlaps(matches[:2], order) == [PhiMatch(0, 5, "Y", "a")]
    assert resolve_overlaps(list(reversed(matches)), order) == kept


def test_select_rules() -> None:
    assert select_rules(None) == DEFAULT_RULES
    assert [r.name for r in select_rules(["fax", "email"])] == ["email", "fax"]
    assert find_phi("NHC: 368503. a@b.es", select_rules(["email"])) == [PhiMatch(13, 19, "CORREO_ELECTRONICO", "email")]
    with pytest.raises(DeidError, match="nope"):
        select_rules(["nope"])
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)


def test_compile_patterns() -> None:
    rules = compile_patterns(
        [{"label": "OTRO_NUMERO_IDENTIF", "pattern": r"ref\.\s*(?P<value>\d+)", "ignore_case": True}, {"label": "X", "pattern": "abc"}]
    )
    assert [r.name for r in rules] == ["pattern_0", "pattern_1"]
    assert find_phi("REF. 991 y abc", rules) == [PhiMatch(5, 8, "OTRO_NUMERO_IDENTIF", "pattern_0"), PhiMatch(11, 14, "X", "pattern_1")]
    with pytest.raises(DeidError, match="pattern 0"):
        compile_patterns([{"label": "X", "pattern": "("}])
    with pytest.raises(DeidError, match="pattern 1"):
        compile_patterns([{"label": "X", "pattern": "a"}, {"pattern": "b"}])


def test_errors_and_pickling() -> None:
    with pytest.raises(DeidError):
        find_phi(b"NHC: 1")  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(DEFAULT_RULES)) == DEFAULT_RULES


_ALPHABET = st.sampled_from(list("0123456789 /.-:+()@ºaáeNHCPTfnoxyz\n") + ["NHC: ", "Tfno. ", "CP: ", "Fax: ", " de ", "marzo", "año "])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(_ALPHABET, max_size=60).map("".join)))
def test_arbitrary_text_never_raises_and_spans_fit(text: str) -> None:
    matches = find_phi(text)
    last_end = 0
    for match in matches:
        assert 0 <= last_end <= match.start < match.end <= len(text)
        assert match.label and match.rule in RULE_NAMES
        last_end = match.end


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="0123456789 -./", max_size=5000))
def test_long_digit_runs_are_fast(text: str) -> None:
    # No catastrophic backtracking: a long run of digits and separators stays cheap.
    import time

    start = time.perf_counter()
    find_phi("Tfno: " + text)
    assert time.perf_counter() - start < 1.0


def test_patterns_compile_case_insensitively_where_meant() -> None:
    assert all(isinstance(rule.pattern, re.Pattern) for rule in DEFAULT_RULES)
    assert found("nhc: 123456") == [("123456", "ID_SUJETO_ASISTENCIA")]
