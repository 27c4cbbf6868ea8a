"""Security review of the deid runner (issue 20): the key stays off argv and short keys are refused; tracebacks hold no PHI."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from typer.testing import CliRunner

from spacy_clinical_es.cli import app
from tests.runtime.test_batch_helpers import (
    KEY,
    PHI,
    TEXT_A,
    build_model,
    cli,
    env,
    note,
)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_worker_command_lines_do_not_hold_the_key(tmp_path) -> None:
    """--key on the command line warns; the spawned workers' /proc/<pid>/cmdline never holds it."""
    model = build_model(tmp_path / "model")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(200):
        (folder / f"n{i:03d}.txt").write_text(note(i, lines=5), encoding="utf-8")
    args = cli(str(folder), "-m", str(model), "-o", str(tmp_path / "out"), "--n-process", "2", "--key", KEY)
    proc = subprocess.Popen(args, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: dict[int, str] = {}
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        for child in children(proc.pid):
            line = cmdline(child)
            if line:
                seen[child] = line
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    workers = [line for line in seen.values() if "spawn_main" in line]
    assert len(workers) >= 2, seen
    assert not any(KEY in line for line in seen.values())
    assert "visible to other local users" in stderr.decode()
    assert KEY not in stdout.decode() + stderr.decode()


def invoke(args: list[str], environment: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["deid", *args], env=environment or {"SPACY_CLINICAL_ES_DEID_KEY": ""})


def test_key_file_must_be_private_and_keys_long_enough(tmp_path) -> None:
    model = build_model(tmp_path / "model")
    (tmp_path / "a.txt").write_text(TEXT_A, encoding="utf-8")
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    base = [str(tmp_path / "a.txt"), "-m", str(model), "-o", str(tmp_path / "out")]
    os.chmod(key_file, 0o644)
    result = invoke([*base, "--key-file", str(key_file)])
    assert result.exit_code == 1 and "chmod 600" in result.output
    os.chmod(key_file, 0o600)
    result = invoke([*base, "--key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    by_file = (tmp_path / "out" / "a.txt").read_bytes()
    result = invoke([*base[:-1], str(tmp_path / "env")], {"SPACY_CLINICAL_ES_DEID_KEY": KEY})
    assert result.exit_code == 0 and (tmp_path / "env" / "a.txt").read_bytes() == by_file  # same key, same output
    result = invoke(base, {"SPACY_CLINICAL_ES_DEID_KEY": "x"})
    assert result.exit_code == 1 and "has 1 characters; give at least 16" in result.output
    key_file.write_text("short\n", encoding="utf-8")
    result = invoke([*base, "--key-file", str(key_file)])
    assert result.exit_code == 1 and "at least 16" in result.output and "short" not in result.output


def test_forced_error_prints_no_phi(tmp_path) -> None:
    """An unexpected error while a note is in memory: the traceback shows code, never locals (typer show_locals off)."""
    model = build_model(tmp_path / "model")
    phi = "Zacarías Montenegro"
    (tmp_path / "a.txt").write_text(f"Nombre: {phi}. " + TEXT_A, encoding="utf-8")
    code = tmp_path / "break_writes.py"
    code.write_text(
        "import spacy_clinical_es.runtime.batch as batch\n"
        "def broken(path, data, **kwargs):\n"
        "    raise RuntimeError('disk on fire')\n"
        "batch.atomic_write = broken\n",
        encoding="utf-8",
    )
    args = cli(str(tmp_path / "a.txt"), "-m", str(model), "-o", str(tmp_path / "out"), "--code", str(code))
    done = subprocess.run(args, env=env(SPACY_CLINICAL_ES_DEID_KEY=KEY, COLUMNS="200"), capture_output=True, check=False, timeout=300)
    stderr = done.stderr.decode()
    assert done.returncode != 0
    assert "disk on fire" in stderr  # the error itself is reported
    assert "Zacarías" not in stderr and "Montenegro" not in stderr
    assert not any(p in stderr for p in PHI) and KEY not in stderr
