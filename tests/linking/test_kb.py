from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es.errors import ClinicalEsError
from spacy_clinical_es.linking import Concept, LinkingError, TerminologyKB


def _row(mention: str, code: str, system: str = "SNOMEDCT", corpus: str = "medprocner") -> dict:
    return {"corpus": corpus, "mention": mention, "code": code, "system": system, "label": "PROCEDIMIENTO"}


def test_from_linking_rows_preferred_is_most_frequent_form() -> None:
    rows = [_row("TAC", "1"), _row("tomografía", "1"), _row("tac", "1"), _row("RM", "2")]
    kb = TerminologyKB.from_linking_rows(rows)
    assert len(kb) == 2
    assert kb["1"].preferred_term == "TAC"
    assert kb["1"].synonyms == ("tomografía",)
    assert kb["1"].semantic_type == "PROCEDIMIENTO"
    assert kb["1"].vocabulary == "SNOMEDCT"


def test_from_linking_rows_filters_system_and_corpus() -> None:
    rows = [_row("TAC", "1"), _row("TAC", "Z1", system="ICD10"), _row("RM", "2", corpus="other")]
    kb = TerminologyKB.from_linking_rows(rows, corpora=["medprocner"], systems=["SNOMEDCT"])
    assert set(kb.concepts) == {"1"}


def test_from_linking_rows_rejects_empty_code_without_text() -> None:
    with pytest.raises(LinkingError) as info:
        TerminologyKB.from_linking_rows([_row("secret mention", "")])
    assert "secret" not in str(info.value)
    assert isinstance(info.value, ClinicalEsError)


def test_aliases_and_exact(hand_kb: TerminologyKB) -> None:
    assert ("tac", "77477000") in hand_kb.aliases
    assert len(hand_kb.aliases) == len(set(hand_kb.aliases))
    assert hand_kb.exact("Tomografia  COMPUTARIZADA") == ["77477000"]
    assert sorted(hand_kb.exact("apendicitis aguda")) == ["74400008", "K35.80"]
    assert hand_kb.exact("nada") == []


@pytest.mark.parametrize("name", ["kb.tsv", "kb.jsonl"])
def test_disk_round_trip(hand_kb: TerminologyKB, tmp_path: Path, name: str) -> None:
    hand_kb.to_disk(tmp_path / name)
    loaded = TerminologyKB.from_disk(tmp_path / name)
    assert loaded == hand_kb
    assert loaded.aliases == hand_kb.aliases


def test_from_linking_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "medprocner_train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [_row("TAC", "1"), _row("RM", "2")]) + "\n")
    assert set(TerminologyKB.from_linking_jsonl([path]).concepts) == {"1", "2"}


def test_tsv_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "kb.tsv"
    path.write_text("code\tpreferred_term\n1\tTAC\n2\n")
    with pytest.raises(LinkingError, match="line 3"):
        TerminologyKB.from_disk(path)
    path.write_text("id\tname\n")
    with pytest.raises(LinkingError, match="line 1"):
        TerminologyKB.from_disk(path)
    with pytest.raises(LinkingError, match="not found"):
        TerminologyKB.from_disk(tmp_path / "missing.tsv")


def test_frequency_column_and_errors(tmp_path: Path) -> None:
    kb = TerminologyKB.from_tsv_string("code\tpreferred_term\tsynonyms\tsemantic_type\tvocabulary\tparent\tfrequency\n1\tTAC\t\t\t\t\t7\n")
    assert kb["1"].frequency == 7 and kb.max_frequency == 7
    with pytest.raises(LinkingError, match="line 2"):
        TerminologyKB.from_tsv_string("code\tpreferred_term\tsynonyms\tsemantic_type\tvocabulary\tparent\tfrequency\n1\tTAC\t\t\t\t\t-1\n")
    for bad in ('"x"', "1.5", "true"):
        with pytest.raises(LinkingError, match="line 1"):
            TerminologyKB.from_jsonl_string('{"code": "1", "preferred_term": "x", "frequency": ' + bad + '}\n')
    rows = [_row("TAC", "1"), _row("tac", "1"), _row("RM", "2")]
    assert [c.frequency for c in TerminologyKB.from_linking_rows(rows).concepts.values()] == [2, 1]


def test_jsonl_error_names_the_line() -> None:
    with pytest.raises(LinkingError, match="line 2"):
        TerminologyKB.from_jsonl_string('{"code": "1", "preferred_term": "x"}\n{"code": "2"}\n')


def test_tsv_refuses_synonym_with_separator() -> None:
    kb = TerminologyKB()
    kb.add(Concept("1", "a", ("b|c",)))
    with pytest.raises(LinkingError, match="JSONL"):
        kb.to_tsv_string()


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="|\r\n\x00"), min_size=1)
_opt = st.one_of(st.none(), _text.filter(lambda t: t.strip() == t and t != ""))
_concept = st.builds(
    Concept,
    code=_text.filter(lambda t: t.strip() == t and t != ""),
    preferred_term=_text.filter(lambda t: t.strip() != ""),
    synonyms=st.lists(_text, max_size=3).map(tuple),
    semantic_type=_opt,
    vocabulary=_opt,
    parent=_opt,
    frequency=st.one_of(st.none(), st.integers(0, 10**9)),
)


@given(st.lists(_concept, max_size=5))
def test_tsv_and_jsonl_round_trip_any_concepts(concepts: list[Concept]) -> None:
    kb = TerminologyKB()
    for concept in concepts:
        kb.add(concept)
    assert TerminologyKB.from_jsonl_string(kb.to_jsonl_string()) == kb
    assert TerminologyKB.from_tsv_string(kb.to_tsv_string()) == kb
