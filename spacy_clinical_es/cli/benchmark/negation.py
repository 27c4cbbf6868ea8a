"""``spacy-clinical-es benchmark negation``: NUBes negation/uncertainty, rules vs trained vs NegEx (metrics/negation.json)."""
# typer evaluates these annotations at runtime, so they keep ``Optional`` (Python 3.9).
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.negation import run_negation_benchmark
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("negation")
def negation_command(
    test: Annotated[
        Path, typer.Argument(dir_okay=False, help="NUBes test DocBin from `convert nubes` (corpus/nubes/test.spacy).")
    ] = Path("corpus/nubes/test.spacy"),
    train: Annotated[
        Path, typer.Option("--train", dir_okay=False, help="NUBes training DocBin: the rules' lexicon and NegEx terms.")
    ] = Path("corpus/nubes/train.spacy"),
    model: Annotated[
        Optional[Path], typer.Option("--model", help="Pipeline trained with configs/nubes_context.cfg (optional).")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON (Markdown beside it).")] = Path(
        "metrics/negation.json"
    ),
    no_negex: Annotated[bool, typer.Option("--no-negex", help="Skip the NegEx (negspacy) baseline.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 256,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Timing passes per system (best is kept).")] = 2,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Only the first N test sentences (0: all).")] = 0,
) -> None:
    """Cue F1 per type, scope-token and exact-scope P/R/F, concept negated/uncertain P/R/F and words/s."""
    with user_errors():
        result = run_negation_benchmark(
            test,
            train,
            model=model,
            output=output,
            negex=not no_negex,
            batch_size=batch_size,
            repeats=repeats,
            limit=limit,
            command=invoked_command(),
        )
    for name, checks in result["goals"].items():
        met = ", ".join(f"{goal} {c['value']:.3f} ({'met' if c['met'] else 'not met'})" for goal, c in checks.items())
        typer.echo(f"{name}: {met}")
    typer.echo(f"Wrote {output} and {output.with_suffix('.md')}")
