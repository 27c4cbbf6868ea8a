"""deidentify_batch (the per-batch function of every shell) and run_deid on a training-free pipeline."""
from __future__ import annotations

import datetime as dt
import faulthandler
import itertools
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.runtime.batch import (
    EXIT_FAILED,
    EXIT_LEAKS,
    DeidRecord,
    RunOptions,
    deidentify_batch,
    prepare_pipeline,
    run_deid,
    split_pieces,
)
from spacy_clinical_es.runtime.io import RunnerError
from tests.runtime.test_batch_helpers import KEY, PHI, TEXT_A, TEXT_B, make_nlp, note


@pytest.fixture(scope="module")
def nlp():
    pipeline, _ = prepare_pipeline(make_nlp(("test_runner_raise_on_boom",)), mode=None, seed=None, key=KEY)
    return pipeline


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\r."), max_size=400), st.integers(min_value=1, max_value=60))
def test_split_pieces_cover_the_text(text, size) -> None:
    pieces = split_pieces(text, size)
    assert "".join(text[s:e] for s, e in pieces) == text
    assert all(0 < e - s <= size for s, e in pieces) or text == ""
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))


def test_split_pieces_prefers_paragraphs_then_lines() -> None:
    text = "uno dos\ntres\n\ncuatro cinco\nseis"
    assert split_pieces(text, 16)[0] == (0, 14)  # after the blank line, not the later line break
    assert split_pieces("aaaa\nbbbbbbbb cc", 10) == [(0, 5), (5, 14), (14, 16)]  # line break, then space
    assert split_pieces("ab\r\ncd", 3) == [(0, 2), (2, 4), (4, 6)]  # a hard cut never splits CRLF


def test_batch_reports_each_bad_record_without_text(nlp) -> None:
    records = [
        DeidRecord("good", TEXT_A),
        DeidRecord("empty", "  \n"),
        DeidRecord("surrogate", "Ernesto Rivera \ud800 NHC: 368503"),
        DeidRecord("nul", "Ernesto\x00Rivera"),
        DeidRecord("long", TEXT_A * 10),
        DeidRecord("boom", "BOOM Ernesto Rivera"),
        DeidRecord("good2", TEXT_B),
    ]
    results = deidentify_batch(nlp, records, max_chars=300, piece_chars=0)
    assert [r.id for r in results] == [r.id for r in records]
    assert [r.reason for r in results] == [None, "empty", "invalid_code_point", "binary", "too_long", "pipeline_error", None]
    assert "offset 15" in results[2].detail
    for result in results:
        assert not any(phi in (result.detail or "") for phi in PHI)
    assert results[5].detail == "the pipeline raised ValueError"
    assert not any(phi in results[0].text for phi in PHI) and results[6].text.endswith("\n")


def test_long_documents_in_pieces_map_offsets_back(nlp) -> None:
    text = "\n\n".join(note(i, lines=3) for i in range(60))
    (whole,) = deidentify_batch(nlp, [DeidRecord("d", text)], keep_originals=True, piece_chars=0)
    (cut,) = deidentify_batch(nlp, [DeidRecord("d", text)], keep_originals=True, piece_chars=700)
    assert cut.ok and cut.pieces > 10 and cut.audit["pieces"] == cut.pieces
    assert cut.audit["n_spans"] == whole.audit["n_spans"]
    for row in cut.audit["spans"]:
        assert text[row["start"] : row["end"]] == row["original"]
        assert cut.text[row["out_start"] : row["out_end"]] == row["replacement"]
    assert cut.text.count("\n") == text.count("\n")
    # one date shift for the whole document, whatever piece a date is in
    shifted = {row["replacement"] for row in cut.audit["spans"] if row["original"] == "01/03/1946"}
    assert len(shifted) == 1


def _dates(text: str) -> list[dt.date]:
    return [dt.date(int(y), int(m), int(d)) for d, m, y in re.findall(r"(\d\d)/(\d\d)/(\d{4})", text)]


def test_patient_id_keeps_date_order_and_interval(nlp) -> None:
    first = "Ingreso: 01/03/2020. Ernesto Rivera.\n"
    second = "Revisión: 15/03/2020. Ernesto Rivera.\n"
    results = deidentify_batch(nlp, [DeidRecord("n1", first, "P-1"), DeidRecord("n2", second, "P-1")])
    (d1,), (d2,) = _dates(results[0].text), _dates(results[1].text)
    assert d1 != dt.date(2020, 3, 1)
    assert (d2 - d1).days == 14


def test_run_counts_leaks_and_strict_withholds(tmp_path) -> None:
    model = make_nlp(("deid_randomizer", "test_runner_fake_leak"))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT_A, encoding="utf-8")
    (folder / "b.txt").write_text("LEAK " + TEXT_B, encoding="utf-8")
    summary = run_deid([folder], model, tmp_path / "out", RunOptions(key=KEY, progress=False))
    assert (summary.done, summary.leaky_documents, summary.exit_code) == (2, 1, EXIT_LEAKS)
    summary = run_deid([folder], model, tmp_path / "strict", RunOptions(key=KEY, progress=False, strict=True))
    assert (summary.done, summary.failed, summary.exit_code) == (1, 1, EXIT_FAILED)
    assert not (tmp_path / "strict" / "b.txt").exists()
    (failure,) = lines(tmp_path / "strict" / "failures.jsonl")
    assert failure["id"] == "b.txt" and failure["reason"] == "unresolved_leaks"


def test_workers_report_failures_and_deaths_without_hanging(tmp_path) -> None:
    """--n-process 2: a document that raises in a worker, and one that kills its worker, are named; the rest written."""
    faulthandler.dump_traceback_later(300, exit=True)  # a hang fails the test instead of blocking the suite
    try:
        model = make_nlp(("test_runner_raise_on_boom", "test_runner_exit_on_crash"))
        folder = tmp_path / "in"
        folder.mkdir()
        for i in range(12):
            (folder / f"n{i:02d}.txt").write_text(note(i), encoding="utf-8")
        (folder / "n03.txt").write_text("BOOM " + note(3), encoding="utf-8")
        (folder / "n07.txt").write_text("CRASH " + note(7), encoding="utf-8")
        table = tmp_path / "notes.jsonl"
        table.write_text("".join(json.dumps({"id": f"j{i}", "patient_id": "P", "text": note(i)}) + "\n" for i in range(7)))
        options = RunOptions(key=KEY, n_process=2, batch_size=3, progress=False)
        summary = run_deid([folder, table], model, tmp_path / "out", options)
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert (summary.done, summary.failed) == (17, 2)
    assert dict(summary.failures) == {"pipeline_error": 1, "worker_died": 1}
    failures = {f["id"]: f["reason"] for f in lines(tmp_path / "out" / "failures.jsonl")}
    assert failures == {"n03.txt": "pipeline_error", "n07.txt": "worker_died"}
    written = sorted(p.name for p in (tmp_path / "out").glob("n*.txt"))
    assert written == [f"n{i:02d}.txt" for i in range(12) if i not in (3, 7)]
    # same bytes as one process (without the component that would end this process)
    in_process = make_nlp(("test_runner_raise_on_boom",))
    single = run_deid([folder, table], in_process, tmp_path / "one", RunOptions(key=KEY, batch_size=3, progress=False))
    assert single.done == 18
    assert (tmp_path / "out" / "notes.jsonl").read_bytes() == (tmp_path / "one" / "notes.jsonl").read_bytes()
    for name in written:
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_jsonl_and_csv_with_patient_and_kept_fields(tmp_path) -> None:
    model = make_nlp()
    rows = [
        {"id": "n1", "patient_id": "P-9", "text": "Ingreso: 01/03/2020. Ernesto Rivera.", "servicio": "UCI", "nhc": "368503"},
        {"id": "n2", "patient_id": "P-9", "text": "Alta: 15/03/2020. Ernesto Rivera.", "servicio": "UCI", "nhc": "368503"},
    ]
    (tmp_path / "notes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import csv

    with (tmp_path / "notes.csv").open("w", encoding="cp1252", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([{**r, "text": r["text"] + "\r\nVarón, 45 años."} for r in rows])
    options = RunOptions(key=KEY, keep_fields=("servicio",), progress=False)
    summary = run_deid([tmp_path / "notes.jsonl", tmp_path / "notes.csv"], model, tmp_path / "out", options)
    assert (summary.done, summary.failed) == (4, 0)
    out = lines(tmp_path / "out" / "notes.jsonl")
    assert [set(r) for r in out] == [{"id", "text", "servicio"}] * 2
    (d1,), (d2,) = _dates(out[0]["text"]), _dates(out[1]["text"])
    assert (d2 - d1).days == 14
    with (tmp_path / "out" / "notes.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["id"] for r in table] == ["n1", "n2"] and list(table[0]) == ["id", "text", "servicio"]
    assert table[0]["text"].endswith("\r\nVarón, 45 años.")  # cp1252 detected, CRLF inside the field kept
    assert not any(phi in json.dumps(out) + json.dumps(table) for phi in PHI)
    audit = lines(tmp_path / "out" / "deid_audit.jsonl")
    assert [a.get("encoding") for a in audit] == [None, None, "cp1252", "cp1252"]


def test_workers_that_cannot_start_stop_the_run_with_an_error(tmp_path) -> None:
    """A pipeline that loads in the parent but not in a fresh worker: a clear error at once, not a hang."""
    code = tmp_path / "worker_only_failure.py"
    code.write_text(
        "import multiprocessing\nif multiprocessing.parent_process() is not None:\n    raise RuntimeError('no')\n",
        encoding="utf-8",
    )
    (tmp_path / "a.txt").write_text(TEXT_A, encoding="utf-8")
    options = RunOptions(key=KEY, n_process=2, progress=False, code=(code,))
    faulthandler.dump_traceback_later(300, exit=True)
    try:
        with pytest.raises(RunnerError, match="stop before finishing any document"):
            run_deid([tmp_path / "a.txt"], make_nlp(), tmp_path / "out", options)
    finally:
        faulthandler.cancel_dump_traceback_later()


def test_chunks_bound_the_characters_in_memory() -> None:
    from spacy_clinical_es.runtime.batch import _chunks, _Job

    jobs = [_Job(0, s, s + 100, None) for s in range(0, 1000, 100)] + [_Job(1, 0, 5, None), _Job(2, 0, 5, None)]
    chunks = list(_chunks(jobs, 32, 250))
    assert [j for c in chunks for j in c] == jobs
    assert all(sum(j.end - j.start for j in c) <= 250 for c in chunks)
    assert [len(c) for c in _chunks(jobs[-2:] * 5, 4, 0)] == [4, 4, 2]
