"""``spacy-clinical-es benchmark deid-surrogates``: distinct surrogates per 10,000 replacements and randomizer scaling."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ...deid import LOCALES
from ...evaluation.benchmarks.deid_surrogates import (
    randomizer_scaling,
    surrogate_diversity,
)
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("deid-surrogates")
def deid_surrogates_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = Path("metrics/deid_surrogates.json"),
    n: Annotated[int, typer.Option("--n", min=1, help="Replacements per category.")] = 10_000,
    locale: Annotated[Optional[list[str]], typer.Option("--locale", help="Faker locale(s); default: all.")] = None,
    scaling: Annotated[bool, typer.Option("--scaling/--no-scaling", help="Also time randomize on 0.1/0.5/1 M characters.")] = True,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Corpus folder (for the scaling document).")] = None,
    baseline: Annotated[
        Optional[Path], typer.Option("--baseline", help="JSON of an earlier run of surrogate_diversity, stored as 'before'.")
    ] = None,
) -> None:
    """Count distinct surrogates per category and locale (no text is written), and time the randomizer."""
    with user_errors():
        report: dict = {"command": invoked_command(), "replacements_per_category": n, "after": {}}
        if baseline is not None:
            report["before"] = json.loads(baseline.read_text(encoding="utf-8"))
        for loc in locale or list(LOCALES):
            report["after"][loc] = surrogate_diversity(n, locale=loc)
        if scaling:
            report["randomizer_scaling"] = randomizer_scaling(data_dir=data_dir)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        typer.echo(f"wrote {output}")
