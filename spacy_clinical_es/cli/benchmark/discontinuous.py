"""``spacy-clinical-es benchmark discontinuous``: fragment-set match on CodiEsp evidence (metrics/discontinuous.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.discontinuous import run_discontinuous
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("discontinuous")
def discontinuous_command(
    model: Annotated[Path, typer.Argument(exists=True, help="Pipeline with a discontinuous_ner component.")],
    data: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="Gold .spacy files; the first tunes.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = Path("metrics/discontinuous.json"),
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown tables.")] = None,
    brat_dir: Annotated[
        Optional[Path], typer.Option("--brat-dir", help="Keep the BRAT export here (default: a temp folder).")
    ] = None,
    baseline: Annotated[
        Optional[Path],
        typer.Option("--baseline", exists=True, help="An older discontinuous_ner pipeline scored beside (old vs new)."),
    ] = None,
) -> None:
    """All / continuous / discontinuous exact match (also by gap pattern) at the saved and the tuned thresholds,
    plus a BRAT round trip; with --baseline, the old decoder side by side."""
    with user_errors():
        run_discontinuous(
            model,
            list(data),
            output=output,
            markdown_path=markdown,
            brat_dir=brat_dir,
            baseline=baseline,
            command=invoked_command(),
        )


@benchmark_app.command("discontinuous-errors")
def discontinuous_errors_command(
    model: Annotated[Path, typer.Argument(exists=True, help="Pipeline with a discontinuous_ner component.")],
    data: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Gold .spacy (span group 'codiesp').")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Counts JSON.")] = Path(
        "metrics/discontinuous_errors.json"
    ),
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown table.")] = Path(
        "metrics/discontinuous_errors.md"
    ),
) -> None:
    """Gold discontinuous entities by outcome (found / linking miss / detection miss) and gap pattern."""
    from ...evaluation.benchmarks.discontinuous_errors import run_discontinuous_errors

    with user_errors():
        run_discontinuous_errors(model, data, output=output, markdown_path=markdown, command=invoked_command())
