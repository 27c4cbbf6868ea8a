"""``spacy-clinical-es benchmark e2e``: the concept chain scored as (document, start, end, code) (metrics/e2e.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.e2e import run_e2e
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("e2e")
def e2e_command(
    model: Annotated[Path, typer.Argument(exists=True, help="Concept pipeline (e.g. es_clinical_concepts' directory).")],
    data: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Gold .spacy with coded concepts.")],
    gold_span_key: Annotated[str, typer.Option("--gold-span-key", help="Span group of the gold concepts.")],
    gold_system: Annotated[str, typer.Option("--gold-system", help="Terminology of the gold codes.")] = "SNOMEDCT",
    pred_system: Annotated[str, typer.Option("--pred-system", help="Code system of the predictions.")] = "SNOMED CT",
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = Path("metrics/e2e.json"),
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown table.")] = None,
) -> None:
    """Strict (document, start, end, code) P/R/F and the per-stage loss (not found / wrong code / correct)."""
    with user_errors():
        result = run_e2e(
            model, data, gold_span_key=gold_span_key, gold_system=gold_system, pred_system=pred_system,
            output=output, markdown_path=markdown, command=invoked_command(),
        )
    s = result["e2e"]
    typer.echo(f"end-to-end P {s['p']:.4f} R {s['r']:.4f} F1 {s['f']:.4f} on {s['gold']} gold concepts -> {output}")
