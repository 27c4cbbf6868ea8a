"""Tests for the misalignment report (spacy_clinical_es.corpora.alignment_report)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.corpora.alignment_report import (
    REASON_BOTH,
    REASON_END,
    REASON_INVALID,
    REASON_START,
    REASON_WHITESPACE,
    corpora_above,
    format_examples,
    format_misalignment_table,
    items_from_documents,
    misalignment_stats,
    span_misalignment,
    token_boundaries,
)
from spacy_clinical_es.corpora.annotations import Annotation, Document


def ws_tokenize(text: str) -> list[tuple[int, int]]:
    """Whitespace tokenizer returning (start, end) pairs."""
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


def char_tokenize(text: str) -> list[tuple[int, int]]:
    """One token per non-space character (aligns every non-whitespace span)."""
    return [(i, i + 1) for i, c in enumerate(text) if not c.isspace()]


# Hand-built items. Whitespace tokens of "Sexo: H. Edad:62" are
# "Sexo:" (0-5), "H." (6-8), "Edad:62" (9-16); of "ab  cd": (0-2), (4-6).
ITEMS = [
    (
        "a",
        "Sexo: H. Edad:62",
        [(6, 7, "SEXO"), (14, 16, "EDAD"), (0, 5, "X"), (9, 16, "EDAD")],
    ),
    ("a", "ab  cd", [(2, 4, "X"), (3, 3, "X"), (1, 5, "X"), (0, 7, "X")]),
    ("b", "uno dos", [(0, 3, "L"), (4, 7, "L")]),
]


@pytest.fixture(scope="module")
def stats() -> dict:
    return misalignment_stats(ws_tokenize, ITEMS, max_examples=2)


def test_corpus_counts(stats: dict) -> None:
    a = stats["corpora"]["a"]
    assert (a["docs"], a["chars"], a["tokens"]) == (2, 22, 5)
    assert a["tokens_per_1k_chars"] == pytest.approx(1000 * 5 / 22)
    assert (a["spans"], a["misaligned"]) == (8, 6)
    assert a["rate"] == pytest.approx(0.75)
    assert a["reasons"] == {
        REASON_INVALID: 2,
        REASON_WHITESPACE: 1,
        REASON_START: 1,
        REASON_END: 1,
        REASON_BOTH: 1,
    }
    b = stats["corpora"]["b"]
    assert (
        b["docs"],
        b["chars"],
        b["tokens"],
        b["spans"],
        b["misaligned"],
        b["rate"],
    ) == (1, 7, 2, 2, 0, 0.0)
    assert b["examples"] == [] and b["reasons"] == {}


def test_total(stats: dict) -> None:
    total = stats["total"]
    assert (
        total["docs"],
        total["chars"],
        total["tokens"],
        total["spans"],
        total["misaligned"],
    ) == (3, 29, 7, 10, 6)
    assert total["rate"] == pytest.approx(0.6)
    assert total["tokens_per_1k_chars"] == pytest.approx(1000 * 7 / 29)


def test_label_counts(stats: dict) -> None:
    labels = stats["corpora"]["a"]["labels"]
    assert list(labels) == ["EDAD", "SEXO", "X"]
    assert (
        labels["SEXO"]["spans"],
        labels["SEXO"]["misaligned"],
        labels["SEXO"]["rate"],
    ) == (1, 1, 1.0)
    assert (labels["EDAD"]["spans"], labels["EDAD"]["misaligned"]) == (2, 1)
    assert labels["EDAD"]["rate"] == pytest.approx(0.5)
    assert labels["EDAD"]["reasons"] == {REASON_START: 1}
    assert (labels["X"]["spans"], labels["X"]["misaligned"]) == (5, 4)
    assert stats["corpora"]["b"]["labels"]["L"]["misaligned"] == 0


def test_examples_are_locations_without_text(stats: dict) -> None:
    examples = stats["corpora"]["a"]["examples"]
    assert examples == [
        {"doc": "#0", "start": 6, "end": 7, "label": "SEXO", "reason": REASON_END},
        {"doc": "#0", "start": 14, "end": 16, "label": "EDAD", "reason": REASON_START},
    ]
    # label-level examples are capped separately: X's misaligned spans are all in "ab  cd"
    assert [
        (e["doc"], e["start"]) for e in stats["corpora"]["a"]["labels"]["X"]["examples"]
    ] == [("#1", 2), ("#1", 3)]
    listing = format_examples(stats)
    assert listing.splitlines()[0] == "a\t#0\t6-7\tSEXO\tend"
    for fragment in ("Sexo", "Edad", "H."):
        assert fragment not in listing


def test_doc_ids_from_fourth_element() -> None:
    items = [
        ("c", "ab cd", [(0, 1, "L")], "doc-7"),
        ("c", "ab cd", [(3, 5, "L")], "doc-8"),
    ]
    result = misalignment_stats(ws_tokenize, items)
    assert result["corpora"]["c"]["examples"] == [
        {"doc": "doc-7", "start": 0, "end": 1, "label": "L", "reason": "end"}
    ]


def test_span_misalignment_reasons() -> None:
    text = "ab  cd"
    starts, ends, n = token_boundaries(ws_tokenize(text), text)
    assert (starts, ends, n) == ({0, 4}, {2, 6}, 2)
    assert span_misalignment(0, 2, text, starts, ends) is None
    assert span_misalignment(0, 6, text, starts, ends) is None
    assert span_misalignment(0, 3, text, starts, ends) == REASON_WHITESPACE
    assert span_misalignment(1, 2, text, starts, ends) == REASON_START
    assert span_misalignment(0, 1, text, starts, ends) == REASON_END
    assert span_misalignment(1, 5, text, starts, ends) == REASON_BOTH
    assert span_misalignment(2, 2, text, starts, ends) == REASON_INVALID
    assert span_misalignment(5, 3, text, starts, ends) == REASON_INVALID
    assert span_misalignment(-1, 2, text, starts, ends) == REASON_INVALID


class _NoPipeline:
    """A Language stand-in whose __call__ (running components) must not be used."""

    def __init__(self, nlp: spacy.Language) -> None:
        self.make_doc = nlp.make_doc

    def __call__(self, text: str) -> None:  # pragma: no cover - must not run
        raise AssertionError("pipeline components must not run")


def test_spacy_language_uses_make_doc_and_skips_space_tokens() -> None:
    nlp = spacy.blank("es")
    # spaCy tokens: "Sexo" ":" "H." "\n" "Edad" -> 4 words and one newline token
    items = [("m", "Sexo: H.\nEdad", [(6, 7, "SEXO"), (0, 4, "W")])]
    for tokenizer in (nlp, _NoPipeline(nlp), nlp.tokenizer):
        corpus = misalignment_stats(tokenizer, items)["corpora"]["m"]
        assert corpus["tokens"] == 4
        assert (corpus["spans"], corpus["misaligned"]) == (2, 1)
        assert corpus["examples"][0]["reason"] == REASON_END


def test_rejects_non_tokenizer() -> None:
    with pytest.raises(TypeError):
        misalignment_stats(42, ITEMS)


def test_corpora_above(stats: dict) -> None:
    assert corpora_above(stats, 0.003) == ["a"]
    assert corpora_above(stats, 0.75) == []


def test_markdown_table(stats: dict) -> None:
    baseline = misalignment_stats(char_tokenize, ITEMS)
    table = format_misalignment_table(stats, baseline)
    lines = table.splitlines()
    assert lines[0].startswith("| corpus | docs | spans | misaligned (clinical) |")
    # char tokenizer on corpus a: 18 non-space characters in 22 -> 818.2 tokens/1k
    # chars; it misaligns only the whitespace-edged span and the 2 invalid ones.
    assert "| a | 2 | 8 | 6 | 75.00% | 227.3 | 3 | 37.50% | 818.2 | -72.2% |" in table
    assert "| **total** | 3 | 10 | 6 | 60.00% | 241.4 |" in table
    assert "| a | EDAD | 2 | 1 | 50.00% | 0 | 0.00% |" in table
    assert "Sexo" not in table
    plain = format_misalignment_table(stats, by_label=False)
    assert "EDAD" not in plain and "blank es" not in plain
    assert len(plain.splitlines()) == 2 + 3


def test_items_from_documents_counts_fragments() -> None:
    doc = Document(
        id="S1",
        text="dolor en la pierna derecha",
        annotations=[
            Annotation(id="T1", label="SINTOMA", fragments=[(0, 5)], text="dolor"),
            Annotation(
                id="T2",
                label="SINTOMA",
                fragments=[(12, 18), (0, 5)],
                text="pierna dolor",
            ),
            Annotation(id="T3", label="SINTOMA", fragments=[], text=""),
        ],
    )
    counter: Counter = Counter()
    items = list(items_from_documents([doc], "sym", id_prefix="train/", counts=counter))
    assert items == [
        (
            "sym",
            doc.text,
            [(0, 5, "SINTOMA"), (12, 18, "SINTOMA"), (0, 5, "SINTOMA")],
            "train/S1",
        )
    ]
    assert dict(counter) == {
        "annotations": 3,
        "fragments": 3,
        "discontinuous": 1,
        "no_offsets": 1,
    }
    result = misalignment_stats(ws_tokenize, items)
    assert result["corpora"]["sym"]["spans"] == 3
    assert result["corpora"]["sym"]["misaligned"] == 0


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(
        st.text(alphabet="abcXYZ09.-", min_size=1, max_size=6), min_size=1, max_size=12
    ),
    data=st.data(),
)
def test_token_spans_align_and_inner_spans_do_not(
    words: list[str], data: st.DataObject
) -> None:
    text = " ".join(words)
    tokens = ws_tokenize(text)
    i = data.draw(st.integers(0, len(tokens) - 1))
    j = data.draw(st.integers(i, len(tokens) - 1))
    spans = [(tokens[i][0], tokens[j][1], "OK")]
    long_tokens = [(s, e) for s, e in tokens if e - s >= 2]
    if long_tokens:
        s, e = data.draw(st.sampled_from(long_tokens))
        spans.append((s + 1, e, "CUT"))
    result = misalignment_stats(ws_tokenize, [("h", text, spans)])["corpora"]["h"]
    assert result["labels"]["OK"]["misaligned"] == 0
    assert result["misaligned"] == (1 if long_tokens else 0)
    assert 0.0 <= result["rate"] <= 1.0
    assert result["tokens"] == len(words)
