"""``spacy-clinical-es benchmark NAME``: the package's benchmarks (as spaCy has ``spacy benchmark``).

Each benchmark's command lives in its own module of this package and registers itself on
:data:`benchmark_app`; the modules are imported at the end of this file.
"""
from __future__ import annotations

import typer

from .. import app

benchmark_app = typer.Typer(
    help="Benchmarks and evaluations that write metrics/*.json (deid, linking, negation, …).",
    no_args_is_help=True,
)
app.add_typer(benchmark_app, name="benchmark")

# Benchmark command modules (each registers one command on benchmark_app):
from . import (  # noqa: F401
    deid,
    deid_surrogates,
    discontinuous,
    e2e,
    generative,
    linking,
    linking_scale,
    negation,
    nested,
    pretraining,
    scale,
    service,
    windows,
)
