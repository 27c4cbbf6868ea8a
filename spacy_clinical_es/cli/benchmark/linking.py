"""``spacy-clinical-es benchmark linking``: linking accuracy@1/@5 on held-out documents (metrics/linking.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.linking import SETTINGS, run_linking
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("linking")
def linking_command(
    data: Annotated[
        Optional[Path],
        typer.Option("--data", help="Linking corpus folder (convert linking); default: build it into a temp folder."),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = Path("metrics/linking.json"),
    setting: Annotated[str, typer.Option("--setting", help=f"One of {', '.join(sorted(SETTINGS))}.")] = "final",
    k: Annotated[int, typer.Option("--k", min=1, help="Candidates per mention.")] = 5,
    no_tuning: Annotated[bool, typer.Option("--no-tuning", help="Skip the dev grid.")] = False,
    encoder: Annotated[Optional[Path], typer.Option("--encoder", exists=True, file_okay=False, help="Fine-tuned encoder (finetune-linker): adds the chains part.")] = None,
    reranker: Annotated[Optional[Path], typer.Option("--reranker", exists=True, dir_okay=False, help="reranker.json (train-reranker): adds the chains part.")] = None,
    no_tables: Annotated[bool, typer.Option("--no-tables", help="Chains on mention KBs only (no CIE-10 table for ICD-10 targets).")] = False,
) -> None:
    """Tune the candidate settings on dev (train KB), score test with a train+dev KB; counts only, no text."""
    with user_errors():
        run_linking(
            data, output, setting_name=setting, k=k, tuning=not no_tuning, command=invoked_command(),
            encoder=encoder, reranker=reranker, tables=not no_tables,
        )
