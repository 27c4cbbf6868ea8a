"""``spacy-clinical-es convert``: build the training corpora from the data directory.

``python -m spacy_clinical_es convert {deid|imaging|concepts|linking|discontinuous|nubes} --output DIR [--data-dir PATH]``
writes the corpus files, ``stats.json`` and ``report.json`` to DIR and prints
the statistics tables.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..corpora.paths import corpus_dir, resolve_data_dir
from ..corpora.report import ConversionReport
from ..errors import ClinicalEsError
from . import app

logger = logging.getLogger(__name__)


class Target(str, Enum):
    """What ``convert`` builds."""

    deid = "deid"
    imaging = "imaging"
    concepts = "concepts"
    linking = "linking"
    discontinuous = "discontinuous"
    nubes = "nubes"
    raw_text = "raw-text"


#: Corpora each target reads (checked before any work starts).
REQUIRED_CORPORA = {
    Target.deid: ("meddocan",),
    Target.imaging: ("meddocan", "distemist", "medprocner"),
    Target.concepts: ("meddocan", "distemist", "medprocner"),
    Target.linking: ("medprocner", "distemist", "codiesp"),
    Target.discontinuous: ("codiesp",),
    Target.nubes: ("nubes",),
    Target.raw_text: ("meddocan", "medprocner", "distemist", "symptemist", "codiesp", "cantemist", "nubes"),
}


def run_convert(target: Target, output: Path, data_dir: Optional[Path] = None) -> dict[str, Any]:
    """Build one target; return its stats with ``report`` and ``seconds`` added.

    Raises :class:`~spacy_clinical_es.errors.DataDirError` when the data
    directory or a corpus it needs is missing.
    """
    from ..corpora.builders.deid import build_deid
    from ..corpora.builders.discontinuous import build_discontinuous
    from ..corpora.builders.imaging import build_concepts, build_imaging
    from ..corpora.builders.linking import build_linking
    from ..corpora.builders.nubes import build_nubes
    from ..corpora.builders.raw_text import build_raw_text

    root = resolve_data_dir(data_dir)
    for name in REQUIRED_CORPORA[target]:
        corpus_dir(name, root)
    builders: dict[Target, Callable[..., dict[str, Any]]] = {
        Target.deid: build_deid,
        Target.imaging: build_imaging,
        Target.concepts: build_concepts,
        Target.linking: build_linking,
        Target.discontinuous: build_discontinuous,
        Target.nubes: build_nubes,
        Target.raw_text: build_raw_text,
    }
    report = ConversionReport()
    start = time.perf_counter()
    stats = builders[target](output, root, report=report)
    stats["seconds"] = round(time.perf_counter() - start, 1)
    stats["report"] = report
    return stats


def summary(target: Target, stats: dict[str, Any]) -> str:
    """The tables printed after a conversion."""
    from ..corpora.builders.common import markdown_table
    from ..corpora.builders.imaging import MappingCounts, statistics_table
    from ..corpora.builders.linking import rows_table

    if target is Target.deid:
        rows = [
            [split, scheme, s["documents"], s["annotations_read"], s["annotations_in_span_group"], s["entities"]]
            for split, schemes in stats["splits"].items()
            for scheme, s in schemes.items()
        ]
        table = markdown_table(
            ["split", "scheme", "documents", "annotations", "in span group", "in doc.ents"], rows
        )
    elif target in (Target.imaging, Target.concepts):
        mapping = MappingCounts()
        for corpus, labels in stats["mapping"].items():
            for label, entry in labels.items():
                mapping.counts[(corpus, label, "mapped")] += entry["mapped"]
                for reason, n in entry["reasons"].items():
                    mapping.counts[(corpus, label, reason)] += n
        identity = ", ".join(f"{k}: {n}" for k, n in stats["text_identity"].items())
        table = "\n\n".join(
            [statistics_table(stats), mapping.table(), f"Texts compared with DisTEMIST: {identity}"]
        )
    elif target is Target.discontinuous:
        from ..corpora.builders.discontinuous import (
            statistics_table as discontinuous_table,
        )

        table = discontinuous_table(stats)
    elif target is Target.nubes:
        from ..corpora.builders.nubes import statistics_table as nubes_table

        table = nubes_table(stats)
    elif target is Target.raw_text:
        keys = ("files", "texts", "kept", "duplicates", "words")
        rows = [[name, *(c[k] for k in keys)] for name, c in {**stats["corpora"], "total": stats["total"]}.items()]
        table = markdown_table(["corpus", *keys], rows)
    else:
        table = rows_table(stats)
    return f"{table}\n\n{stats['report'].summary()}"


@app.command("convert")
def convert_command(
    target: Annotated[Target, typer.Argument(help="Corpus to build: deid, imaging, concepts, linking, discontinuous, nubes or raw-text.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", file_okay=False, help="Folder for the corpus files.")
    ],
    data_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--data-dir",
            help="Folder holding meddocan/, distemist/, … (default: $SPACY_CLINICAL_ES_DATA or ../shared/data).",
        ),
    ] = None,
) -> None:
    """Convert the corpora into TARGET files (DocBin, IOB2, JSONL) plus stats.json and report.json.

    deid: MEDDOCAN train/dev with fine and coarse labels. imaging: EDAD, SEXO,
    ENFERMEDAD and PROCEDIMIENTO on the DisTEMIST text, split 70/15/15.
    concepts: the same documents and mentions (with their codes) split like
    the linking corpus, for the concept NER of es_clinical_concepts and the
    end-to-end evaluation.
    linking: mention/code pairs with their sentence (MedProcNER, DisTEMIST,
    CodiEsp). discontinuous: CodiEsp text evidence with (discontinuous)
    fragments in the span group "codiesp". nubes: NUBes sentences with negation/uncertainty cues and
    scopes (split by sample; CC BY-SA 3.0 ES, LICENSE and NOTICE written beside the files).
    """
    try:
        stats = run_convert(target, output, data_dir)
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err
    typer.echo(summary(target, stats))
    typer.echo(f"\nWrote {target.value} corpus to {output} in {stats['seconds']} s")
