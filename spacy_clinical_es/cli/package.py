"""``spacy-clinical-es package NAME``: assemble a product from its config and package it as a wheel.

    python -m spacy_clinical_es package es_clinical_deid --output packages --paths.deid_model training/deid_cnn/model-best

Extra ``--section.key value`` options override the product config, as with
``spacy assemble``. See :mod:`spacy_clinical_es.packaging`.
"""

# typer evaluates these annotations at runtime, so they keep ``Optional``:
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ClinicalEsError
from ..evaluation.benchmarks.e2e import DEFAULT_OUTPUT as E2E_OUTPUT
from ..packaging import PRODUCTS, build_product
from . import app
from .benchmark._common import invoked_command

logger = logging.getLogger(__name__)


@app.command(
    "package",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def package_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"Product: {', '.join(PRODUCTS)}.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the wheels.")] = Path("packages"),
    config: Annotated[
        Optional[Path], typer.Option("--config", "-c", help="Product config (default: configs/<name>.cfg).")
    ] = None,
    metrics: Annotated[
        Optional[list[Path]],
        typer.Option("--metrics", help="Evaluation JSON to summarize in meta.json (default: the product's)."),
    ] = None,
    version: Annotated[Optional[str], typer.Option("--version", help="Package version.")] = None,
    project_wheel: Annotated[
        bool, typer.Option("--project-wheel/--no-project-wheel", help="Also build the spacy-clinical-es wheel.")
    ] = True,
    e2e_gold: Annotated[
        Optional[Path],
        typer.Option(
            "--e2e-gold", exists=True, dir_okay=False,
            help="Coded gold .spacy (e.g. corpus/concepts/test.spacy): score the assembled pipeline end to end "
            "(benchmark e2e) before writing its meta.",
        ),
    ] = None,
    e2e_codiesp_gold: Annotated[
        Optional[Path],
        typer.Option("--e2e-codiesp-gold", exists=True, dir_okay=False,
                     help="With --e2e-gold: CodiEsp test .spacy (convert discontinuous), scored CodiEsp-X style too."),
    ] = None,
    e2e_output: Annotated[
        Path, typer.Option("--e2e-output", help="Metrics JSON of --e2e-gold (a .md is written beside it).")
    ] = E2E_OUTPUT,
) -> None:
    """Assemble product NAME (trained components by `source`), write its meta and build its wheel."""
    from spacy.cli._util import parse_config_overrides

    overrides = parse_config_overrides(ctx.args)
    kwargs = {"version": version} if version else {}
    evaluate = None
    if e2e_gold is not None:
        if metrics is None:  # the meta summarizes the evaluation this run makes
            metrics = [e2e_output]
        from ..evaluation.benchmarks.e2e import run_e2e, summary_line

        def evaluate(pipeline_dir: Path) -> None:
            result = run_e2e(
                pipeline_dir, e2e_gold, codiesp=e2e_codiesp_gold, output=e2e_output,
                markdown_path=e2e_output.with_suffix(".md"), command=invoked_command(),
            )
            for task in result["tasks"]:
                typer.echo(summary_line(task))

    start = time.perf_counter()
    try:
        result = build_product(
            name, packages_dir=output, config=config, overrides=overrides, metrics=metrics,
            project_wheel=project_wheel, evaluate=evaluate, **kwargs,
        )
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err
    typer.echo(f"Built {result.wheel} in {time.perf_counter() - start:.0f} s")
    if result.project_wheel is not None:
        typer.echo(f"spacy-clinical-es wheel: {result.project_wheel}")
    typer.echo(f"Install: pip install --find-links {output} {result.product}")
