"""``spacy-clinical-es benchmark pretraining``: issue 17's side by side from the runs' metrics files."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.pretraining import (
    PIPELINES,
    parse_run,
    run_pretraining_summary,
)
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("pretraining")
def pretraining_command(
    run: Annotated[list[str], typer.Option(
        "--run", help=f"PIPELINE[@VARIANT]:SETTING:METRICS_FILE, repeated; PIPELINE one of {', '.join(PIPELINES)} "
                      "(@VARIANT: a separate comparison, e.g. imaging@3000); the setting 'none' is each one's baseline.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Summary JSON.")] = Path("metrics/pretraining.json"),
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="Markdown tables.")] = Path(
        "metrics/pretraining.md"
    ),
) -> None:
    """Each pipeline without and with the vectors / pretrained tok2vec: dev scores, words/s, the issue's goals."""
    with user_errors():
        run_pretraining_summary([parse_run(spec) for spec in run], output=output, markdown_path=markdown,
                                command=invoked_command())
