"""``spacy-clinical-es deid-terms`` / ``deid-vocab``: rebuild the clinical term list and the common clinical vocabulary of the de-identification policy."""

# typer evaluates these annotations at runtime, so they keep ``Optional``.
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..deid.clinical_terms import (
    build_clinical_terms,
    resource_path,
    write_clinical_terms,
)
from ..deid.clinical_vocab import (
    build_clinical_vocab,
    vocab_resource_path,
    write_clinical_vocab,
)
from ..errors import ClinicalEsError
from . import app


@app.command("deid-terms")
def deid_terms_command(
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Corpus folder (default: the configured one).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: the package resource).")] = None,
) -> None:
    """Build the term list from DisTEMIST, MedProcNER, SympTEMIST and CodiEsp train mentions (public corpora)."""
    try:
        terms, counts = build_clinical_terms(data_dir)
        path = write_clinical_terms(terms, counts, out or resource_path())
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err
    typer.echo(f"wrote {counts['terms']} terms and {counts['eponym_heads']} eponym heads to {path}")


@app.command("deid-vocab")
def deid_vocab_command(
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Corpus folder (default: the configured one).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: the package resource).")] = None,
) -> None:
    """Build the common clinical vocabulary (recall-only spans made of it are kept) from public clinical train texts."""
    try:
        words, counts = build_clinical_vocab(data_dir)
        path = write_clinical_vocab(words, counts, out or vocab_resource_path())
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err
    typer.echo(f"wrote {counts['words']} vocabulary words to {path}")
