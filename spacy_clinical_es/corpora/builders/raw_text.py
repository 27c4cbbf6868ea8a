"""Raw clinical text of every corpus, each distinct document once: the input of pretraining (issue 17).

Reads every ``.txt`` file of the corpora in the data directory (:data:`RAW_CORPORA`): MEDDOCAN, MedProcNER,
DisTEMIST, SympTEMIST, CodiEsp and CANTEMIST documents, and NUBes sentences (one text per non-empty line: NUBes
files hold shuffled sentences). The same clinical case is shipped by several corpora (and by several sub-task
folders of one corpus), so texts are deduplicated by the SHA-256 of their whitespace-normalised content; the
first occurrence (corpora in :data:`RAW_CORPORA` order, files in sorted order) is kept. Only the labels are
ignored: the text of every split here is read (the withheld documents are not in the data directory).

Outputs in ``output_dir``:

* ``texts.jsonl``: ``{"text": …}`` per distinct text (``spacy pretrain``'s raw-text format);
* ``texts.txt``: the same texts, one per line, inner newlines as spaces (floret's input);
* ``stats.json``: per corpus files, texts read, texts kept, duplicates removed, words kept; totals; the licences;
* ``LICENSE`` + ``NOTICE`` (NUBes'): with NUBes text included, what is trained on these files is derived from a
  CC BY-SA 3.0 ES corpus.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ...util import PathLike
from ..paths import corpus_dir
from ..report import ConversionReport
from .common import ensure_dir, write_json

logger = logging.getLogger(__name__)

#: Corpora read, in priority order (the first copy of a shared text is attributed to the first corpus).
RAW_CORPORA = ("meddocan", "medprocner", "distemist", "symptemist", "codiesp", "cantemist", "nubes")
#: Corpora whose ``.txt`` files hold one sentence per line rather than one document.
SENTENCE_CORPORA = ("nubes",)
LICENCES = {name: "CC BY 4.0" for name in RAW_CORPORA} | {"nubes": "CC BY-SA 3.0 ES"}

_WS = re.compile(r"\s+")


def content_hash(text: str) -> str:
    """SHA-256 of ``text`` with whitespace runs collapsed and ends stripped (the deduplication key)."""
    return hashlib.sha256(_WS.sub(" ", text).strip().encode("utf-8")).hexdigest()


def iter_texts(folder: Path, *, sentences: bool) -> Iterator[tuple[Path, str]]:
    """``(file, text)`` of every ``.txt`` under ``folder`` in sorted order; one per line with ``sentences``."""
    for path in sorted(folder.rglob("*.txt")):
        content = path.read_text(encoding="utf-8")
        if sentences:
            for line in content.splitlines():
                if line.strip():
                    yield path, line.strip()
        elif content.strip():
            yield path, content


def build_raw_text(
    output_dir: PathLike,
    data_dir: PathLike | None = None,
    *,
    report: ConversionReport | None = None,
    corpora: Sequence[str] = RAW_CORPORA,
) -> dict[str, Any]:
    """Write ``texts.jsonl``, ``texts.txt``, ``stats.json`` (and NUBes' licence files) to ``output_dir``."""
    out = ensure_dir(output_dir)
    report = report if report is not None else ConversionReport()
    seen: set[str] = set()
    per_corpus: dict[str, dict[str, int]] = {}
    with (out / "texts.jsonl").open("w", encoding="utf-8") as jsonl, (out / "texts.txt").open(
        "w", encoding="utf-8"
    ) as plain:
        for name in corpora:
            counts = {"files": 0, "texts": 0, "kept": 0, "duplicates": 0, "words": 0}
            files: set[Path] = set()
            for path, text in iter_texts(corpus_dir(name, data_dir), sentences=name in SENTENCE_CORPORA):
                files.add(path)
                counts["texts"] += 1
                key = content_hash(text)
                if key in seen:
                    counts["duplicates"] += 1
                    continue
                seen.add(key)
                counts["kept"] += 1
                counts["words"] += len(text.split())
                jsonl.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
                plain.write(_WS.sub(" ", text).strip() + "\n")
            counts["files"] = len(files)
            report.add_converted(name, "texts", counts["kept"])
            per_corpus[name] = counts
            logger.info("raw text %s: %d files, %d texts, %d kept, %d duplicates, %d words",
                        name, counts["files"], counts["texts"], counts["kept"], counts["duplicates"], counts["words"])
    totals = {key: sum(c[key] for c in per_corpus.values()) for key in ("files", "texts", "kept", "duplicates", "words")}
    licences = sorted({LICENCES.get(name, "see the corpus LICENSE") for name in corpora})
    stats: dict[str, Any] = {
        "corpora": per_corpus,
        "total": totals,
        "deduplication": "SHA-256 of the whitespace-normalised text; first occurrence kept",
        "licences": licences,
    }
    if "nubes" in corpora:
        from .nubes import write_licence_files

        write_licence_files(out, data_dir)
        stats["notice"] = "includes NUBes sentences: what is trained on these files is derived from CC BY-SA 3.0 ES text"
    write_json(out / "stats.json", stats)
    return stats
