"""Resumable runs: SIGKILL halfway, --resume, byte-identical to an uninterrupted run (issue 16, acceptance 1)."""
from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from spacy_clinical_es.runtime.batch import MANIFEST_NAME, RunOptions, run_deid
from spacy_clinical_es.runtime.io import TMP_PREFIX, RunnerError
from tests.runtime.test_batch_helpers import KEY, build_model, cli, env, make_nlp, note


def snapshot(out) -> dict[str, bytes]:
    """Every file of an output folder but the manifest (which records the run's history)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != MANIFEST_NAME}


def manifest_docs(out) -> int:
    path = out / MANIFEST_NAME
    if not path.exists():
        return 0
    return max(0, path.read_bytes().count(b"\n") - 1)  # minus the header


def test_sigkill_halfway_then_resume_is_byte_identical(tmp_path) -> None:
    model = build_model(tmp_path / "model")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(200):
        (folder / f"note_{i:03d}.txt").write_text(note(i, lines=10), encoding="utf-8")
    run_env = env(SPACY_CLINICAL_ES_DEID_KEY=KEY)
    reference = tmp_path / "reference"
    done = subprocess.run(cli(str(folder), "-m", str(model), "-o", str(reference)), env=run_env, capture_output=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    out = tmp_path / "out"
    proc = subprocess.Popen(cli(str(folder), "-m", str(model), "-o", str(out)), env=run_env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while manifest_docs(out) < 60 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    at_kill = manifest_docs(out)
    assert 60 <= at_kill < 200, f"the run was not killed halfway ({at_kill} documents done)"
    assert snapshot(out) != snapshot(reference)

    resumed = subprocess.run(
        cli(str(folder), "-m", str(model), "-o", str(out), "--resume"), env=run_env, capture_output=True, check=False, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    assert "skipped" in resumed.stdout.decode()
    skipped = int(resumed.stdout.decode().split("skipped ")[1].split()[0])
    assert at_kill - 1 <= skipped <= at_kill  # a document whose manifest line was cut is redone
    assert snapshot(out) == snapshot(reference)  # none missing, duplicated or partial; audit included
    assert not list(out.rglob(TMP_PREFIX + "*"))
    lines = (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    statuses = [json.loads(line).get("status") for line in lines[1:]]
    assert statuses.count("done") == 200 and len(statuses) == 200


def test_interrupted_jsonl_resumes_to_the_same_bytes(tmp_path, monkeypatch) -> None:
    """A JSONL output is journaled; a run stopped inside it resumes from its manifest, failures included."""
    model = make_nlp(("test_runner_interrupt",))
    records = [{"id": f"r{i}", "patient_id": f"P{i % 3}", "text": note(i)} for i in range(30)]
    records[17]["text"] = "STOP " + records[17]["text"]
    lines = [json.dumps(r) for r in records]
    lines[5] = '{"id": "r5", "text": 5}'  # a bad record before the stop
    source = tmp_path / "notes.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    options = RunOptions(key=KEY, progress=False, batch_size=4)
    reference = run_deid([source], model, tmp_path / "reference", options)
    assert (reference.done, reference.failed) == (29, 1)

    out = tmp_path / "out"
    monkeypatch.setenv("TEST_RUNNER_INTERRUPT", "1")
    with pytest.raises(KeyboardInterrupt):
        run_deid([source], model, out, options)
    monkeypatch.delenv("TEST_RUNNER_INTERRUPT")
    assert not (out / "notes.jsonl").exists() and (out / ".notes.jsonl.deid-partial").exists()
    resumed = run_deid([source], model, out, RunOptions(key=KEY, progress=False, batch_size=4, resume=True))
    assert resumed.skipped == 16 and resumed.done + resumed.skipped + resumed.failed == 30
    assert snapshot(out) == snapshot(tmp_path / "reference")

    # a second --resume does nothing; changed settings are refused; a changed input is redone
    again = run_deid([source], model, out, RunOptions(key=KEY, progress=False, resume=True))
    assert (again.skipped, again.done) == (30, 0) and snapshot(out) == snapshot(tmp_path / "reference")
    with pytest.raises(RunnerError, match="other settings"):
        # (a fresh pipeline: run_deid configures the Language it is given in place)
        run_deid([source], make_nlp(("test_runner_interrupt",)), out, RunOptions(key=KEY, progress=False, resume=True, mode="mask"))
    lines[29] = json.dumps({"id": "r29", "text": note(99)})
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    changed = run_deid([source], model, out, RunOptions(key=KEY, progress=False, resume=True))
    assert (changed.skipped, changed.done) == (29, 1)
    output = [json.loads(line) for line in (out / "notes.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in output] == [f"r{i}" for i in range(30) if i != 5]
