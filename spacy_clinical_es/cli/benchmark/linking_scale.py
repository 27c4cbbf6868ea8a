"""``spacy-clinical-es benchmark linking-scale``: the linker on a synthetic 1,000,000-entry KB (metrics/linking_scale.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...evaluation.benchmarks.linking_scale import run_linking_scale
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("linking-scale")
def linking_scale_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = Path("metrics/linking_scale.json"),
    entries: Annotated[int, typer.Option("--entries", min=1, help="Concepts in the synthetic KB.")] = 1_000_000,
    queries: Annotated[int, typer.Option("--queries", min=1, help="Mentions to link.")] = 5_000,
    words: Annotated[int, typer.Option("--words", min=1, help="Pseudo-words to build terms from.")] = 30_000,
    exact_sample: Annotated[int, typer.Option("--exact-sample", min=1, help="Queries compared with exact search.")] = 200,
    ann_threshold: Annotated[int, typer.Option("--ann-threshold", help="Terms from which faiss is used.")] = 200_000,
    nprobe: Annotated[int, typer.Option("--nprobe", min=1)] = 16,
    rescore_factor: Annotated[int, typer.Option("--rescore-factor", min=1)] = 4,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Build seconds, mentions/s, peak memory and ANN quality at scale (heavy: run alone)."""
    with user_errors():
        run_linking_scale(
            output, entries=entries, queries=queries, words_n=words, exact_sample=exact_sample,
            ann_threshold=ann_threshold, nprobe=nprobe, rescore_factor=rescore_factor, seed=seed,
            command=invoked_command(),
        )
