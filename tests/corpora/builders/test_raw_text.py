"""convert raw-text: every corpus' text once (by content hash), NUBes one text per sentence, licences written."""
from __future__ import annotations

import json
from pathlib import Path

from spacy_clinical_es.corpora.builders.raw_text import (
    RAW_CORPORA,
    build_raw_text,
    content_hash,
)
from spacy_clinical_es.corpora.paths import CORPUS_PATHS

CASE = "Varón de 38 años con dolor abdominal.\nSe realiza TAC."


def write_data(root: Path) -> None:
    for name in RAW_CORPORA:
        folder = root / CORPUS_PATHS[name]
        folder.mkdir(parents=True, exist_ok=True)
    (root / "meddocan" / "a.txt").write_text(CASE, encoding="utf-8")
    (root / "medprocner" / "sub1").mkdir()
    (root / "medprocner" / "sub1" / "a.txt").write_text(CASE.replace("\n", "  \n"), encoding="utf-8")  # same text
    (root / "medprocner" / "b.txt").write_text("Otra nota clínica.", encoding="utf-8")
    (root / "distemist" / "empty.txt").write_text("  \n", encoding="utf-8")
    (root / "nubes" / "LICENSE").write_text("CC BY-SA 3.0 ES\n", encoding="utf-8")
    (root / "nubes" / "s.txt").write_text("No fiebre .\n\nOtra nota clínica.\nNo fiebre .\n", encoding="utf-8")


def test_every_text_once_with_counts_and_licences(tmp_path: Path) -> None:
    write_data(tmp_path / "data")
    stats = build_raw_text(tmp_path / "out", tmp_path / "data")
    texts = [json.loads(line)["text"] for line in (tmp_path / "out" / "texts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert texts == [CASE, "Otra nota clínica.", "No fiebre ."]
    plain = (tmp_path / "out" / "texts.txt").read_text(encoding="utf-8").splitlines()
    assert plain[0] == "Varón de 38 años con dolor abdominal. Se realiza TAC."  # one line per text
    assert stats["corpora"]["medprocner"] == {"files": 2, "texts": 2, "kept": 1, "duplicates": 1, "words": 3}
    assert stats["corpora"]["nubes"] == {"files": 1, "texts": 3, "kept": 1, "duplicates": 2, "words": 3}
    assert stats["total"]["kept"] == 3 and stats["total"]["duplicates"] == 3
    assert stats["licences"] == ["CC BY 4.0", "CC BY-SA 3.0 ES"]
    assert (tmp_path / "out" / "LICENSE").read_text(encoding="utf-8") == "CC BY-SA 3.0 ES\n"
    assert "NUBes" in (tmp_path / "out" / "NOTICE").read_text(encoding="utf-8")
    assert content_hash("a  b\n") == content_hash(" a b")
