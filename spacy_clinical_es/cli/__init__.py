"""Command-line interface: ``python -m spacy_clinical_es COMMAND`` (or ``spacy-clinical-es``).

Each command lives in its own module and registers itself on :data:`app`;
the modules are imported at the end of this file so the app is always whole.
"""
from __future__ import annotations

import logging

import typer

app = typer.Typer(
    name="spacy-clinical-es",
    help="Spanish clinical NLP: corpus conversion, tokenization report, evaluation.",
    no_args_is_help=True,
    add_completion=False,
    # Never print local variables in tracebacks: they hold clinical text and keys (issue 20).
    pretty_exceptions_show_locals=False,
)


def main() -> None:
    """Entry point of the console script and of ``python -m spacy_clinical_es``."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app()


# Command modules (each registers its commands on `app`):
from . import (  # noqa: F401
    annotate,
    audit_model,
    benchmark,
    convert,
    deid,
    deid_terms,
    evaluate,
    finetune,
    finetune_linker,
    package,
    pretraining,
    serve,
    tokenization,
    visualize,
)
