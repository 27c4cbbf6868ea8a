"""Security review of the deid runner (issue 20): bad files, byte fidelity, permissions, symlinks, hashed ids."""
from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from spacy_clinical_es.runtime.batch import RunOptions, run_deid
from spacy_clinical_es.runtime.io import RunnerError
from tests.runtime.test_batch_helpers import (
    KEY,
    PHI,
    TEXT_A,
    TEXT_B,
    build_model,
    cli,
    env,
    make_nlp,
    note,
)


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def nlp():
    return make_nlp()


def test_mixed_folder_with_two_processes_finishes_and_names_the_bad_files(tmp_path) -> None:
    """50 good notes + a latin-1, an empty and a 2 MB file, --n-process 2: 50 outputs, 3 failures, exit 3, no traceback."""
    model = build_model(tmp_path / "model")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(50):
        (folder / f"good_{i:02d}.txt").write_text(note(i), encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Paciente varón, Ernesto Rivera, 45 años.\n".encode("latin-1"))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "big.txt").write_text(note(1) * (2_000_000 // len(note(1)) + 1), encoding="utf-8")
    args = [str(folder), "-m", str(model), "-o", str(tmp_path / "out"), "--n-process", "2", "--max-chars", "1000000"]
    done = subprocess.run(
        cli(*args, "--encoding", "utf-8"), env=env(SPACY_CLINICAL_ES_DEID_KEY=KEY), capture_output=True, check=False, timeout=300
    )
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 3, stderr[-2000:]
    assert "Traceback" not in stderr
    outputs = sorted(p.name for p in (tmp_path / "out").glob("*.txt"))
    assert outputs == [f"good_{i:02d}.txt" for i in range(50)]
    failures = {f["id"]: f for f in lines(tmp_path / "out" / "failures.jsonl")}
    assert {k: f["reason"] for k, f in failures.items()} == {
        "big.txt": "too_long",
        "empty.txt": "empty",
        "latin1.txt": "decode_error",
    }
    assert "at byte 12" in failures["latin1.txt"]["detail"]
    assert "failed (decode_error): 1" in stdout and "De-identified 50 documents" in stdout
    assert not any(phi in stdout + stderr + json.dumps(failures) for phi in PHI)


def test_lone_surrogate_binary_and_unreadable_are_failures_not_crashes(tmp_path, nlp, monkeypatch) -> None:
    source = tmp_path / "notes.jsonl"
    records = ['{"id": "bad", "text": "Ernesto \\ud800 Rivera"}', json.dumps({"id": "ok", "text": TEXT_A})]
    source.write_text("\n".join(records) + "\n", encoding="utf-8")
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)) * 8)
    locked = tmp_path / "locked.txt"
    locked.write_text(TEXT_A, encoding="utf-8")
    read_bytes = Path.read_bytes

    def unreadable(path: Path) -> bytes:  # as a file whose permissions changed after it was listed
        if path == locked:
            raise PermissionError(13, "Permission denied")
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    summary = run_deid([source, tmp_path / "bin.txt", locked], nlp, tmp_path / "out", RunOptions(key=KEY, progress=False))
    reasons = {f["id"]: f["reason"] for f in lines(tmp_path / "out" / "failures.jsonl")}
    assert reasons == {"bad": "invalid_code_point", "bin.txt": "binary", "locked.txt": "read_error"}
    assert (summary.done, summary.failed) == (1, 3)


def test_crlf_and_bom_are_kept_and_audit_offsets_point_into_the_file(tmp_path, nlp) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    crlf = ("\ufeff" + TEXT_A.replace("\n", "\r\n") + TEXT_B.replace("\n", "\r\n")).encode("utf-8")
    (folder / "crlf.txt").write_bytes(crlf)
    (folder / "lf.txt").write_bytes((TEXT_A + TEXT_B).encode("utf-8"))
    run_deid([folder], nlp, tmp_path / "out", RunOptions(key=KEY, progress=False, keep_originals=True))
    out = (tmp_path / "out" / "crlf.txt").read_bytes()
    assert out.startswith(b"\xef\xbb\xbf") and out.count(b"\r\n") == 2 and out.count(b"\n") == 2
    lf = (tmp_path / "out" / "lf.txt").read_bytes()
    assert b"\r" not in lf and lf.count(b"\n") == 2
    for record in lines(tmp_path / "out" / "deid_audit.jsonl"):
        on_disk = (folder / record["id"]).read_bytes().decode("utf-8")
        for row in record["spans"]:
            assert on_disk[row["start"] : row["end"]] == row["original"]


def test_permissions_private_audit_and_umask(tmp_path, nlp) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text(TEXT_A, encoding="utf-8")
    options = RunOptions(key=KEY, progress=False, keep_originals=True, umask=0o022)
    run_deid([folder], nlp, tmp_path / "open", options)
    assert mode_of(tmp_path / "open" / "deid_audit.jsonl") == 0o600  # originals: always private
    assert mode_of(tmp_path / "open" / "sub" / "a.txt") == 0o644
    run_deid([folder], nlp, tmp_path / "closed", RunOptions(key=KEY, progress=False))
    for path in ("sub/a.txt", "deid_audit.jsonl", "manifest.jsonl", "failures.jsonl"):
        assert mode_of(tmp_path / "closed" / path) == 0o600, path
    assert mode_of(tmp_path / "closed" / "sub") == 0o700


def test_symlinks_in_out_are_refused_and_input_symlinks_skipped_and_counted(tmp_path, nlp) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (folder / "sub" / "b.txt").write_text(TEXT_B, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "c.txt").write_text(TEXT_B, encoding="utf-8")
    os.symlink(elsewhere / "c.txt", folder / "link.txt")
    os.symlink(elsewhere, folder / "linked_dir")
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch", encoding="utf-8")
    os.symlink(victim, out / "a.txt")
    os.symlink(elsewhere, out / "sub")
    summary = run_deid([folder], nlp, out, RunOptions(key=KEY, progress=False))
    assert victim.read_text(encoding="utf-8") == "do not touch"
    assert not (elsewhere / "b.txt").exists()
    assert summary.input_symlinks_skipped == 2 and (summary.done, summary.failed) == (0, 2)
    assert {f["id"]: f["reason"] for f in lines(out / "failures.jsonl")} == {
        "a.txt": "output_symlink",
        "sub/b.txt": "output_symlink",
    }
    os.symlink(out, tmp_path / "out_link")
    with pytest.raises(RunnerError, match="symlink"):
        run_deid([folder], nlp, tmp_path / "out_link", RunOptions(key=KEY, progress=False))


def test_hash_ids_hide_names_and_ids_with_an_optional_private_map(tmp_path, nlp) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "NHC368503_rivera.txt").write_text(TEXT_A, encoding="utf-8")
    source = tmp_path / "export_368503.jsonl"
    source.write_text(json.dumps({"id": "NHC-368503", "text": TEXT_B}) + "\n", encoding="utf-8")
    id_map = tmp_path / "private" / "ids.jsonl"
    id_map.parent.mkdir()
    options = RunOptions(key=KEY, progress=False, hash_ids=True, id_map=id_map)
    summary = run_deid([folder, source], nlp, tmp_path / "out", options)
    assert summary.done == 2
    everything = b"".join(p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file())
    names = " ".join(p.name for p in (tmp_path / "out").rglob("*"))
    assert b"368503" not in everything and "368503" not in names and "rivera" not in names
    mapping = {row["id"]: row["hashed_id"] for row in lines(id_map)}
    assert set(mapping) == {"NHC368503_rivera.txt", "NHC-368503"}
    assert (tmp_path / "out" / f"{mapping['NHC368503_rivera.txt']}.txt").exists()
    assert mode_of(id_map) == 0o600
    with pytest.raises(RunnerError, match="needs a key"):
        run_deid([folder], nlp, tmp_path / "nokey", RunOptions(progress=False, hash_ids=True))


def test_latin1_exports_are_detected_or_read_with_encoding(tmp_path, nlp) -> None:
    text = "Paciente varón de 45 años, Ernesto Rivera, NHC: 368503. Exploración: consciente y orientado.\n"
    (tmp_path / "a.txt").write_bytes(text.encode("latin-1"))
    summary = run_deid([tmp_path / "a.txt"], nlp, tmp_path / "auto", RunOptions(key=KEY, progress=False))
    assert summary.done == 1
    out = (tmp_path / "auto" / "a.txt").read_text(encoding="utf-8")
    assert "varón" in out and "Exploración" in out and "368503" not in out
    summary = run_deid([tmp_path / "a.txt"], nlp, tmp_path / "given", RunOptions(key=KEY, progress=False, encoding="latin-1"))
    assert summary.done == 1 and (tmp_path / "given" / "a.txt").read_text(encoding="utf-8") == out
