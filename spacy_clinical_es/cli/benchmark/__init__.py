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
from . import discontinuous, generative, linking, linking_scale, nested, windows  # noqa: F401
from . import scale, service  # noqa: F401  (issue 16)
from . import deid  # noqa: F401  (issue 14)
from . import deid_surrogates  # noqa: F401  (issues 15, 20)
from . import e2e  # noqa: F401  (issue 21)
from . import negation  # noqa: F401  (issue 13)
