"""``spacy-clinical-es benchmark nested``: span_finder + spancat vs the flat NER on the nested gold (metrics/nested.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.nested import run_nested
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("nested")
def nested_command(
    nested_model: Annotated[Path, typer.Argument(exists=True, help="Pipeline writing doc.spans['imaging'].")],
    data: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Gold .spacy with span group 'imaging'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = Path("metrics/nested.json"),
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown table.")] = None,
    flat_model: Annotated[Path, typer.Option("--flat-model", help="Flat NER pipeline.")] = Path(
        "training/imaging_cnn/model-best"
    ),
    flat_metrics: Annotated[Path, typer.Option("--flat-metrics", help="Used when the flat model is missing.")] = Path(
        "metrics/imaging_cnn.json"
    ),
) -> None:
    """Strict per class, nested exact match and recall on the mentions a flat NER cannot hold."""
    with user_errors():
        run_nested(
            nested_model, data, flat_model=flat_model, flat_metrics=flat_metrics, output=output,
            markdown_path=markdown, command=invoked_command(),
        )
