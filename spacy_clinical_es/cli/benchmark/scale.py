"""``spacy-clinical-es benchmark scale``: one process vs ``nlp.pipe(n_process=N)`` vs Spark ``local[N]`` (metrics/scale.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.scale import run_scale, summary_rows
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("scale")
def scale_command(
    model: Annotated[Path, typer.Argument(help="De-identification pipeline (detector; a randomizer is added).")],
    data: Annotated[Path, typer.Argument(help="DocBin with the texts (e.g. corpus/deid/dev.spacy).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = Path("metrics/scale.json"),
    n_process: Annotated[int, typer.Option("--n-process", min=1, help="Processes / Spark local cores.")] = 2,
    master: Annotated[Optional[str], typer.Option("--master", help="Spark master (default local[N]).")] = None,
    partitions: Annotated[Optional[int], typer.Option("--partitions", min=1, help="Default 2 x N.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="First N documents only.")] = None,
) -> None:
    """Docs/s and words/s of the three shells on the same texts and key; checks their outputs are identical."""
    with user_errors():
        report = run_scale(
            model,
            data,
            output,
            limit=limit,
            n_process=n_process,
            master=master,
            partitions=partitions,
            batch_size=batch_size,
            command=invoked_command(),
        )
    typer.echo("| shell | docs/s | words/s |\n|---|---:|---:|")
    for name, docs, words in summary_rows(report):
        typer.echo(f"| {name} | {docs:.1f} | {words:.0f} |")
    typer.echo(f"outputs identical: {report['outputs_identical']}")
    if not report["outputs_identical"]:
        raise typer.Exit(code=1)
