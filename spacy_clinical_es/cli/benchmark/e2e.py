"""``spacy-clinical-es benchmark e2e``: the concept chain scored as (document, start, end, code) (metrics/e2e.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.e2e import (
    CONCEPT_SPAN_KEY,
    CONCEPT_TASKS,
    DEFAULT_OUTPUT,
    E2ETask,
    run_e2e,
    summary_line,
)
from . import benchmark_app
from ._common import invoked_command, numbers, user_errors


@benchmark_app.command("e2e")
def e2e_command(
    model: Annotated[Path, typer.Argument(exists=True, help="Concept pipeline (e.g. es_clinical_concepts' directory).")],
    data: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Gold .spacy with coded concepts.")],
    gold_span_key: Annotated[str, typer.Option("--gold-span-key", help="Span group of the gold concepts.")] = CONCEPT_SPAN_KEY,
    task: Annotated[
        Optional[list[str]],
        typer.Option(
            "--task",
            help="LABEL:GOLD_SYSTEM:PRED_SYSTEM, repeatable ('*' for any label); default: MedProcNER and DisTEMIST "
            "SNOMED CT, DisTEMIST ICD-10 (evaluation.benchmarks.e2e.CONCEPT_TASKS).",
        ),
    ] = None,
    codiesp: Annotated[
        Optional[Path],
        typer.Option("--codiesp", exists=True, dir_okay=False,
                     help="CodiEsp test .spacy (convert discontinuous): also score CodiEsp-X ICD-10-CM/PCS."),
    ] = None,
    linker_thresholds: Annotated[
        Optional[str],
        typer.Option("--linker-thresholds", help="Comma-separated thresholds: also score with every linker set to each."),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = DEFAULT_OUTPUT,
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown table.")] = None,
) -> None:
    """Strict (document, start, end, code) P/R/F per task and the per-stage loss (not found / wrong code / correct)."""
    with user_errors():
        tasks = [E2ETask.parse(t) for t in task] if task else CONCEPT_TASKS
        thresholds = numbers(linker_thresholds, float, "--linker-thresholds") if linker_thresholds else []
        result = run_e2e(
            model, data, gold_span_key=gold_span_key, tasks=tasks, codiesp=codiesp, output=output,
            markdown_path=markdown, linker_thresholds=thresholds, command=invoked_command(),
        )
    for task_scores in result["tasks"]:
        typer.echo(summary_line(task_scores))
    typer.echo(f"-> {output}")
