"""What every ``benchmark`` command shares: the command line it records and how it reports a package error."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from ...errors import ClinicalEsError


def invoked_command() -> str:
    """The command line as the user typed it, for the ``command`` field of a metrics file."""
    return "python -m spacy_clinical_es " + " ".join(sys.argv[1:])


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a package error into its message on stderr and exit code 1 (no traceback)."""
    try:
        yield
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err
