"""``spacy-clinical-es benchmark deid``: MEDDOCAN de-identification accuracy, clinical damage, speed (metrics/deid.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.deid import DEFAULT_LONG_SIZES, run_deid_benchmark
from . import benchmark_app
from ._common import invoked_command, numbers, user_errors


def _isolation(value: str) -> list[int | None]:
    """``"off,50,100"`` → ``[None, 50, 100]``."""
    return [None if v.strip() == "off" else numbers(v, int, "--isolation")[0] for v in value.split(",") if v.strip()]


@benchmark_app.command("deid")
def deid_command(
    model: Annotated[Path, typer.Argument(exists=True, help="Detector pipeline (MEDDOCAN labels in doc.ents).")],
    data: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="MEDDOCAN dev DocBin (gold in span group 'meddocan').")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = Path("metrics/deid.json"),
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown summary.")] = None,
    train: Annotated[
        Optional[Path], typer.Option("--train", help="Training DocBin, for a detector without phi_gazetteer.")
    ] = None,
    data_dir: Annotated[
        Optional[Path], typer.Option("--data-dir", help="Corpora folder (DisTEMIST/MedProcNER/SympTEMIST).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 64,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timing runs per setting (best is kept).")] = 2,
    processes: Annotated[str, typer.Option("--processes", help="Comma-separated n_process values to time.")] = "1,2",
    limit: Annotated[int, typer.Option("--limit", min=0, help="Only the first N dev documents (0: all).")] = 0,
    thresholds: Annotated[
        str, typer.Option("--thresholds", help="phi_recall thresholds scored (the configured one always is).")
    ] = "0.5,0.3,0.2,0.1,0.05,0.02",
    temperatures: Annotated[str, typer.Option("--temperatures", help="phi_recall temperatures.")] = "1,2,4",
    isolation: Annotated[
        str,
        typer.Option(
            "--isolation",
            help="Values of the policy's recall_isolation_chars measured at the configured setting ('off': the rule off).",
        ),
    ] = "off,25,50,100,200,400",
    no_clinical: Annotated[bool, typer.Option("--no-clinical", help="Skip the clinical damage measure.")] = False,
    long_sizes: Annotated[
        str,
        typer.Option("--long-sizes", help="Characters of the long documents timed, each in a fresh process ('' to skip)."),
    ] = ",".join(str(n) for n in DEFAULT_LONG_SIZES),
    long_repeats: Annotated[int, typer.Option("--long-repeats", min=1, help="Runs per long document (best is kept).")] = 1,
) -> None:
    """Strict F1, replaced PHI token recall and clinical damage per setting; words/s; long-document time and memory."""
    with user_errors():
        run_deid_benchmark(
            model,
            data,
            output=output,
            markdown_path=markdown,
            train=train,
            data_dir=data_dir,
            batch_size=batch_size,
            repeats=repeats,
            processes=numbers(processes, int, "--processes"),
            limit=limit,
            thresholds=numbers(thresholds, float, "--thresholds"),
            temperatures=numbers(temperatures, float, "--temperatures"),
            isolation=_isolation(isolation),
            clinical=not no_clinical,
            long_sizes=numbers(long_sizes, int, "--long-sizes"),
            long_repeats=long_repeats,
            command=invoked_command(),
        )
