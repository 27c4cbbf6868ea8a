"""Date shifting: formats kept, intervals kept, partial dates never unchanged."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.deid import randomize
from spacy_clinical_es.deid.dates import parse_full_date, shift_dates


@pytest.mark.parametrize(
    ("text", "days", "expected"),
    [
        ("03/03/2014", 400, "07/04/2015"),
        ("3/3/14", 400, "7/4/15"),
        ("03-03-2014", -400, "27-01-2013"),
        ("2014-03-03", 400, "2015-04-07"),
        ("3 de marzo de 2014", 400, "7 de abril de 2015"),
        ("03 de Marzo del 2014", 400, "07 de Abril del 2015"),
        ("12-octubre-2014", 400, "16-noviembre-2015"),
        ("marzo 2014", 400, "abril 2015"),
        ("Septiembre de 2013", 400, "Octubre de 2014"),
        ("MARZO 2014", -400, "FEBRERO 2013"),
        ("enero del año 2010", 400, "febrero del año 2011"),
        ("sep-99", 400, "oct-00"),
        ("03/2014", 400, "04/2015"),
        ("año 2010", 400, "año 2011"),
        ("12 de agosto", 400, "16 de septiembre"),
        ("lunes, 3 de marzo de 2014", 400, "martes, 7 de abril de 2015"),
        ("febrero y abril de 2014", 400, "marzo y mayo de 2015"),
    ],
)
def test_formats_are_kept(text, days, expected):
    assert shift_dates(text, days) == expected


def test_not_a_date():
    assert shift_dates("Colombia", 400) is None
    assert shift_dates("31/02/2014", 400) is None  # no such day: the caller falls back


@pytest.mark.parametrize("days", [1, -1, 10, -20, 364, 365, -365, 730])
def test_partial_dates_always_change(days):
    for text in ("2014", "marzo", "marzo de 2014", "12 de agosto", "03/2014"):
        assert shift_dates(text, days) != text


def test_intervals_between_dates_survive():
    text = (
        "Ingresó el 3 de marzo de 2014 tras consulta del 28/02/2014; alta el 15-04-2014. "
        "Revisiones: 1/12/2015, 2016-01-31 y 29 de febrero de 2016. Nacido el 07/11/1950."
    )
    surfaces = ["3 de marzo de 2014", "28/02/2014", "15-04-2014", "1/12/2015", "2016-01-31", "29 de febrero de 2016", "07/11/1950"]
    spans = []
    for surface in surfaces:
        start = text.index(surface)
        spans.append((start, start + len(surface), "FECHAS"))
    for seed in range(5):
        result = randomize(text, spans, seed=seed)
        before = [parse_full_date(s) for s in surfaces]
        after = [parse_full_date(result.text[s:e]) for s, e, _ in result.spans_out]
        assert None not in before and None not in after
        for (a0, a1), (b0, b1) in zip(itertools.combinations(before, 2), itertools.combinations(after, 2)):
            assert (a1 - a0) == (b1 - b0)
        shift = (after[0] - before[0]).days
        assert 365 <= abs(shift) <= 1095


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2090, 12, 31)), st.integers(-3000, 3000).filter(bool))
def test_numeric_dates_shift_exactly(date, days):
    text = date.strftime("%d/%m/%Y")
    shifted = shift_dates(text, days)
    assert shifted is not None
    assert dt.datetime.strptime(shifted, "%d/%m/%Y").date() - date == dt.timedelta(days=days)
