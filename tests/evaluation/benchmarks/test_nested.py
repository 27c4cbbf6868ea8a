"""benchmark nested: recall on the mentions a flat gold leaves out, and the Markdown table, on hand-made docs."""
from __future__ import annotations

import spacy
from spacy.tokens import Doc

from spacy_clinical_es.evaluation.benchmarks.nested import (
    LABELS,
    SPAN_KEY,
    hidden_recall,
    markdown,
)


def gold_doc() -> Doc:
    nlp = spacy.blank("es")
    doc = nlp("cáncer de mama en mujer de 38 años")
    mama = doc.char_span(0, 14, label="ENFERMEDAD")
    doc.ents = [mama, doc.char_span(18, 23, label="SEXO")]
    doc.spans[SPAN_KEY] = [
        mama,
        doc.char_span(10, 14, label="PROCEDIMIENTO"),  # nested in an entity: hidden from the flat gold
        doc.char_span(0, 6, label="ENFERMEDAD"),  # nested too
        doc.char_span(18, 23, label="SEXO"),
    ]
    return doc


def test_hidden_recall_counts_only_mentions_outside_the_flat_gold() -> None:
    doc = gold_doc()
    predicted = [{(10, 14, "PROCEDIMIENTO"), (0, 14, "ENFERMEDAD"), (1, 2, "EDAD")}]
    result = hidden_recall([doc], predicted)
    assert result["gold"] == 2 and result["found"] == 1 and result["r"] == 0.5
    assert result["per_type"] == {
        "ENFERMEDAD": {"found": 0, "gold": 1, "r": 0.0},
        "PROCEDIMIENTO": {"found": 1, "gold": 1, "r": 1.0},
    }
    assert hidden_recall([doc], [set()])["r"] == 0.0


def test_markdown_has_one_row_per_pipeline() -> None:
    row = {
        "strict": {"p": 0.5, "r": 0.25, "f": 1 / 3},
        "strict_per_type": {"EDAD": {"f": 1.0}},
        "nested_exact": {"f": 0.3},
        "hidden_from_flat": {"r": 0.5, "found": 1, "gold": 2},
    }
    results = {
        "gold": "g", "data": "d", "documents": 1, "command": "cmd", "nested": row,
        "flat_ceiling": {**row, "hidden_from_flat": None},
    }
    text = markdown(results)
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(lines) == 4  # header, alignment, nested, ceiling (no flat model)
    assert "| span_finder + spancat (nested) | 1.0000 | - | - | - | 0.5000 | 0.2500 | 0.3333 | 0.3000 | 0.5000 (1/2) |" in text
    assert len(LABELS) == 4 and "Command: `cmd`" in text
