"""``spacy-clinical-es benchmark windows`` / ``windows-cost``: naive half overlap vs sentence packing."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.window_cost import run_window_cost
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("windows")
def windows_command(
    model: Annotated[Path, typer.Argument(exists=True, help="Trained pipeline with a transformer_ner component.")],
    data: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Gold .spacy corpus.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Metrics JSON.")] = None,
    window: Annotated[
        Optional[list[str]], typer.Option("--window", help="'limit' or ids per window (repeat the option).")
    ] = None,
    merge: Annotated[
        Optional[list[str]], typer.Option("--merge", help="average / central (repeat; default: the pipeline's).")
    ] = None,
    component: Annotated[Optional[str], typer.Option("--component", help="Component name if several.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Docs per nlp.pipe batch.")] = 16,
) -> None:
    """Cost (wordpieces processed / document wordpieces), words/s and F1 for each window setting."""
    # imported here: it needs torch (the optional `transformers` extra), and the CLI must start without it
    from ...evaluation.benchmarks.windows import run_windows

    with user_errors():
        run_windows(
            model, data, output=output, window_sizes=window or ["limit", "128"], merges=merge,
            component_name=component, batch_size=batch_size, command=invoked_command(),
        )


@benchmark_app.command("windows-cost")
def windows_cost_command(
    corpus: Annotated[Path, typer.Option("--corpus", help="Imaging corpus folder (built if missing).")] = Path(
        "corpus/imaging"
    ),
    window: Annotated[Optional[list[int]], typer.Option("--window", help="Ids per window (repeat).")] = None,
    min_context: Annotated[Optional[int], typer.Option("--min-context", help="Default: limit // 16.")] = None,
    tokenizer: Annotated[
        Optional[str], typer.Option("--tokenizer", help="Local HF tokenizer dir, or python:MODULE.")
    ] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the costs as JSON.")] = None,
) -> None:
    """Window cost of both strategies over the imaging corpus, before any training (a stand-in without --tokenizer)."""
    with user_errors():
        run_window_cost(
            corpus, window_sizes=window or [512, 128], min_context=min_context, tokenizer=tokenizer,
            output=output, command=invoked_command(),
        )
