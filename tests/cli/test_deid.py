"""``spacy-clinical-es deid`` on a training-free pipeline saved to tmp_path (invented texts)."""
from __future__ import annotations

import json

import pytest
import spacy
from typer.testing import CliRunner

import spacy_clinical_es.cli.deid  # noqa: F401  (registers the command)
from spacy_clinical_es.cli import app
from spacy_clinical_es.cli.deid import AUDIT_NAME

TEXT_A = "Nombre: Ernesto Rivera. NHC: 368503. Tfno. 956 203 145. Fecha: 03/03/1946.\n"
TEXT_B = "Ernesto Rivera vive en CP: 28016.\n"
PHI = ("Ernesto", "Rivera", "368503", "956 203 145", "03/03/1946", "28016")


def invoke(args: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["deid", *args], env=env or {"SPACY_CLINICAL_ES_DEID_KEY": ""})


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("deid_model")
    nlp = spacy.blank("es")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "NOMBRE_SUJETO_ASISTENCIA", "pattern": [{"TEXT": "Ernesto"}, {"TEXT": "Rivera"}]}]
    )
    nlp.add_pipe("phi_rules")
    nlp.to_disk(root / "model")
    return root / "model"


@pytest.fixture()
def inputs(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (folder / "sub" / "b.txt").write_text(TEXT_B, encoding="utf-8")
    (folder / "ignored.md").write_text(TEXT_A, encoding="utf-8")
    lines = [json.dumps({"id": "r1", "text": TEXT_A, "extra": "Ernesto"}), "{not json", json.dumps({"text": TEXT_B})]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def audit_lines(out):
    return [json.loads(line) for line in (out / AUDIT_NAME).read_text(encoding="utf-8").splitlines()]


def test_single_txt_with_audit_without_originals(model, inputs) -> None:
    out = inputs / "out"
    result = invoke([str(inputs / "in" / "a.txt"), "--model", str(model), "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    text = (out / "a.txt").read_text(encoding="utf-8")
    assert text.startswith("Nombre: ") and text.count("\n") == 1
    assert not any(phi in text for phi in PHI)
    (record,) = audit_lines(out)
    assert record["id"] == "a.txt" and record["mode"] == "surrogate" and record["n_spans"] == 4
    labels = [row["label"] for row in record["spans"]]
    assert labels == ["NOMBRE_SUJETO_ASISTENCIA", "ID_SUJETO_ASISTENCIA", "NUMERO_TELEFONO", "FECHAS"]
    for row in record["spans"]:
        assert set(row) == {"start", "end", "out_start", "out_end", "label", "category", "action"}
        assert row["action"] == "surrogate"
        assert text[row["out_start"] : row["out_end"]] not in TEXT_A
    assert TEXT_A[record["spans"][1]["start"] : record["spans"][1]["end"]] == "368503"
    raw = (out / AUDIT_NAME).read_text(encoding="utf-8")
    assert not any(phi in raw for phi in PHI)


def test_folder_is_recursive_and_keeps_relative_names(model, inputs) -> None:
    out = inputs / "out"
    args = [str(inputs / "in"), "--model", str(model), "--out", str(out), "--mode", "mask", "--no-audit"]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["a.txt", "failures.jsonl", "manifest.jsonl", "sub/b.txt"]
    assert (out / "failures.jsonl").read_bytes() == b""
    assert (out / "sub" / "b.txt").read_text(encoding="utf-8") == "[NOMBRE] vive en CP: [TERRITORIO].\n"


def test_jsonl_with_key_and_originals(model, inputs) -> None:
    out = inputs / "out"
    args = [str(inputs / "docs.jsonl"), "--model", str(model), "--out", str(out), "--keep-originals"]
    result = invoke(args, env={"SPACY_CLINICAL_ES_DEID_KEY": "k" * 32})
    # the malformed line is a document that could not be processed: recorded, the run goes on, exit code 3
    assert result.exit_code == 3, result.output
    assert "failed (bad_record): 1" in result.output
    (failure,) = [json.loads(line) for line in (out / "failures.jsonl").read_text(encoding="utf-8").splitlines()]
    assert failure["id"] == "docs.jsonl:2" and failure["line"] == 2 and failure["reason"] == "bad_record"
    records = [json.loads(line) for line in (out / "docs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["r1", "docs.jsonl:3"]
    assert all(set(r) == {"id", "text"} for r in records)
    assert not any(phi in r["text"] for r in records for phi in PHI)
    # with a key the same name gets the same surrogate in both documents
    audit = audit_lines(out)
    first = {row["original"]: row["replacement"] for rec in audit for row in rec["spans"] if rec["id"] == "r1"}
    second = {row["original"]: row["replacement"] for rec in audit for row in rec["spans"] if rec["id"] != "r1"}
    assert first["Ernesto Rivera"] == second["Ernesto Rivera"] != "Ernesto Rivera"
    assert audit[1]["line"] == 3


def test_two_processes(model, inputs) -> None:
    out = inputs / "out"
    args = [str(inputs / "in"), "--model", str(model), "--out", str(out), "--n-process", "2", "--key", "secret-key-0123456789"]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    assert len(audit_lines(out)) == 2
    assert "secret-key" not in (out / AUDIT_NAME).read_text(encoding="utf-8")
    # a short key is refused with a clear error
    result = invoke([*args[:-1], "short"])
    assert result.exit_code == 1 and "at least 16" in result.output


def test_errors(model, inputs) -> None:
    out = inputs / "out"
    result = invoke([str(inputs / "missing.txt"), "--model", str(model), "--out", str(out)])
    assert result.exit_code == 1 and "Input not found" in result.output
    result = invoke([str(inputs / "in" / "ignored.md"), "--model", str(model), "--out", str(out)])
    assert result.exit_code == 1 and "Unsupported input" in result.output
    result = invoke([str(inputs / "in"), "--model", str(model), "--out", str(inputs / "in")])
    assert result.exit_code == 1 and "is an input file" in result.output
    result = invoke([str(inputs / "in"), "--model", str(model), "--out", str(out), "--mode", "nope"])
    assert result.exit_code == 1 and "Unknown mode" in result.output
    result = invoke([str(inputs / "in"), "--model", str(inputs / "nomodel"), "--out", str(out)])
    assert result.exit_code == 1
    result = invoke([str(inputs / "in"), "--model", str(model), "--out", str(out), "--no-audit", "--keep-originals"])
    assert result.exit_code == 1
    assert not out.exists()


def test_randomizer_reads_the_phi_recall_group() -> None:
    from spacy.training import Example

    from spacy_clinical_es.cli.deid import prepare_pipeline

    nlp = spacy.blank("es")
    nlp.add_pipe("phi_rules")
    nlp.add_pipe("phi_recall", config={"spans_key": "to_replace"})
    doc = nlp.make_doc(TEXT_B)
    nlp.initialize(lambda: [Example.from_dict(doc, {"entities": [(0, 14, "NOMBRE_SUJETO_ASISTENCIA")]})])
    _, randomizer = prepare_pipeline(nlp, mode=None, seed=1, key=None)
    assert randomizer.cfg["spans_key"] == "to_replace"
    out = nlp(TEXT_B)
    # Whatever the untrained classifier flags, the postal code found by the rules is in the group and replaced.
    assert "28016" in [s.text for s in out.spans["to_replace"]]
    assert "28016" not in out._.deid_text


def test_policy_flags_reach_the_randomizer_and_the_manifest(model, inputs) -> None:
    """--policy, --no-recall, --keep-relatives/--replace-relatives (issue 15): applied, and recorded in the manifest."""
    policy = inputs / "policy.yml"
    policy.write_text("labels:\n  NUMERO_TELEFONO: mask\n", encoding="utf-8")
    out = inputs / "out_policy"
    args = [str(inputs / "in" / "a.txt"), "--model", str(model), "--out", str(out), "--seed", "3"]
    result = invoke([*args, "--policy", str(policy), "--no-recall", "--replace-relatives", "--n-process", "2"])
    assert result.exit_code == 0, result.output
    assert "[TELEFONO]" in (out / "a.txt").read_text(encoding="utf-8")  # the policy reached the worker
    header = json.loads((out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()[0])
    settings = header["randomizer"]
    assert settings["policy"]["labels"] == {"NUMERO_TELEFONO": "mask"} and settings["policy"]["recall"] == "keep"
    assert settings["options"]["keep_relatives"] is False and "key_env" not in settings
    bad = inputs / "bad.yml"
    bad.write_text("recal: mask\n", encoding="utf-8")
    result = invoke([*args, "--policy", str(bad)])
    assert result.exit_code == 1 and "recal" in result.output
    result = invoke([*args, "--recall-threshold", "0.3"])  # the pipeline has no phi_recall
    assert result.exit_code == 1 and "phi_recall" in result.output
