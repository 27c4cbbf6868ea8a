"""train-vectors: the clinical tokenizer's tokens, floret in floret mode, loadable by spacy init vectors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("floret")

from spacy_clinical_es.pretraining.vectors import (
    FloretSettings,
    PretrainingError,
    train_floret,
)


def test_floret_vectors_from_raw_text_load_in_spacy(tmp_path: Path) -> None:
    text = tmp_path / "texts.txt"
    text.write_text("\n".join(["Varón de 38años con HTA y dolor abdominal.", "Se realiza TAC toracoabdominal."] * 40)
                    + "\n", encoding="utf-8")
    settings = FloretSettings(dim=8, bucket=200, epoch=1, min_count=1, threads=1)
    result = train_floret(text, tmp_path / "vec", settings)
    assert result["lines"] == 80 and result["tokens"] == 40 * 9 + 40 * 5  # "abdominal." -> "abdominal" "."
    header = (tmp_path / "vec" / "vectors.floret").read_text(encoding="utf-8").splitlines()[0].split()
    assert header[:2] == ["200", "8"]  # hash rows x dimension
    assert not (tmp_path / "vec" / "tokens.txt").exists()
    out = subprocess.run([sys.executable, "-m", "spacy", "init", "vectors", "es", str(tmp_path / "vec" / "vectors.floret"),
                          str(tmp_path / "model"), "--mode", "floret"], check=False, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import spacy

    nlp = spacy.load(tmp_path / "model")
    assert nlp.vocab.vectors.mode == "floret" and nlp.vocab["palabranueva"].has_vector  # subwords: unseen words too
    with pytest.raises(PretrainingError, match="convert raw-text"):
        train_floret(tmp_path / "missing.txt", tmp_path / "x", settings)


def test_cli_writes_the_report(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from spacy_clinical_es.cli import app

    text = tmp_path / "texts.txt"
    text.write_text("Dolor torácico opresivo.\n" * 30, encoding="utf-8")
    result = CliRunner().invoke(app, ["train-vectors", "--text", str(text), "--output", str(tmp_path / "v"),
                                      "--dim", "4", "--bucket", "50", "--epoch", "1", "--threads", "1",
                                      "--metrics", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert report["settings"]["dim"] == 4 and report["lines"] == 30 and "command" in report
