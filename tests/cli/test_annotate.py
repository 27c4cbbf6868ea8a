"""``annotate``: a folder, a JSONL file and a .txt in, one record per concept out; bad documents counted and named."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import spacy
from typer.testing import CliRunner

from spacy_clinical_es.cli import app
from spacy_clinical_es.linking import Concept, TerminologyKB
from spacy_clinical_es.runtime.annotate import (
    AnnotateOptions,
    annotate_batch,
    concept_records,
    run_annotate,
)
from spacy_clinical_es.runtime.batch import EXIT_FAILED
from spacy_clinical_es.tokenizer import make_clinical_nlp

PATTERNS = [
    {"label": "ENFERMEDAD", "pattern": "apendicitis aguda"},
    {"label": "ENFERMEDAD", "pattern": "apendicitis"},
    {"label": "PROCEDIMIENTO", "pattern": "apendicectomía"},
    {"label": "ENFERMEDAD", "pattern": "fiebre"},
]


def build_concepts_model(path: Path) -> Path:
    """A saved concepts-shaped pipeline: ruler (a nested group) -> concept_spans -> SNOMED CT linker -> codes."""
    nlp = make_clinical_nlp()
    ruler = nlp.add_pipe("span_ruler", config={"spans_key": "nested", "annotate_ents": False, "phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(PATTERNS)
    nlp.add_pipe("clinical_es_concept_spans", config={"use_ents": False, "span_keys": ["nested"]})
    linker = nlp.add_pipe("clinical_es_entity_linker", name="snomed_linker", config={"spans_key": "concepts"})
    kb = TerminologyKB()
    kb.add(Concept("74400008", "apendicitis", ("apendicitis aguda",), "ENFERMEDAD", "SNOMEDCT"))
    kb.add(Concept("80146002", "apendicectomía", (), "PROCEDIMIENTO", "SNOMEDCT"))
    linker.set_kb(kb)
    nlp.add_pipe("clinical_es_concept_codes", name="snomed_codes",
                 config={"linker": "snomed_linker", "code_system": "SNOMED CT"})
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_concepts_model(tmp_path_factory.mktemp("model") / "concepts")


def _inputs(root: Path) -> list[Path]:
    folder = root / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Dolor por apendicitis aguda; se realiza apendicectomía.", encoding="utf-8")
    (folder / "sub" / "b.txt").write_text("Sin fiebre.", encoding="utf-8")
    (folder / "bad.txt").write_bytes(b"\xff\xfe\x00\x81\x00\x9d" * 40)  # neither text nor any known encoding
    jsonl = root / "notes.jsonl"
    jsonl.write_text(
        json.dumps({"id": "j1", "text": "Apendicitis tratada con apendicectomía."}, ensure_ascii=False) + "\n"
        + json.dumps({"id": "j2", "text": "Fiebre."}) + "\n",
        encoding="utf-8",
    )
    single = root / "one.txt"
    single.write_text("Paciente sin hallazgos.", encoding="utf-8")
    return [folder, jsonl, single]


def test_concept_records_nested_codes_and_fragments(model: Path) -> None:
    nlp = spacy.load(model)
    doc = nlp("Dolor por apendicitis aguda.")
    records = concept_records(doc, "d1", with_text=True)
    assert [(r["concept_id"], r["start"], r["end"], r["nested_in"], r["text"]) for r in records] == [
        ("C1", 10, 27, None, "apendicitis aguda"),
        ("C2", 10, 21, "C1", "apendicitis"),
    ]
    assert records[0]["code_system"] == "SNOMED CT" and records[0]["code"] == "74400008"
    assert records[0]["fragments"] == [[10, 27]] and records[0]["score"] == pytest.approx(1.0)
    assert "text" not in concept_records(doc, "d1")[0]


def test_discontinuous_concept_is_one_record_with_its_fragments() -> None:
    from spacy.tokens import Span

    nlp = make_clinical_nlp()
    doc = nlp("Dolor en brazo y pierna izquierdos.")
    brazo, izq = doc.char_span(9, 14), doc.char_span(24, 34)
    doc.spans["concepts"] = [Span(doc, brazo.start, brazo.end, "ENFERMEDAD", span_id="C1"),
                             Span(doc, izq.start, izq.end, "ENFERMEDAD", span_id="C1")]
    (record,) = concept_records(doc, "d")
    assert record["fragments"] == [[9, 14], [24, 34]] and (record["start"], record["end"]) == (9, 34)
    assert record["code"] is None and record["codes"] == {}


def test_one_failing_document_fails_alone(model: Path) -> None:
    nlp = spacy.load(model)
    results = annotate_batch(nlp, [("ok", "Fiebre."), ("empty", "   "), ("ok2", "apendicitis")])
    assert [r.reason for r in results] == [None, "empty", None]
    assert [len(r.records) for r in results] == [1, 0, 1]


def test_folder_jsonl_and_txt_with_one_undecodable_file(model: Path, tmp_path: Path) -> None:
    inputs = _inputs(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["annotate", *map(str, inputs), "--model", str(model), "--out", str(out)])
    assert result.exit_code == EXIT_FAILED, result.output
    records = [json.loads(line) for line in (out / "concepts.jsonl").read_text(encoding="utf-8").splitlines()]
    by_doc: dict[str, list[str]] = {}
    for r in records:
        by_doc.setdefault(r["doc_id"], []).append(r["label"])
        assert "text" not in r
    assert by_doc == {
        "a.txt": ["ENFERMEDAD", "ENFERMEDAD", "PROCEDIMIENTO"],
        "sub/b.txt": ["ENFERMEDAD"],
        "j1": ["ENFERMEDAD", "PROCEDIMIENTO"],
        "j2": ["ENFERMEDAD"],
    }  # one.txt has no concept: no record, but it is done (manifest)
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(f["id"], f["reason"]) for f in failures] == [("bad.txt", failures[0]["reason"])]
    assert failures[0]["reason"] in {"binary", "decode_error"}
    assert "bad.txt" in result.output and "1 document(s) failed" in result.output
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(e["id"] for e in manifest[1:] if e["status"] == "done") == ["a.txt", "j1", "j2", "one.txt", "sub/b.txt"]

    # --resume: nothing is redone, nothing duplicated; the bad file is tried again and fails again
    again = CliRunner().invoke(app, ["annotate", *map(str, inputs), "--model", str(model), "--out", str(out), "--resume"])
    assert again.exit_code == EXIT_FAILED
    assert "Skipped 5 documents" in again.output
    assert len((out / "concepts.jsonl").read_text(encoding="utf-8").splitlines()) == len(records)


def test_csv_and_brat_formats(model: Path, tmp_path: Path) -> None:
    inputs = _inputs(tmp_path)
    summary = run_annotate(inputs, model, tmp_path / "csv", AnnotateOptions(format="csv", progress=False))
    assert summary.documents == 5 and summary.failed == 1 and summary.concepts == 7
    with (tmp_path / "csv" / "concepts.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 7 and rows[0]["codes"].startswith("SNOMED CT:74400008:")
    summary = run_annotate(inputs, model, tmp_path / "brat", AnnotateOptions(format="brat", progress=False))
    ann = (tmp_path / "brat" / "brat" / "a.ann").read_text(encoding="utf-8")
    assert "T1\tENFERMEDAD 10 27\tapendicitis aguda" in ann and "SNOMEDCT:74400008" in ann
    assert (tmp_path / "brat" / "brat" / "a.txt").read_text(encoding="utf-8").startswith("Dolor por")


def test_missing_input_is_a_clear_error(model: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["annotate", str(tmp_path / "nowhere"), "--model", str(model), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1 and "Input not found" in result.output


def test_cli_starts_without_the_optional_extras() -> None:
    """`pip install es_clinical_deid` brings no torch: the CLI (every command module) must still import."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "sys.modules.update({'torch': None, 'transformers': None})\n"
        "sys.argv = ['spacy-clinical-es', 'annotate', '--help']\n"
        "from spacy_clinical_es.cli import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--format" in result.stdout


def test_negated_and_uncertain_are_reported_when_a_component_sets_them() -> None:
    from spacy.tokens import Span

    import spacy_clinical_es.pipeline.clinical_context  # noqa: F401  (registers span._.negated / _.uncertain)

    nlp = make_clinical_nlp()
    doc = nlp("No hay fiebre ni tos.")
    fever, cough = doc.char_span(7, 13, "ENFERMEDAD"), doc.char_span(17, 20, "ENFERMEDAD")
    doc.spans["concepts"] = [Span(doc, fever.start, fever.end, "ENFERMEDAD", span_id="C1"),
                             Span(doc, cough.start, cough.end, "ENFERMEDAD", span_id="C2")]
    doc.spans["concepts"][0]._.negated = True
    doc.spans["concepts"][1]._.uncertain = True
    records = concept_records(doc, "d", context=True)
    assert [(r["negated"], r["uncertain"]) for r in records] == [(True, False), (False, True)]
    assert "negated" not in concept_records(doc, "d")[0]  # no context component: no field
