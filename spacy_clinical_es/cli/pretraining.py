"""``spacy-clinical-es train-vectors``: floret vectors from the raw clinical text (issue 17)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..evaluation.report import write_json
from ..pretraining.vectors import FloretSettings, train_floret
from . import app
from .benchmark._common import invoked_command, user_errors

_D = FloretSettings()  # the defaults, written once in FloretSettings


@app.command("train-vectors")
def train_vectors_command(
    text: Annotated[Path, typer.Option("--text", help="One text per line (convert raw-text → corpus/raw/texts.txt).")] = Path("corpus/raw/texts.txt"),
    output: Annotated[Path, typer.Option("--output", help="Folder for vectors.floret and vectors.json.")] = Path("training/vectors"),
    dim: Annotated[int, typer.Option("--dim", min=1)] = _D.dim,
    bucket: Annotated[int, typer.Option("--bucket", min=1, help="Hash rows.")] = _D.bucket,
    epoch: Annotated[int, typer.Option("--epoch", min=1)] = _D.epoch,
    threads: Annotated[int, typer.Option("--threads", min=1)] = _D.threads,
    metrics: Annotated[Optional[Path], typer.Option("--metrics", help="Also write the run's report here.")] = None,
) -> None:
    """Tokenize the raw text with the clinical tokenizer and train floret vectors (mode floret); load them with
    ``spacy init vectors es OUTPUT/vectors.floret DIR --mode floret``."""
    with user_errors():
        settings = dataclasses.replace(_D, dim=dim, bucket=bucket, epoch=epoch, threads=threads)
        report = train_floret(text, output, settings) | {"command": invoked_command()}
        for path in (output / "vectors.json", metrics):
            if path is not None:
                write_json(report, path)
