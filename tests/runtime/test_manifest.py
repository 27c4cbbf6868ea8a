"""RunJournal: the manifest/resume/failures journal both file runners (deid, annotate) use."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spacy_clinical_es.runtime.io import RunnerError
from spacy_clinical_es.runtime.manifest import (
    EXIT_FAILED,
    EXIT_LEAKS,
    FAILURES_NAME,
    MANIFEST_NAME,
    RunJournal,
    exit_code,
    json_line,
    model_fingerprint,
    prepare_out_dir,
)


def _first_run(out: Path) -> RunJournal:
    prepare_out_dir(out, names=("table.jsonl",))
    journal = RunJournal(out, "s1", end_keys=("table_end",), settings="model, format")
    assert journal.open(False, {"extra": 1}) is False
    table = journal.open_journal("table.jsonl", "table_end")
    journal.open_failures()
    table.write(b'{"a": 1}\n')
    table.flush()
    journal.record({"key": "a", "id": "a", "input_sha256": "h-a", "status": "done"})
    journal.fail("b", {"line": 2}, "empty", "no text")
    journal.record({"key": "b", "id": "b", "input_sha256": "h-b", "status": "failed"})
    journal.close(fsync=False)
    return journal


def test_manifest_format_and_resume_cuts_what_came_after_the_last_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _first_run(out)
    lines = [json.loads(line) for line in (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"manifest": 1, "settings_sha256": "s1", "extra": 1}
    assert list(lines[1]) == ["key", "id", "input_sha256", "status", "table_end", "failures_end"]
    assert lines[1]["table_end"] == 9 and lines[1]["failures_end"] == 0
    assert lines[2]["failures_end"] == (out / FAILURES_NAME).stat().st_size > 0
    assert json.loads((out / FAILURES_NAME).read_text(encoding="utf-8")) == {
        "id": "b", "line": 2, "reason": "empty", "detail": "no text",
    }
    # a killed run: more table and failure bytes, and a half-written manifest line
    with (out / "table.jsonl").open("ab") as handle:
        handle.write(b'{"partial": ')
    with (out / FAILURES_NAME).open("ab") as handle:
        handle.write(b'{"id": "c"')
    with (out / MANIFEST_NAME).open("ab") as handle:
        handle.write(b'{"key": "c", "id"')
    journal = RunJournal(out, "s1", end_keys=("table_end",))
    assert journal.open(True) is True
    journal.open_journal("table.jsonl", "table_end")
    journal.open_failures()
    journal.close(fsync=False)
    assert (out / "table.jsonl").read_bytes() == b'{"a": 1}\n'
    assert (out / FAILURES_NAME).stat().st_size == lines[2]["failures_end"]
    assert (out / MANIFEST_NAME).read_bytes().endswith(b"}\n")
    assert journal.matching("a", "h-a")["status"] == "done"  # type: ignore[index]
    assert journal.matching("a", "changed") is None and journal.matching("zz", "h-a") is None


def test_other_settings_are_refused_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _first_run(out)
    journal = RunJournal(out, "s2", end_keys=("table_end",), settings="model, format")
    with pytest.raises(RunnerError, match=r"other settings \(model, format\)"):
        journal.open(True)


def test_without_resume_everything_starts_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _first_run(out)
    journal = RunJournal(out, "s2", end_keys=("table_end",))
    assert journal.open(False) is False
    journal.open_journal("table.jsonl", "table_end")
    journal.open_failures()
    journal.record({"key": "x"})
    journal.close(fsync=False)
    assert (out / "table.jsonl").read_bytes() == b"" and (out / FAILURES_NAME).read_bytes() == b""
    lines = (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[1]) == {"key": "x", "table_end": 0, "failures_end": 0}


def test_symlinked_out_or_run_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(RunnerError, match="symlink"):
        prepare_out_dir(tmp_path / "link")
    (real / MANIFEST_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RunnerError, match="symlink"):
        prepare_out_dir(real)


def test_exit_codes_json_line_and_fingerprint(tmp_path: Path) -> None:
    assert (exit_code(0), exit_code(2), exit_code(0, 1), exit_code(1, 1)) == (0, EXIT_FAILED, EXIT_LEAKS, EXIT_FAILED)
    assert json_line({"t": "é"}) == '{"t": "é"}\n'.encode()
    assert json_line({"t": "\ud800"}) == b'{"t": "\\ud800"}\n'  # a lone surrogate cannot be UTF-8: escaped
    assert model_fingerprint(tmp_path / "none", name_fallback=True) == str(tmp_path / "none")
    assert model_fingerprint(tmp_path / "none") != str(tmp_path / "none")
    (tmp_path / "config.cfg").write_text("[nlp]\n", encoding="utf-8")
    assert model_fingerprint(tmp_path, name_fallback=True) == model_fingerprint(tmp_path)
