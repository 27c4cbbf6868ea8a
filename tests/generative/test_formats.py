"""Renderers and parsers of the generative target formats (Spanish examples)."""
from __future__ import annotations

from collections import Counter

import pytest

from spacy_clinical_es.generative import (
    Item,
    JsonFormat,
    ListFormat,
    OutputFormat,
    TagFormat,
    align,
)

TEXT = "Varón de 38 años, fumador, con cáncer de mama."
SPANS = [(0, 5, "SEXO"), (9, 16, "EDAD"), (31, 45, "ENFERMEDAD"), (41, 45, "ENFERMEDAD")]


def test_spans_fixture_text() -> None:
    assert [TEXT[s:e] for s, e, _ in SPANS] == ["Varón", "38 años", "cáncer de mama", "mama"]


@pytest.mark.parametrize("fmt", [ListFormat(), TagFormat(), JsonFormat()])
def test_formats_follow_protocol(fmt: OutputFormat) -> None:
    assert isinstance(fmt, OutputFormat)


def test_list_render() -> None:
    out = ListFormat().render(TEXT, SPANS)
    assert out == "Varón | SEXO; 38 años | EDAD; cáncer de mama | ENFERMEDAD; mama | ENFERMEDAD"


def test_list_render_empty_and_parse_empty() -> None:
    assert ListFormat().render(TEXT, []) == "NO ENTITIES"
    for output in ("NO ENTITIES", "No entities.", "  ", ""):
        result = ListFormat().parse(output)
        assert result.items == [] and not result.problems


def test_list_render_collapses_whitespace_in_items() -> None:
    text = "Dolor\ttorácico  atípico"
    assert ListFormat().render(text, [(0, len(text), "ENFERMEDAD")]) == "Dolor torácico atípico | ENFERMEDAD"


def test_list_render_counts_inexpressible() -> None:
    text = "Dolor en mano y pie; fiebre."
    problems: Counter = Counter()
    out = ListFormat().render(
        text,
        [([(0, 5), (9, 13)], "ENFERMEDAD"), (0, 19, "ENFERMEDAD"), (21, 27, "ENFERMEDAD"), (30, 40, "X")],
        problems=problems,
    )
    assert problems == Counter({"discontinuous": 1, "invalid_span": 1})
    assert out == "Dolor en mano y pie | ENFERMEDAD; fiebre | ENFERMEDAD"
    problems.clear()
    assert ListFormat().render(text, [(0, 27, "ENFERMEDAD")], problems=problems) == "NO ENTITIES"
    assert problems == Counter({"separator_in_text": 1})


def test_render_counts_whitespace_edges() -> None:
    problems: Counter = Counter()
    assert JsonFormat().render("Varón de 38", [(0, 6, "SEXO")], problems=problems) == "[]"
    assert problems == Counter({"whitespace_edge": 1})


def test_list_render_counts_ambiguous_repeated_string() -> None:
    text = "HTA secundaria a tumor renal. Control de HTA."
    spans = [(0, 28, "ENFERMEDAD"), (41, 44, "ENFERMEDAD")]
    problems: Counter = Counter()
    out = ListFormat().render(text, spans, problems=problems)
    # After the outer item, "HTA" would be read as the nested occurrence.
    assert out == "HTA secundaria a tumor renal | ENFERMEDAD"
    assert problems == Counter({"ambiguous": 1})
    assert ListFormat(verify=False).render(text, spans).endswith("; HTA | ENFERMEDAD")


def test_list_parse_items_and_problems() -> None:
    result = ListFormat().parse("Varón | SEXO; 38 años | EDAD\n- fumador | HABITO; sin etiqueta;  | EDAD; x |")
    assert result.items == [Item("SEXO", "Varón"), Item("EDAD", "38 años"), Item("HABITO", "fumador")]
    assert result.problems == Counter({"missing_label": 2, "empty_text": 1})


def test_list_parse_truncated() -> None:
    result = ListFormat().parse("Varón | SEXO; 38 añ")
    assert result.items == [Item("SEXO", "Varón")]
    assert result.problems == Counter({"missing_label": 1})


def test_tag_render_flat_counts_nested_and_overlap() -> None:
    problems: Counter = Counter()
    spans = [*SPANS, (38, 43, "PROCEDIMIENTO")]  # "de ma": crosses "mama"
    out = TagFormat().render(TEXT, spans, problems=problems)
    assert out == (
        "<SEXO>Varón</SEXO> de <EDAD>38 años</EDAD>, fumador, con <ENFERMEDAD>cáncer de mama</ENFERMEDAD>."
    )
    assert problems == Counter({"nested": 2})


def test_tag_render_nested() -> None:
    problems: Counter = Counter()
    spans = [*SPANS, (38, 43, "PROCEDIMIENTO")]
    assert TagFormat(nested=True).render(TEXT, SPANS, problems=problems).endswith(
        "con <ENFERMEDAD>cáncer de <ENFERMEDAD>mama</ENFERMEDAD></ENFERMEDAD>."
    )
    assert not problems
    # "de ma" nests in "cáncer de mama"; "mama" then crosses it (spans are taken in text order).
    out = TagFormat(nested=True).render(TEXT, spans, problems=problems)
    assert out.endswith("con <ENFERMEDAD>cáncer <PROCEDIMIENTO>de ma</PROCEDIMIENTO>ma</ENFERMEDAD>.")
    assert problems == Counter({"overlap": 1})


def test_tag_render_same_range_two_labels_nests() -> None:
    out = TagFormat(nested=True).render("TAC", [(0, 3, "PROCEDIMIENTO"), (0, 3, "ENFERMEDAD")])
    assert out == "<ENFERMEDAD><PROCEDIMIENTO>TAC</PROCEDIMIENTO></ENFERMEDAD>"
    assert len(TagFormat().parse(out).items) == 2


def test_tag_render_counts_tag_like_text() -> None:
    problems: Counter = Counter()
    TagFormat().render("Lesión <A> de 3 mm", [], problems=problems)
    assert problems == Counter({"tag_like_text": 1})


def test_tag_parse_offsets_and_text() -> None:
    result = TagFormat().parse("<SEXO>Varón</SEXO> de <EDAD>38 años</EDAD>.")
    assert result.text == "Varón de 38 años."
    assert result.items == [Item("SEXO", "Varón", start=0, end=5), Item("EDAD", "38 años", start=9, end=16)]
    assert not result.problems


def test_tag_parse_nested() -> None:
    result = TagFormat().parse("<ENFERMEDAD>cáncer de <ENFERMEDAD>mama</ENFERMEDAD></ENFERMEDAD>")
    assert [(i.text, i.start, i.end) for i in result.items] == [("cáncer de mama", 0, 14), ("mama", 10, 14)]


def test_tag_parse_unbalanced_tags() -> None:
    # Missing closing tag, a closing tag with no opening one, lower-case label.
    result = TagFormat().parse("<SEXO>Varón de <EDAD>38 años</EDAD> fumador</HABITO>, <sexo>mujer</sexo>")
    assert [(i.label, i.text) for i in result.items] == [("EDAD", "38 años"), ("sexo", "mujer")]
    assert result.problems == Counter({"unclosed_tag": 1, "unmatched_close_tag": 1})
    assert result.text == "Varón de 38 años fumador, mujer"


def test_tag_parse_crossing_tags_keeps_outer() -> None:
    result = TagFormat().parse("<A>uno <B>dos</A> tres</B>")
    assert [(i.label, i.text) for i in result.items] == [("A", "uno dos")]
    assert result.problems == Counter({"unclosed_tag": 1, "unmatched_close_tag": 1})


def test_tag_parse_truncated() -> None:
    result = TagFormat().parse("<SEXO>Varón</SEXO> de <EDAD>38 a")
    assert [i.text for i in result.items] == ["Varón"]
    assert result.problems == Counter({"unclosed_tag": 1})
    assert TagFormat().parse("<SEXO>Varón</SEXO> de <ED").text == "Varón de <ED"


def test_tag_parse_keeps_non_tags() -> None:
    result = TagFormat().parse("nódulo <5 mm y >3 cm, <ENFERMEDAD></ENFERMEDAD>")
    assert result.text == "nódulo <5 mm y >3 cm, "
    assert result.items == []
    assert result.problems == Counter({"empty_text": 1})


def test_json_render_nested_and_discontinuous() -> None:
    text = "Dolor en mano y pie."
    out = JsonFormat().render(text, [([(0, 5), (16, 19)], "ENFERMEDAD"), (0, 13, "ENFERMEDAD")])
    # Text order: start, then the longer extent first.
    assert out == (
        '[{"label": "ENFERMEDAD", "text": ["Dolor", "pie"]}, {"label": "ENFERMEDAD", "text": "Dolor en mano"}]'
    )
    spans = align(text, JsonFormat().parse(out)).spans
    assert [(s.fragments, s.label) for s in spans] == [
        (((0, 5), (16, 19)), "ENFERMEDAD"),
        (((0, 13),), "ENFERMEDAD"),
    ]


def test_render_counts_duplicate_spans() -> None:
    problems: Counter = Counter()
    out = TagFormat(nested=True).render("TAC", [(0, 3, "PROCEDIMIENTO"), ([(0, 3)], "PROCEDIMIENTO")], problems=problems)
    assert out == "<PROCEDIMIENTO>TAC</PROCEDIMIENTO>"
    assert problems == Counter({"duplicate_span": 1})


def test_json_parse_wrapped_and_bad_items() -> None:
    output = (
        'Respuesta:\n```json\n[{"label": "SEXO", "text": "Varón"}, {"label": "EDAD"}, 3, '
        '{"text": "x"}, {"label": "ENFERMEDAD", "text": ["dolor", "pie"]}, {"label": "EDAD", "text": " "}]\n```'
    )
    result = JsonFormat().parse(output)
    assert result.items == [Item("SEXO", "Varón"), Item("ENFERMEDAD", "dolor pie", ("dolor", "pie"))]
    assert result.problems == Counter({"bad_item": 2, "missing_label": 1, "empty_text": 1})


def test_json_parse_key_case_and_aliases() -> None:
    result = JsonFormat().parse('[{"LABEL": "SEXO", "TEXT": "VARÓN"}, {"tipo": "EDAD", "texto": "38 años"}]')
    assert result.items == [Item("SEXO", "VARÓN"), Item("EDAD", "38 años")]


def test_json_parse_truncated_salvages_complete_objects() -> None:
    result = JsonFormat().parse('[{"label": "SEXO", "text": "Varón"}, {"label": "ED')
    assert result.items == [Item("SEXO", "Varón")]
    assert result.problems == Counter({"truncated_json": 1})


def test_json_parse_not_json() -> None:
    assert JsonFormat().parse("No hay entidades en el texto").problems == Counter({"invalid_json": 1})
    assert JsonFormat().parse("NO ENTITIES").problems == Counter()
    assert JsonFormat().parse("[]").items == []


def test_registry() -> None:
    from spacy.util import registry

    import spacy_clinical_es.generative.spacy_layer.registry  # noqa: F401

    assert isinstance(registry.misc.get("spacy_clinical_es.ListFormat.v1")(), ListFormat)
    assert registry.misc.get("spacy_clinical_es.TagFormat.v1")(nested=True).nested is True
    assert isinstance(registry.misc.get("spacy_clinical_es.JsonFormat.v1")(), JsonFormat)


def test_algorithm_modules_are_spacy_free() -> None:
    import subprocess
    import sys
    from pathlib import Path

    import spacy_clinical_es.generative as package

    # every module directly in generative/ (the spaCy layer lives apart, in generative/spacy_layer/)
    modules = sorted(p.stem for p in Path(package.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert {"types", "formats", "align", "chunks", "decode", "prompts", "seq2seq"} <= set(modules)
    code = (
        "import sys, importlib; "
        + "; ".join(f"importlib.import_module('spacy_clinical_es.generative.{m}')" for m in modules)
        + "; sys.exit('spacy' in sys.modules or 'torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
