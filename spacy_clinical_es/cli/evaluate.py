"""``spacy-clinical-es evaluate``: score a saved pipeline on a gold ``.spacy`` corpus."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ClinicalEsError
from ..evaluation.evaluate import DEFAULT_BATCH_SIZE, compare_domains, evaluate_pipeline
from ..evaluation.report import markdown_report, write_report
from . import app

logger = logging.getLogger(__name__)


@app.command("evaluate")
def evaluate_command(
    model: Annotated[
        Path,
        typer.Argument(
            exists=True, help="Pipeline directory (nlp.to_disk / spacy train output)."
        ),
    ],
    data: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="Gold corpus (.spacy DocBin)."
        ),
    ],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            help="Write the metrics as JSON here, e.g. metrics/x.json.",
        ),
    ] = None,
    markdown: Annotated[
        Optional[Path],
        typer.Option("--markdown", help="Write the Markdown report here."),
    ] = None,
    png: Annotated[
        Optional[Path],
        typer.Option("--png", help="Write a per-class F1 bar chart (PNG) here."),
    ] = None,
    span_key: Annotated[
        Optional[str],
        typer.Option("--span-key", help="Score doc.spans[KEY] instead of doc.ents."),
    ] = None,
    gold_span_key: Annotated[
        Optional[str],
        typer.Option(
            "--gold-span-key",
            help="Read gold from doc.spans[KEY] with the converter's exact offsets "
            "(e.g. every MEDDOCAN annotation) instead of the same place as the predictions.",
        ),
    ] = None,
    ood_data: Annotated[
        Optional[Path],
        typer.Option(
            "--ood-data",
            exists=True,
            dir_okay=False,
            help="Out-of-domain gold corpus (.spacy): also report the in/out-of-domain gap.",
        ),
    ] = None,
    n_process: Annotated[
        int, typer.Option("--n-process", min=1, help="Processes for nlp.pipe.")
    ] = 1,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Batch size for nlp.pipe.")
    ] = DEFAULT_BATCH_SIZE,
) -> None:
    """Run MODEL over the texts of DATA, score it against DATA's annotations, print a table.

    Strict (character-offset) and IOB2 token P/R/F per class, de-identification
    token recall and leak rate, exact fragment-set match and speed.
    """
    try:
        if ood_data is None:
            scores = evaluate_pipeline(
                model,
                data,
                span_key=span_key,
                gold_span_key=gold_span_key,
                n_process=n_process,
                batch_size=batch_size,
            )
        else:
            scores = compare_domains(
                model,
                data,
                ood_data,
                span_key=span_key,
                gold_span_key=gold_span_key,
                n_process=n_process,
                batch_size=batch_size,
            )
        written = write_report(
            scores,
            json_path=output,
            markdown_path=markdown,
            png_path=png,
            title=model.name,
        )
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err
    typer.echo(markdown_report(scores))
    for kind, path in written.items():
        logger.info("Wrote %s report to %s", kind, path)
