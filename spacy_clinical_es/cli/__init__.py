"""Command-line interface: ``python -m spacy_clinical_es COMMAND`` (or ``spacy-clinical-es``).

Each command lives in its own module and registers itself on :data:`app`.
"""
from __future__ import annotations

import logging
from importlib import import_module

import typer

app = typer.Typer(
    name="spacy-clinical-es",
    help="Spanish clinical NLP: corpus conversion, tokenization report, evaluation.",
    no_args_is_help=True,
    add_completion=False,
)

_COMMAND_MODULES = ("convert", "tokenization", "evaluate")


def _register_commands() -> None:
    for name in _COMMAND_MODULES:
        import_module(f"{__name__}.{name}")


def main() -> None:
    """Entry point of the console script."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    _register_commands()
    app()
