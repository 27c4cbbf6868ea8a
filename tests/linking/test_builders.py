"""Knowledge-base builders: CIE-10 from the 'cie' package, SNOMED CT and CodiEsp from linking rows."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spacy_clinical_es.linking import Concept, LinkingError, TerminologyKB
from spacy_clinical_es.linking.builders import (
    cie10_mentions_kb,
    codiesp_kb,
    dotted,
    main,
    snomed_kb,
)


def test_dotted_codes() -> None:
    assert dotted("R100") == "R10.0"
    assert dotted("k37") == "K37"
    assert dotted("S2249XA") == "S22.49XA"
    assert dotted("A00-B99") == "A00-B99"
    assert dotted("R10.0") == "R10.0"


def test_cie10_kb_from_the_package() -> None:
    pytest.importorskip("cie.cie10")
    from spacy_clinical_es.linking.builders import cie10_kb

    kb = cie10_kb()
    assert len(kb) > 10_000
    assert kb["R10.0"].parent == "R10" and kb["R10.0"].vocabulary == "CIE10"
    assert kb.exact("abdomen agudo") == ["R10.0"]
    assert "A00-B99" not in kb and "K37" in kb
    assert all("-" not in c.code for c in kb.concepts.values())
    with_ranges = cie10_kb(min_level=0, include_ranges=True)
    assert "A00-B99" in with_ranges and len(with_ranges) > len(kb)


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _row(corpus: str, mention: str, code: str, system: str, label: str) -> dict:
    return {"corpus": corpus, "mention": mention, "code": code, "system": system, "label": label}


@pytest.fixture
def linking_dir(tmp_path: Path) -> Path:
    _write(tmp_path / "medprocner_train.jsonl", [_row("medprocner", "TAC", "77477000", "SNOMEDCT", "PROCEDIMIENTO")])
    _write(tmp_path / "distemist_train.jsonl", [
        _row("distemist", "apendicitis", "74400008", "SNOMEDCT", "ENFERMEDAD"),
        _row("distemist", "apendicitis", "K37", "ICD10", "ENFERMEDAD"),
    ])
    _write(tmp_path / "codiesp_train.jsonl", [
        _row("codiesp", "apendicitis aguda", "k35.80", "ICD10-CM", "DIAGNOSTICO"),
        _row("codiesp", "apendicectomía", "0dtj4zz", "ICD10-PCS", "PROCEDIMIENTO"),
    ])
    return tmp_path


def test_snomed_and_codiesp_kbs(linking_dir: Path) -> None:
    snomed = snomed_kb(linking_dir)
    assert set(snomed.concepts) == {"77477000", "74400008"}
    assert snomed["77477000"].semantic_type == "PROCEDIMIENTO"
    assert snomed["74400008"].semantic_type == "ENFERMEDAD" and snomed["74400008"].frequency == 1
    codiesp = codiesp_kb(linking_dir)
    assert {c: k.vocabulary for c, k in codiesp.concepts.items()} == {"k35.80": "ICD10-CM", "0dtj4zz": "ICD10-PCS"}
    assert set(codiesp_kb(linking_dir, systems=["ICD10-PCS"]).concepts) == {"0dtj4zz"}
    with pytest.raises(LinkingError, match="convert linking"):
        snomed_kb(linking_dir, splits=["dev"])


def test_cie10_kb_gains_the_distemist_icd10_mention_forms(linking_dir: Path) -> None:
    table = TerminologyKB()
    table.add(Concept("K37", "apendicitis, no especificada", vocabulary="CIE10"))
    table.add(Concept("K35.8", "otras apendicitis agudas y las no especificadas", vocabulary="CIE10"))
    kb = cie10_mentions_kb(linking_dir, table=table)
    assert set(kb.concepts) == {"K37", "K35.8"}
    assert kb["K37"].preferred_term == "apendicitis, no especificada" and "apendicitis" in kb["K37"].terms
    assert kb["K37"].frequency == 1 and kb.exact("Apendicitis") == ["K37"]
    assert "74400008" not in kb  # the SNOMED CT rows of the same mention stay out
    with pytest.raises(LinkingError, match="convert linking"):
        cie10_mentions_kb(linking_dir, splits=["dev"], table=table)


def test_main_writes_the_three_kbs(linking_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("cie.cie10")
    out = tmp_path / "kb"
    assert main(["--linking", str(linking_dir), "--output", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"cie10.jsonl", "snomed.jsonl", "codiesp.jsonl"}
