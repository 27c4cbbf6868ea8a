"""randomize(): modes, guarantees, seeding and keys, offset map, bad input, no PHI in logs."""
from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacy_clinical_es.deid import (
    LABEL_CATEGORIES,
    LOCALES,
    DeidError,
    DeidOptions,
    normalize,
    randomize,
)
from spacy_clinical_es.deid.randomizer import GENERALIZE, KEEP, SURROGATE

TEXT = (
    "Nombre: Ernesto. Apellidos: Rivera Bueno. NHC: 368503. Domicilio: Calle Miguel Benitez 90. "
    "Localidad: Madrid. CP: 28016. Nacimiento: 03/03/1946. Edad: 95 años. Sexo: H. "
    "Médico: Ignacio Navarro Cuéllar. E-mail: nnavcu@hotmail.com. Tel: 915 86 80 00. "
    "El Dr. Navarro Cuéllar vio a Ernesto el 12/12/2016 en el Hospital Universitario La Paz (Madrid)."
)
PHI = [
    ("Ernesto", "NOMBRE_SUJETO_ASISTENCIA"),
    ("Rivera Bueno", "NOMBRE_SUJETO_ASISTENCIA"),
    ("368503", "ID_SUJETO_ASISTENCIA"),
    ("Calle Miguel Benitez 90", "CALLE"),
    ("Madrid", "TERRITORIO"),
    ("28016", "TERRITORIO"),
    ("03/03/1946", "FECHAS"),
    ("95 años", "EDAD_SUJETO_ASISTENCIA"),
    ("H", "SEXO_SUJETO_ASISTENCIA"),
    ("Ignacio Navarro Cuéllar", "NOMBRE_PERSONAL_SANITARIO"),
    ("nnavcu@hotmail.com", "CORREO_ELECTRONICO"),
    ("915 86 80 00", "NUMERO_TELEFONO"),
    ("Navarro Cuéllar", "NOMBRE_PERSONAL_SANITARIO"),
    ("12/12/2016", "FECHAS"),
    ("Hospital Universitario La Paz", "HOSPITAL"),
]


def _spans(text: str = TEXT) -> list[tuple[int, int, str]]:
    """The PHI spans of TEXT; repeated surfaces are found after their previous mention."""
    spans = []
    cursor: dict[str, int] = {"Navarro Cuéllar": text.index("Dr. Navarro"), "H": text.index("Sexo: ")}
    for surface, label in [*PHI, ("Ernesto", "NOMBRE_SUJETO_ASISTENCIA"), ("Madrid", "TERRITORIO")]:
        start = text.index(surface, cursor.get(surface, 0))
        cursor[surface] = start + len(surface)
        spans.append((start, start + len(surface), label))
    return spans


def _out(result, i: int) -> str:
    rep = result.replacements[i]
    return result.text[rep.out_start : rep.out_end]


def test_surrogate_mode_replaces_every_phi_and_keeps_the_rest():
    result = randomize(TEXT, _spans(), seed=3)
    for rep in result.replacements:
        original = TEXT[rep.start : rep.end]
        new = result.text[rep.out_start : rep.out_end]
        if rep.category == "SEX":
            assert rep.action == KEEP and new == original
        elif rep.category == "AGE":
            assert rep.action == GENERALIZE and new == "90 o más años"
        else:
            assert rep.action == SURROGATE
            assert normalize(new) != normalize(original)
    for surface in ("Ernesto", "Rivera", "Bueno", "368503", "Benitez", "Madrid", "28016", "1946", "Navarro", "nnavcu"):
        assert surface.lower() not in result.text.lower()
    assert result.text.startswith("Nombre: ")
    assert "Sexo: H." in result.text


def test_spans_out_carry_the_labels_and_point_at_the_surrogates():
    spans = _spans()
    result = randomize(TEXT, spans, seed=3)
    assert sorted(label for _, _, label in result.spans_out) == sorted(label for _, _, label in spans)
    for (start, end, _), rep in zip(result.spans_out, result.replacements):
        assert (start, end) == (rep.out_start, rep.out_end)


def test_same_original_same_surrogate_within_a_document():
    result = randomize(TEXT, _spans(), seed=3)
    by_original: dict[tuple[str, str], set[str]] = {}
    for rep in result.replacements:
        key = (rep.label, normalize(TEXT[rep.start : rep.end]))
        by_original.setdefault(key, set()).add(normalize(result.text[rep.out_start : rep.out_end]))
    assert by_original[("NOMBRE_SUJETO_ASISTENCIA", "ernesto")] and len(by_original[("NOMBRE_SUJETO_ASISTENCIA", "ernesto")]) == 1
    assert len(by_original[("TERRITORIO", "madrid")]) == 1
    assert all(len(v) == 1 for v in by_original.values())
    # word level: "Navarro Cuéllar" alone gets the surnames of "Ignacio Navarro Cuéllar"
    full = next(r for r in result.replacements if TEXT[r.start : r.end] == "Ignacio Navarro Cuéllar")
    short = next(r for r in result.replacements if TEXT[r.start : r.end] == "Navarro Cuéllar")
    assert result.text[full.out_start : full.out_end].endswith(" " + result.text[short.out_start : short.out_end])


def test_case_variants_share_the_surrogate_in_their_own_case():
    text = "García vio a GARCÍA y a garcia."
    spans = [(0, 6, "NOMBRE_PERSONAL_SANITARIO"), (13, 19, "NOMBRE_PERSONAL_SANITARIO"), (24, 30, "NOMBRE_PERSONAL_SANITARIO")]
    result = randomize(text, spans, seed=1)
    outs = [result.text[s:e] for s, e, _ in result.spans_out]
    assert len({normalize(o) for o in outs}) == 1
    assert outs[0][0].isupper() and outs[0][1:].islower()
    assert outs[1].isupper()
    assert outs[2].islower()


def test_seed_makes_runs_reproducible_and_no_seed_does_not():
    spans = _spans()
    assert randomize(TEXT, spans, seed=7).text == randomize(TEXT, spans, seed=7).text
    assert randomize(TEXT, spans, seed=7).text != randomize(TEXT, spans, seed=8).text
    assert randomize(TEXT, spans).text != randomize(TEXT, spans).text


def test_key_gives_the_same_surrogates_across_documents():
    doc_a = "Paciente: Ernesto Rivera. Fecha: 03/03/2014."
    doc_b = "Control de Ernesto Rivera en consulta."
    spans_a = [(10, 24, "NOMBRE_SUJETO_ASISTENCIA"), (33, 43, "FECHAS")]
    spans_b = [(11, 25, "NOMBRE_SUJETO_ASISTENCIA")]
    a = randomize(doc_a, spans_a, key=b"secret")
    b = randomize(doc_b, spans_b, key="secret")
    assert _out(a, 0) == _out(b, 0)
    other = randomize(doc_b, spans_b, key=b"another secret")
    assert _out(other, 0) != _out(b, 0)
    # without a key, two documents do not share their mapping (seeded per document)
    a_seed = randomize(doc_a, spans_a, seed=1)
    b_seed = randomize(doc_b, spans_b, seed=1)
    assert _out(a_seed, 0) != _out(b_seed, 0)


def test_patient_key_shares_the_date_shift():
    import datetime as dt

    def shift(text: str, patient: str | None) -> int:
        result = randomize(text, [(0, 10, "FECHAS")], key=b"k", patient_key=patient)
        new = dt.datetime.strptime(result.text[:10], "%d/%m/%Y")
        return (new - dt.datetime.strptime(text[:10], "%d/%m/%Y")).days

    assert shift("03/03/2014 primera visita", "P1") == shift("15/07/2016 revisión", "P1")
    assert shift("03/03/2014 primera visita", None) != shift("15/07/2016 revisión", None)


def test_patient_key_shares_the_surrogates_without_a_key():
    first = "Ernesto Rivera, primera visita."
    second = "Control de Ernesto Rivera."
    spans_a, spans_b = [(0, 14, "NOMBRE_SUJETO_ASISTENCIA")], [(11, 25, "NOMBRE_SUJETO_ASISTENCIA")]
    same = [randomize(t, s, seed=1, patient_key="P1") for t, s in ((first, spans_a), (second, spans_b))]
    assert _out(same[0], 0) == _out(same[1], 0)
    other = [randomize(t, s, seed=1) for t, s in ((first, spans_a), (second, spans_b))]
    assert _out(other[0], 0) != _out(other[1], 0)


def test_mask_and_redact_modes():
    masked = randomize(TEXT, _spans(), mode="mask", seed=1)
    assert masked.text.startswith("Nombre: [NOMBRE]. Apellidos: [NOMBRE]. NHC: [ID]. Domicilio: [CALLE].")
    assert "Sexo: H." in masked.text and "Edad: 90 o más años" in masked.text
    redacted = randomize(TEXT, _spans(), mode="redact", seed=1)
    assert redacted.text.startswith("Nombre: . Apellidos: . NHC: .")
    assert all(e == s for (s, e, _), rep in zip(redacted.spans_out, redacted.replacements) if rep.action == "redact")
    custom = randomize(TEXT, _spans(), mode="mask", options=DeidOptions(mask_format="<{tag}>", keep_sex=False))
    assert "Sexo: <SEXO>." in custom.text


def test_options_keep_nothing():
    options = DeidOptions(keep_sex=False, keep_ages=False)
    result = randomize(TEXT, _spans(), seed=2, options=options)
    sex = next(r for r in result.replacements if r.category == "SEX")
    age = next(r for r in result.replacements if r.category == "AGE")
    assert result.text[sex.out_start : sex.out_end] == "M"
    assert result.text[age.out_start : age.out_end].endswith(" años")
    assert result.text[age.out_start : age.out_end] != "95 años"


def test_overlapping_spans_are_merged_and_replaced():
    text = "Visto por Ana María López en Sevilla."
    spans = [(10, 25, "NOMBRE_PERSONAL_SANITARIO"), (14, 25, "SEXO_SUJETO_ASISTENCIA"), (29, 36, "TERRITORIO")]
    result = randomize(text, spans, seed=0)
    assert result.stats["merged_overlaps"] == 1
    assert len(result.spans_out) == 2
    assert "María" not in result.text and "López" not in result.text and "Sevilla" not in result.text


def test_bad_spans_raise_without_text_and_empty_spans_are_counted():
    with pytest.raises(DeidError) as info:
        randomize("Ana López", [(0, 40, "NOMBRE_SUJETO_ASISTENCIA")])
    assert "Ana" not in str(info.value) and "0-40" in str(info.value)
    with pytest.raises(DeidError):
        randomize("Ana López", [(5, 2, "X")])
    with pytest.raises(DeidError):
        randomize("Ana", [], mode="blur")
    result = randomize("Ana López", [(3, 3, "NOMBRE_SUJETO_ASISTENCIA"), (0, 3, "NOMBRE_SUJETO_ASISTENCIA")], seed=0)
    assert result.stats["empty_spans"] == 1 and result.text.endswith(" López")


def test_no_phi_in_logs(caplog):
    caplog.set_level(logging.DEBUG, logger="spacy_clinical_es")
    result = randomize(TEXT, _spans(), seed=5)
    logged = " ".join(r.getMessage() for r in caplog.records) + " " + repr(result.replacements) + repr(result.offset_map)
    for surface, _ in PHI:
        if len(surface) >= 3:
            assert surface not in logged


@pytest.mark.parametrize("locale", LOCALES)
def test_offset_map_round_trip(locale):
    spans = _spans()
    result = randomize(TEXT, spans, seed=4, options=DeidOptions(locale=locale))
    omap = result.offset_map
    assert omap.input_length == len(TEXT) and omap.output_length == len(result.text)
    phi = set()
    for start, end, _ in spans:
        phi.update(range(start, end))
    for seg in omap.segments:
        if not seg.changed:
            assert result.text[seg.out_start : seg.out_end] == TEXT[seg.in_start : seg.in_end]
    for out_pos, char in enumerate(result.text):
        in_pos = omap.to_input(out_pos)
        if in_pos not in phi:
            assert TEXT[in_pos] == char
    for rep in result.replacements:
        assert omap.to_input_span(rep.out_start, rep.out_end) == (rep.start, rep.end)
        assert omap.to_output_span(rep.start, rep.end) == (rep.out_start, rep.out_end)


def test_the_package_is_spacy_free():
    import subprocess
    import sys

    code = "import sys, spacy_clinical_es.deid as d; d.randomize('Ana', [(0, 3, 'NAME')]); print('spacy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_every_label_of_the_coarse_scheme_has_a_category():
    from spacy_clinical_es.corpora.builders.deid import COARSE_MAPPING

    for fine, (coarse, _) in COARSE_MAPPING.items():
        assert fine in LABEL_CATEGORIES, fine
        assert coarse in LABEL_CATEGORIES, coarse
    coarse_text = "Paciente NAME1 en LOC1."
    result = randomize(coarse_text, [(9, 14, "NAME"), (18, 22, "LOC")], seed=0)
    assert [r.category for r in result.replacements] == ["NAME", "TERRITORY"]


# --------------------------------------------------------------------------- hypothesis

_LABELS = sorted(LABEL_CATEGORIES) + ["PHI", "x", ""]


@st.composite
def _text_and_spans(draw):
    text = draw(st.text(min_size=0, max_size=120))
    n = draw(st.integers(0, 6))
    spans = []
    for _ in range(n):
        if not text:
            break
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start, len(text)))
        spans.append((start, end, draw(st.sampled_from(_LABELS))))
    return text, spans


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_text_and_spans(), st.sampled_from(["surrogate", "mask", "redact"]), st.integers(0, 3), st.sampled_from(LOCALES))
def test_random_text_never_crashes_and_never_echoes(data, mode, seed, locale):
    text, spans = data
    result = randomize(text, spans, mode=mode, seed=seed, options=DeidOptions(locale=locale))
    omap = result.offset_map
    assert omap.input_length == len(text) and omap.output_length == len(result.text)
    rebuilt = []
    for seg in omap.segments:
        if not seg.changed:
            assert result.text[seg.out_start : seg.out_end] == text[seg.in_start : seg.in_end]
        rebuilt.append(text[seg.in_start : seg.in_end])
    assert "".join(rebuilt) == text
    for rep in result.replacements:
        if rep.action == SURROGATE:
            assert normalize(result.text[rep.out_start : rep.out_end]) != normalize(text[rep.start : rep.end])
