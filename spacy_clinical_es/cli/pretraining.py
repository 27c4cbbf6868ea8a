"""``train-vectors`` (floret vectors from the raw clinical text) and ``pretrained-assets`` (the committed copy, issue 17)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..evaluation.report import write_json
from ..pretraining.assets import ASSETS_DIR, MANIFEST, install_vectors, verify_path
from ..pretraining.vectors import FloretSettings, train_floret
from . import app
from ._runner import user_errors
from .benchmark._common import invoked_command

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


@app.command("pretrained-assets")
def pretrained_assets_command(
    vectors: Annotated[Path, typer.Option("--vectors", help="spaCy vectors folder (spacy init vectors output).")] = Path("training/vectors/model"),
    output: Annotated[Path, typer.Option("--output", help="The committed asset folder.")] = ASSETS_DIR,
    verify: Annotated[bool, typer.Option("--verify", help="Only check OUTPUT against its SHA256SUMS.")] = False,
) -> None:
    """Copy the vectors into the committed asset folder (OUTPUT/vectors) and rewrite OUTPUT/SHA256SUMS; with
    ``--verify``, check every file of OUTPUT against it instead (what training does before it loads them)."""
    with user_errors():
        if verify:
            count = verify_path(output)
            typer.echo(f"{output}: {count} files match {MANIFEST}")
            return
        entries = install_vectors(vectors, output)
        typer.echo(f"{output}: {len(entries)} files, {MANIFEST} written")
