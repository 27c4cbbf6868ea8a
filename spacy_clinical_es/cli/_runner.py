"""What the commands share: the INPUTS argument of the file runners (``deid``, ``annotate``, ``visualize``) and errors.

One definition of the inputs they accept and of how a run that cannot start
is reported (message on stderr, exit code 1, no traceback: tracebacks may
show clinical text), so the commands cannot drift apart.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ClinicalEsError

#: The INPUTS argument of a file runner (read by :func:`spacy_clinical_es.runtime.batch.collect_inputs`).
Inputs = Annotated[list[Path], typer.Argument(help=".txt files, folders (recursive *.txt), .jsonl or .csv files.")]


def model_target(model: str) -> Path | str:
    """``--model`` as a pipeline directory when one exists at that path, else as an installed package name."""
    return Path(model) if Path(model).exists() else model


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a package error into its message on stderr and exit code 1 (no traceback)."""
    try:
        yield
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err


@contextmanager
def run_errors() -> Iterator[None]:
    """:func:`user_errors`, and an OS error of a run (model or files) as ``Error: ...`` and exit code 1."""
    try:
        with user_errors():  # first: a package error that is also an OSError (DataDirError) keeps its message
            yield
    except OSError as err:
        typer.echo(f"Error: cannot load the model or read/write files ({type(err).__name__}: {err.strerror or err})", err=True)
        raise typer.Exit(code=1) from err
