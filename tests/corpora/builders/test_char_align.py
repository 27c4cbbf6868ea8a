"""Character alignment between near-identical texts."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.corpora.builders.char_align import (
    EMPTY,
    INSERTED,
    MAPPED,
    PARTIAL,
    TEXT_DIFFERS,
    WHITESPACE_DIFFERS,
    CharAlignment,
)

BODY = (
    "Varón de 37 años con vida previa activa que refiere dolores osteoarticulares. "
    "Antes de comenzar el cuadro estuvo en Extremadura.\n"
    "La exploración física revela fiebre de 40 C y dolor testicular derecho."
)
HEADER = "Datos del paciente.\nNombre: Jose.\nEdad: 37 años Sexo: H.\nInforme clínico del paciente: "
FOOTER = "\nRemitido por: Dra. María Merino Hospital de Getafe"


def _span(text: str, sub: str, nth: int = 0) -> tuple:
    start = -1
    for _ in range(nth + 1):
        start = text.index(sub, start + 1)
    return start, start + len(sub)


def test_identity_alignment_maps_every_span() -> None:
    align = CharAlignment(BODY, BODY)
    assert align.identical
    assert align.coverage() == 1.0
    assert align.map_span(5, 20) == (5, 20)


def test_header_and_footer_insertion() -> None:
    source = HEADER + BODY + FOOTER
    align = CharAlignment(source, BODY)
    header_age = _span(source, "37 años")  # in the synthetic header
    body_age = _span(source, "37 años", nth=1)
    assert align.align_span(*header_age).reason == INSERTED
    mapped = align.map_span(*body_age)
    assert mapped == _span(BODY, "37 años")
    assert align.align_span(*_span(source, "Getafe")).reason == INSERTED
    assert align.map_span(*_span(source, "Extremadura")) == _span(BODY, "Extremadura")
    assert align.align_span(*_span(source, "Jose")).reason == INSERTED


def test_small_edit_inside_span_is_partial() -> None:
    edited = BODY.replace("37 años", "38 años")
    align = CharAlignment(edited, BODY)
    result = align.align_span(*_span(edited, "38 años"))
    assert not result.ok
    assert result.reason == PARTIAL
    # Text right after the edit still maps.
    assert align.map_span(*_span(edited, "vida previa")) == _span(BODY, "vida previa")


def test_edit_next_to_span_keeps_span() -> None:
    target = BODY.replace("40 C", "40 ºC")
    align = CharAlignment(BODY, target)
    assert align.map_span(*_span(BODY, "40")) == _span(target, "40")
    assert align.align_span(*_span(BODY, "40 C")).reason == TEXT_DIFFERS
    assert align.map_span(*_span(BODY, "dolor testicular")) == _span(target, "dolor testicular")


def test_repeated_strings_map_to_the_aligned_copy() -> None:
    source = "dolor en rodilla. dolor en codo. dolor en rodilla izquierda."
    target = "dolor en codo. dolor en rodilla izquierda."
    align = CharAlignment(source, target)
    last = _span(source, "dolor en rodilla", nth=1)
    assert align.map_span(*last) == _span(target, "dolor en rodilla")
    first = _span(source, "dolor en rodilla")
    assert align.align_span(*first).reason == INSERTED


def test_clause_deleted_after_span_with_recurring_word() -> None:
    # "años" recurs after the deleted clause: the span is still found.
    source = "Cabecera larga y sintética del informe.\nVarón de 50 años, consulta por epigastralgia."
    target = "Varón de 50 años con antecedentes de hipertensión desde los 25 años, consulta por epigastralgia."
    align = CharAlignment(source, target)
    assert align.map_span(*_span(source, "50 años")) == _span(target, "50 años")


def test_moved_sentence_is_found() -> None:
    # The case's first sentence was moved after a section by the source edit.
    target = "Varón de 40 años que acude a urgencias por edemas. Antecedentes familiares de amiloidosis renal."
    source = (
        "Edad: 40 años Sexo: H.\nAntecedentes familiares de amiloidosis renal.\n"
        "Historia Actual: Varón de 40 años que acude a urgencias por edemas."
    )
    align = CharAlignment(source, target)
    body_age = _span(source, "40 años", nth=1)
    assert align.map_span(*body_age) == _span(target, "40 años")
    assert align.map_span(*_span(source, "Varón")) == _span(target, "Varón")
    assert align.map_span(*_span(source, "amiloidosis renal")) == _span(target, "amiloidosis renal")
    assert align.align_span(*_span(source, "40 años")).reason == INSERTED
    assert align.map_span(*_span(source, "40 años")) is None
    # Without the moved-text pass one of the two sentences is lost.
    monotonic = CharAlignment(source, target, min_move_tokens=0)
    assert monotonic.map_span(*body_age) is None or monotonic.map_span(*_span(source, "amiloidosis")) is None


def test_whitespace_only_difference_is_reported_not_mapped() -> None:
    source = "Primera línea del caso clínico.\nSegunda línea del caso clínico."
    target = "Primera línea del caso clínico.\n\nSegunda línea del caso clínico."
    align = CharAlignment(source, target)
    crossing = _span(source, "clínico.\nSegunda")
    result = align.align_span(*crossing)
    assert result.reason == WHITESPACE_DIFFERS
    assert align.map_span(*_span(source, "Segunda")) == _span(target, "Segunda")


def test_invalid_spans() -> None:
    align = CharAlignment("abc def", "abc def")
    assert align.align_span(3, 3).reason == EMPTY
    assert align.align_span(-1, 2).reason == EMPTY
    assert align.align_span(0, 99).reason == EMPTY


def test_fragments() -> None:
    source = HEADER + BODY
    align = CharAlignment(source, BODY)
    frags = [_span(source, "dolores"), _span(source, "Extremadura")]
    mapped, reason = align.align_fragments(frags)
    assert reason == MAPPED
    assert mapped == [_span(BODY, "dolores"), _span(BODY, "Extremadura")]
    mapped, reason = align.align_fragments([_span(source, "Jose"), frags[0]])
    assert mapped is None and reason == INSERTED


words = st.sampled_from(["de", "años", "dolor", "37", "fiebre", ".", ",", "Varón", "TAC", "renal"])
seps = st.sampled_from([" ", "\n", "  ", ""])
texts = st.lists(st.tuples(words, seps), max_size=40).map(lambda xs: "".join(w + s for w, s in xs))


@settings(max_examples=150, deadline=None)
@given(text=texts, data=st.data())
def test_identity_text_gives_identity(text: str, data: st.DataObject) -> None:
    align = CharAlignment(text, text)
    if not text:
        return
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    assert align.map_span(start, end) == (start, end)


@settings(max_examples=200, deadline=None)
@given(source=texts, target=texts, data=st.data())
def test_mapped_spans_have_equal_text(source: str, target: str, data: st.DataObject) -> None:
    align = CharAlignment(source, target)
    if not source:
        return
    start = data.draw(st.integers(0, len(source) - 1))
    end = data.draw(st.integers(start + 1, len(source)))
    result = align.align_span(start, end)
    if result.ok:
        assert target[result.start : result.end] == source[start:end]
    else:
        assert result.start is None and result.end is None
    # Every mapped character maps to an equal character, each target
    # character at most once (moved text makes the blocks non-monotonic).
    used = set()
    for block in align.blocks:
        assert source[block.src : block.src + block.size] == target[block.tgt : block.tgt + block.size]
        span = set(range(block.tgt, block.tgt + block.size))
        assert not used & span
        used |= span


@settings(max_examples=100, deadline=None)
@given(prefix=texts, body=texts.filter(lambda t: len(t.strip()) > 0), suffix=texts)
def test_inserted_prefix_and_suffix_keep_body(prefix: str, body: str, suffix: str) -> None:
    source = prefix + "\n" + body + "\n" + suffix
    align = CharAlignment(source, body)
    offset = len(prefix) + 1
    # The whole body maps onto the target when it is unambiguous there.
    if source.count(body) == 1:
        result = align.align_span(offset, offset + len(body))
        if result.ok:
            assert (result.start, result.end) == (0, len(body))
    assert align.coverage() >= 0.0


@pytest.mark.parametrize("n", [1, 5])
def test_long_text_is_fast(n: int) -> None:
    import time

    body = (BODY + "\n") * 40 * n
    source = HEADER + body.replace("fiebre", "fiebre alta", 3) + FOOTER
    t0 = time.perf_counter()
    align = CharAlignment(source, body)
    assert time.perf_counter() - t0 < 5
    assert align.coverage() > 0.9
