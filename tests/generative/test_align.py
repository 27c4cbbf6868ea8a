"""The aligner: parsed generative output → source offsets, per failure mode (Spanish examples)."""
from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.generative import (
    AlignResult,
    Item,
    JsonFormat,
    ListFormat,
    TagFormat,
    align,
    normalize,
)

LABELS = ["SEXO", "EDAD", "ENFERMEDAD", "PROCEDIMIENTO"]
SOURCE = "Varón de 38 años, fumadora. Varón con cáncer de mama y T.A. normal."


def spans_of(source: str, result: AlignResult) -> list[tuple[str, str]]:
    return [(source[s.start : s.end], s.label) for s in result.spans]


def list_align(output: str, source: str = SOURCE) -> AlignResult:
    return align(source, ListFormat().parse(output), labels=LABELS)


def tag_align(output: str, source: str = SOURCE) -> AlignResult:
    return align(source, TagFormat().parse(output), labels=LABELS)


def test_normalize_maps_back_to_source() -> None:
    norm = normalize("Él  tiene\nÁCIDO")
    assert norm.text == "eltieneacido"
    assert norm.index[2] == 4 and norm.index[7] == 10


def test_list_changed_whitespace_and_tokenization() -> None:
    result = list_align("Varón | SEXO; 38años | EDAD; T . A . | PROCEDIMIENTO")
    assert spans_of(SOURCE, result) == [("Varón", "SEXO"), ("38 años", "EDAD"), ("T.A.", "PROCEDIMIENTO")]
    assert not result.hallucinations and not result.problems


def test_list_case_and_accents() -> None:
    result = list_align("VARON | SEXO; Cancer De Mama | ENFERMEDAD")
    assert spans_of(SOURCE, result) == [("Varón", "SEXO"), ("cáncer de mama", "ENFERMEDAD")]
    assert (result.spans[0].start, result.spans[0].end) == (0, 5)


def test_list_repeated_strings_ordered_matching() -> None:
    result = list_align("Varón | SEXO; 38 años | EDAD; Varón | SEXO")
    assert [(s.start, s.end) for s in result.spans] == [(0, 5), (9, 16), (28, 33)]
    # The same string twice takes the next occurrence even without anything between.
    result = list_align("Varón | SEXO; Varón | SEXO")
    assert [(s.start, s.end) for s in result.spans] == [(0, 5), (28, 33)]


def test_list_nested_item_inside_previous() -> None:
    result = list_align("cáncer de mama | ENFERMEDAD; mama | ENFERMEDAD")
    start = SOURCE.index("cáncer de mama")
    assert [(s.start, s.end) for s in result.spans] == [(start, start + 14), (start + 10, start + 14)]


def test_list_later_item_before_cursor_is_out_of_order() -> None:
    result = list_align("cáncer de mama | ENFERMEDAD; 38 años | EDAD")
    assert spans_of(SOURCE, result) == [("38 años", "EDAD"), ("cáncer de mama", "ENFERMEDAD")]
    assert result.problems == Counter({"out_of_order": 1})


def test_list_duplicate_item_is_counted() -> None:
    result = list_align("38 años | EDAD; 38 años | EDAD")
    assert len(result.spans) == 1
    assert result.problems == Counter({"duplicate": 1})
    assert not result.hallucinations


def test_list_prefers_whole_words() -> None:
    source = "Mamografía normal. Dolor en la mama."
    result = align(source, ListFormat().parse("mama | ENFERMEDAD"), labels=LABELS)
    assert [(s.start, s.end) for s in result.spans] == [(31, 35)]
    result = align(source, ListFormat().parse("mamog | PROCEDIMIENTO"), labels=LABELS)
    assert [(s.start, s.end) for s in result.spans] == [(0, 5)]
    assert result.problems == Counter({"partial_word": 1})


def test_list_trims_added_punctuation() -> None:
    result = list_align('"fumadora." | ENFERMEDAD')
    assert spans_of(SOURCE, result) == [("fumadora", "ENFERMEDAD")]
    assert result.problems == Counter({"trimmed": 1})


def test_labels_outside_set_and_strings_not_in_text_are_hallucinations() -> None:
    result = list_align("fumadora | FUMADORA; diabetes | ENFERMEDAD; Varón | SEXO; 38 años | edad")
    assert spans_of(SOURCE, result) == [("Varón", "SEXO"), ("38 años", "EDAD")]
    assert result.hallucinations == Counter({"label_not_in_set": 1, "not_in_text": 1})
    assert result.problems == Counter({"label_normalized": 1})


def test_labels_none_accepts_every_label() -> None:
    result = align(SOURCE, [Item("FUMADORA", "fumadora")])
    assert spans_of(SOURCE, result) == [("fumadora", "FUMADORA")]


def test_list_truncated_output() -> None:
    result = list_align("Varón | SEXO; 38 años | ED")
    assert spans_of(SOURCE, result) == [("Varón", "SEXO")]
    assert result.hallucinations == Counter({"label_not_in_set": 1})


def test_tag_hallucinated_tag() -> None:
    result = tag_align("<SEXO>Varón</SEXO> de <EDAD>38 años</EDAD>, <FUMADORA>fumadora</FUMADORA>.")
    assert spans_of(SOURCE, result) == [("Varón", "SEXO"), ("38 años", "EDAD")]
    assert result.hallucinations == Counter({"label_not_in_set": 1})


def test_tag_changed_tokenization_case_and_accents() -> None:
    output = "<SEXO>VARON</SEXO> de <EDAD>38años</EDAD> , fumadora . Varon con <ENFERMEDAD>cancer de mama</ENFERMEDAD>"
    result = tag_align(output)
    assert spans_of(SOURCE, result) == [
        ("Varón", "SEXO"),
        ("38 años", "EDAD"),
        ("cáncer de mama", "ENFERMEDAD"),
    ]
    assert not result.problems and not result.hallucinations


def test_tag_repeated_string_uses_its_position() -> None:
    result = tag_align("Varón de 38 años, fumadora. <SEXO>Varón</SEXO> con cáncer")
    assert [(s.start, s.end) for s in result.spans] == [(28, 33)]


def test_tag_rewritten_text() -> None:
    # The model rewrote words: tagged text that is not in the source is a hallucination,
    # tags on unchanged text around the edit still align.
    output = "<SEXO>Hombre</SEXO> de <EDAD>38 años</EDAD>, no fumador. Varón con <ENFERMEDAD>cáncer de mama</ENFERMEDAD>"
    result = tag_align(output)
    assert spans_of(SOURCE, result) == [("38 años", "EDAD"), ("cáncer de mama", "ENFERMEDAD")]
    assert result.hallucinations == Counter({"not_in_text": 1})


def test_tag_dropped_text_falls_back_to_search() -> None:
    # Output skipped the first sentence: character alignment still maps the tags.
    result = tag_align("<SEXO>Varón</SEXO> con cáncer de <ENFERMEDAD>mama</ENFERMEDAD>")
    mama = SOURCE.index("mama")
    assert [(s.start, s.end) for s in result.spans] == [(28, 33), (mama, mama + 4)]


def test_tag_item_split_by_edit_is_realigned() -> None:
    # An inserted word inside the tagged stretch breaks the character mapping.
    result = tag_align("Varón de 38 años, fumadora. Varón con <ENFERMEDAD>cáncer de la mama</ENFERMEDAD>")
    assert result.spans == []
    assert result.hallucinations == Counter({"not_in_text": 1})
    assert result.problems == Counter({"tag_realigned": 1})


def test_tag_missing_and_unbalanced_tags() -> None:
    parsed = TagFormat().parse("<SEXO>Varón de <EDAD>38 años</EDAD>, fumadora</SEXO>. Varón</ENFERMEDAD>")
    result = align(SOURCE, parsed, labels=LABELS)
    # The SEXO tag closes after EDAD: kept as the (wrong but aligned) stretch the model tagged.
    assert spans_of(SOURCE, result) == [("Varón de 38 años, fumadora", "SEXO"), ("38 años", "EDAD")]
    assert parsed.problems == Counter({"unmatched_close_tag": 1})


def test_tag_truncated_output() -> None:
    result = tag_align("<SEXO>Varón</SEXO> de <EDAD>38 a")
    assert spans_of(SOURCE, result) == [("Varón", "SEXO")]


def test_json_discontinuous_and_repeated() -> None:
    source = "Dolor en mano y pie. Dolor en pie."
    output = (
        '[{"label": "ENFERMEDAD", "text": ["dolor", "pie"]}, {"label": "ENFERMEDAD", "text": "Dolor en pie"}]'
    )
    result = align(source, JsonFormat().parse(output), labels=LABELS)
    assert [(s.fragments, s.label) for s in result.spans] == [
        (((0, 5), (16, 19)), "ENFERMEDAD"),
        (((21, 33),), "ENFERMEDAD"),
    ]


def test_align_never_maps_outside_or_onto_whitespace() -> None:
    result = align("a  b", [Item("X", "a b"), Item("X", " ")])
    assert [(s.start, s.end) for s in result.spans] == [(0, 4)]
    assert result.hallucinations == Counter({"not_in_text": 1})


OUTPUT_ALPHABET = st.sampled_from(
    list("abcáéñÑü AEIOU<>/|;\n[]{}\":,.-0123456789") + ["<SEXO>", "</SEXO>", "<EDAD>", "</EDAD>", "\u0301", "ß"]
)


@settings(max_examples=300, deadline=None)
@given(
    source=st.text(alphabet=st.sampled_from(list("Varón de 38 años, ÁÉñ\u0301ß.|;<>")), max_size=60),
    output=st.one_of(st.text(max_size=120), st.lists(OUTPUT_ALPHABET, max_size=60).map("".join)),
)
def test_arbitrary_output_never_raises(source: str, output: str) -> None:
    for fmt in (ListFormat(), TagFormat(), JsonFormat()):
        parsed = fmt.parse(output)
        for labels in (LABELS, None):
            result = align(source, parsed, labels=labels)
            for span in result.spans:
                assert 0 <= span.start < span.end <= len(source)
                assert all(0 <= s < e <= len(source) for s, e in span.fragments)
                assert not source[span.start].isspace() and not source[span.end - 1].isspace()
            kept = len(result.spans) + sum(result.hallucinations.values())
            assert kept <= len(parsed.items)


@st.composite
def text_and_spans(draw: st.DrawFn) -> tuple[str, list]:  # type: ignore[type-arg]
    text = draw(st.text(alphabet=st.sampled_from(list("Varón de 38 años, ÁñMAMA.|;\n")), min_size=1, max_size=50))
    spans: list = []
    for _ in range(draw(st.integers(0, 5))):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        label = draw(st.sampled_from(LABELS))
        if draw(st.booleans()) and end - start > 2:
            middle = draw(st.integers(start + 1, end - 1))
            spans.append(([(start, middle), (middle + 1, end)] if middle + 1 < end else [(start, end)], label))
        else:
            spans.append((start, end, label))
    return text, spans


@settings(max_examples=300, deadline=None)
@given(text_and_spans())
def test_round_trip_property(case: tuple[str, list]) -> None:  # type: ignore[type-arg]
    """What a format selects comes back exactly; the rest is counted."""
    text, spans = case
    for fmt in (ListFormat(), TagFormat(), TagFormat(nested=True), JsonFormat()):
        problems: Counter = Counter()
        kept = fmt.select(text, spans, Counter())
        output = fmt.render(text, spans, problems=problems)
        assert len(kept) + sum(problems.values()) - problems["tag_like_text"] == len(spans)
        result = align(text, fmt.parse(output), labels=LABELS)
        assert sorted((s.fragments, s.label) for s in result.spans) == sorted(
            (k.fragments, k.label) for k in kept
        ), (fmt.name, output)


def test_concept_strings_align_discontinuous_concepts_only_when_asked() -> None:
    """A backend that names "dolor hipogastrio" gets "Dolor … hipogastrio" with concept_strings, a hallucination without."""
    from spacy_clinical_es.generative.align import CONCEPT_ALIGNED, NOT_IN_TEXT, align
    from spacy_clinical_es.generative.decode import decode_chunks
    from spacy_clinical_es.generative.formats import JsonFormat
    from spacy_clinical_es.generative.types import Item

    text = "Dolor a nivel de hipogastrio."
    items = [Item("DIAGNOSTICO", "dolor hipogastrio")]
    found = align(text, items, concept_strings=True)
    assert [s.fragments for s in found.spans] == [((0, 5), (17, 28))] and found.problems[CONCEPT_ALIGNED] == 1
    assert align(text, items).hallucinations[NOT_IN_TEXT] == 1
    assert align(text, [Item("DIAGNOSTICO", "dolor pie")], concept_strings=True).hallucinations[NOT_IN_TEXT] == 1
    output = '[{"label": "DIAGNOSTICO", "text": "dolor hipogastrio"}]'
    decoded = decode_chunks("Nota. " + text, [(6, 35)], [output], JsonFormat(concept_strings=True), ["DIAGNOSTICO"])
    assert [s.fragments for s in decoded.spans] == [((6, 11), (23, 34))]
    assert decode_chunks("Nota. " + text, [(6, 35)], [output], JsonFormat(), ["DIAGNOSTICO"]).spans == []
