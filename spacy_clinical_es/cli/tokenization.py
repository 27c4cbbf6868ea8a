"""``spacy-clinical-es tokenization-report``: gold spans the tokenizer cuts.

Reads every requested corpus split with
:func:`~spacy_clinical_es.corpora.readers.iter_corpus`, tokenizes each text
with the clinical tokenizer (and, with ``--baseline``, with ``spacy.blank("es")``)
and prints per-corpus and per-label misalignment tables. Exits with code 1
when a corpus is above ``--max-rate``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Dict, List, Optional

import typer

from ..errors import ClinicalEsError
from . import app

logger = logging.getLogger(__name__)

DEFAULT_MAX_RATE = 0.003


def collect_items(
    corpora: Optional[List[str]] = None,
    splits: Optional[List[str]] = None,
    data_dir: Optional[Path] = None,
    by_split: bool = False,
) -> Dict[str, Any]:
    """Read the corpora into alignment items (kept in memory: both tokenizers use them).

    Returns ``{"items": [...], "splits": {corpus: [split, ...]}, "counts":
    {corpus: Counter}, "reader": ConversionReport dict}``. Corpus keys are
    ``name`` or, with ``by_split``, ``name/split``.
    """
    from ..corpora.alignment_report import items_from_documents
    from ..corpora.readers import iter_corpus, list_corpora
    from ..corpora.report import ConversionReport

    available = list_corpora()
    names = list(corpora) if corpora else list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise typer.BadParameter(
            f"unknown corpus {', '.join(unknown)}; known: {', '.join(available)}",
            param_hint="--corpus",
        )
    report = ConversionReport()
    items: List[Any] = []
    used: Dict[str, List[str]] = {}
    counts: Dict[str, Counter] = {}
    for name in names:
        for split in available[name]:
            if splits and split not in splits:
                continue
            key = f"{name}/{split}" if by_split else name
            used.setdefault(name, []).append(split)
            docs = iter_corpus(name, split, data_dir, report=report)
            counter = counts.setdefault(key, Counter())
            items.extend(
                items_from_documents(docs, key, id_prefix=f"{split}/", counts=counter)
            )
    if not items:
        raise typer.BadParameter(
            "no corpus split matched --corpus/--split", param_hint="--split"
        )
    report.log_if_lossy(logger)
    return {
        "items": items,
        "splits": used,
        "counts": counts,
        "reader": report.to_dict(),
    }


@app.command("tokenization-report")
def tokenization_report_command(
    data_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--data-dir",
            help="Corpus folder (default: $SPACY_CLINICAL_ES_DATA or ../shared/data).",
        ),
    ] = None,
    corpus: Annotated[
        Optional[List[str]],
        typer.Option(
            "--corpus", "-c", help="Corpus to measure (repeatable; default: all)."
        ),
    ] = None,
    split: Annotated[
        Optional[List[str]],
        typer.Option(
            "--split",
            "-s",
            help="Only these splits (repeatable; default: every split of each corpus).",
        ),
    ] = None,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline/--no-baseline", help="Also measure spacy.blank('es')."
        ),
    ] = True,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            help="Write the statistics as JSON here, e.g. metrics/tokenization.json.",
        ),
    ] = None,
    max_rate: Annotated[
        float,
        typer.Option(
            "--max-rate",
            min=0.0,
            max=1.0,
            help="Exit with code 1 if a corpus misaligns more spans.",
        ),
    ] = DEFAULT_MAX_RATE,
    by_label: Annotated[
        bool, typer.Option("--labels/--no-labels", help="Print the per-label table.")
    ] = True,
    by_split: Annotated[
        bool, typer.Option("--by-split", help="Report each split separately.")
    ] = False,
    examples: Annotated[
        int,
        typer.Option(
            "--examples",
            min=0,
            help="Example locations (doc id, offsets) kept per corpus/label.",
        ),
    ] = 3,
) -> None:
    """Count gold spans that do not start and end on token boundaries, per corpus and label.

    Discontinuous annotations are counted per fragment. Also reports
    non-whitespace tokens per 1,000 characters, to show that alignment is not
    bought by over-splitting.
    """
    import spacy

    from ..corpora.alignment_report import (
        corpora_above,
        format_examples,
        format_misalignment_table,
        misalignment_stats,
    )
    from ..tokenizer import make_clinical_nlp

    try:
        collected = collect_items(corpus, split, data_dir, by_split)
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=2) from err
    items = collected["items"]
    stats = misalignment_stats(make_clinical_nlp(), items, max_examples=examples)
    base = (
        misalignment_stats(spacy.blank("es"), items, max_examples=examples)
        if baseline
        else None
    )

    typer.echo(format_misalignment_table(stats, base, by_label=by_label))
    typer.echo("")
    splits = "; ".join(
        f"{name}: {', '.join(s)}" for name, s in collected["splits"].items()
    )
    typer.echo(f"Splits: {splits}. Discontinuous annotations are counted per fragment.")
    for key, counter in collected["counts"].items():
        if counter["no_offsets"]:
            typer.echo(
                f"{key}: {counter['no_offsets']} annotation(s) without offsets were not checked."
            )
    if stats["total"]["misaligned"]:
        typer.echo(
            "\nExamples of misaligned spans (clinical tokenizer; split/doc, offsets, label, reason):"
        )
        typer.echo(format_examples(stats))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "max_rate": max_rate,
            "discontinuous": "counted per fragment",
            "splits": collected["splits"],
            "annotation_counts": {k: dict(v) for k, v in collected["counts"].items()},
            "reader": collected["reader"],
            "clinical": stats,
            "baseline": base,
        }
        output.write_text(
            json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        logger.info("Wrote tokenization report to %s", output)
    above = corpora_above(stats, max_rate)
    if above:
        typer.echo(f"\nAbove --max-rate {max_rate:.2%}: {', '.join(above)}", err=True)
        raise typer.Exit(code=1)
