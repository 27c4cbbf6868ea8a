"""``spacy-clinical-es annotate``: concepts with their codes, one record per concept, from many notes.

    python -m spacy_clinical_es annotate notes/ more.jsonl one.txt --model es_clinical_concepts --out out/ --format jsonl

Inputs, bad-input rules, manifest, ``--resume`` and ``failures.jsonl`` are the
``deid`` runner's (see :mod:`spacy_clinical_es.runtime.annotate`). Exit code
0 when every document was annotated, 3 when some failed (each named in
``failures.jsonl`` and on stderr), 1 when the run could not start.
"""

# typer evaluates these annotations at runtime, so they keep ``Optional``:
from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..runtime.annotate import (
    FAILURES_NAME,
    FORMATS,
    TABLE_NAMES,
    AnnotateOptions,
    run_annotate,
)
from . import app
from ._runner import Inputs, model_target, run_errors

logger = logging.getLogger(__name__)


@app.command("annotate")
def annotate_command(
    inputs: Inputs,
    model: Annotated[str, typer.Option("--model", "-m", help="Installed pipeline name or pipeline directory.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    output_format: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")] = "jsonl",
    with_text: Annotated[
        bool, typer.Option("--with-text", help="Put each concept's text in the records (clinical text: protect it).")
    ] = False,
    spans_key: Annotated[
        Optional[str], typer.Option("--spans-key", help="Read concepts from doc.spans[KEY] (default: 'concepts', else doc.ents).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Documents per nlp.pipe batch.")] = 32,
    resume: Annotated[bool, typer.Option("--resume", help="Skip documents an earlier run with the same settings finished.")] = False,
    encoding: Annotated[
        Optional[str], typer.Option("--encoding", help="Input encoding (default: UTF-8, else detected cp1252/latin-1).")
    ] = None,
) -> None:
    """Annotate INPUTS with MODEL and write one record per concept to OUT."""
    if output_format not in FORMATS:
        typer.echo(f"Error: unknown --format {output_format!r}; use one of: {', '.join(FORMATS)}.", err=True)
        raise typer.Exit(code=1)
    if with_text:
        logger.warning("--with-text: the records will contain clinical text; protect %s accordingly.", out)
    options = AnnotateOptions(
        format=output_format, with_text=with_text, spans_key=spans_key, batch_size=batch_size, resume=resume,
        encoding=encoding,
    )
    with run_errors():
        summary = run_annotate(inputs, model_target(model), out, options)  # type: ignore[arg-type]
    where = out / TABLE_NAMES.get(output_format, "brat")
    typer.echo(f"Annotated {summary.documents} documents ({summary.concepts} concepts) into {where}")
    if summary.skipped:
        typer.echo(f"Skipped {summary.skipped} documents done by an earlier run (--resume)")
    for label, n in sorted(summary.labels.items()):
        typer.echo(f"  {label}: {n}")
    if summary.failed:
        typer.echo(
            f"{summary.failed} document(s) failed ({', '.join(f'{r}: {n}' for r, n in sorted(summary.failures.items()))}); "
            f"see {out / FAILURES_NAME}: " + ", ".join(summary.failed_documents[:20])
            + (" …" if len(summary.failed_documents) > 20 else ""),
            err=True,
        )
    raise typer.Exit(code=summary.exit_code)
