"""scripts/run_parallel.py runs commands side by side and fails when any of them fails."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run_parallel.py"


def _run(tmp_path: Path, *commands: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--logs", str(tmp_path / "logs"), *commands],
        capture_output=True,
        text=True,
        check=False,
    )


def test_all_succeed_and_logs_are_written(tmp_path: Path) -> None:
    result = _run(tmp_path, "python -c 'print(\"one\")'", "python -c 'print(\"two\")'")
    assert result.returncode == 0
    assert (tmp_path / "logs" / "job0.log").read_text().strip() == "one"
    assert (tmp_path / "logs" / "job1.log").read_text().strip() == "two"


def test_one_failure_fails_the_whole_run(tmp_path: Path) -> None:
    result = _run(tmp_path, "python -c 'import time; time.sleep(1)'", "python -c 'import sys; sys.exit(3)'")
    assert result.returncode == 1
    assert "job1 ended with exit code 3" in result.stderr
    assert "job0 ended with exit code 0" in result.stderr


def test_a_log_is_named_after_the_output_folder(tmp_path: Path) -> None:
    command = "python -c 'import sys; print(sys.argv[2])' --output training/deid_cnn"
    result = _run(tmp_path, command, "python -c 'print(1)'")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "logs" / "deid_cnn.log").read_text().strip() == "training/deid_cnn"
    assert (tmp_path / "logs" / "job1.log").read_text().strip() == "1"
