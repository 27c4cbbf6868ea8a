"""``spacy-clinical-es visualize``: HTML pages to look at a pipeline's output on some notes.

    python -m spacy_clinical_es visualize notes/ --model es_clinical_concepts --deid-model es_clinical_deid --out html/

Writes ``OUT/concepts.html`` (displaCy: concepts of ``--model`` coloured by
label, codes and scores on hover, negated ones struck through; for a
de-identification pipeline, its PHI entities) and, when ``--model`` or
``--deid-model`` has a ``deid_randomizer``, ``OUT/deid_review.html``:
original and de-identified text side by side with every replaced span paired
through the offset map (see :mod:`spacy_clinical_es.evaluation.visualize`).
Inputs are read as by ``annotate``; documents that cannot be read are named
and skipped. Both pages hold clinical text.
"""

# typer evaluates these annotations at runtime, so they keep ``Optional``:
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from spacy.language import Language

from ..errors import ClinicalEsError
from ..evaluation.visualize import Replacement, concepts_page, review_page
from ..runtime.annotate import (
    AnnotateOptions,
    concept_records,
    read_items,
    sets_context_flags,
)
from ..runtime.batch import collect_inputs, find_randomizer, piece_audit
from ..runtime.io import atomic_write
from . import app
from ._runner import Inputs, model_target, run_errors

logger = logging.getLogger(__name__)

CONCEPTS_PAGE = "concepts.html"
REVIEW_PAGE = "deid_review.html"


def _load(model: str) -> Language:
    import spacy

    return spacy.load(model_target(model))


def _has_randomizer(nlp: Language) -> bool:
    try:
        find_randomizer(nlp)
    except ClinicalEsError:
        return False
    return True


def read_documents(inputs: Sequence[Path], *, limit: int | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """``(doc_id, text)`` of the readable documents of ``inputs`` (at most ``limit``) and the ids that failed."""
    files, _ = collect_inputs(inputs)
    docs, failed = [], []
    for item in read_items(files, AnnotateOptions()):
        if item.failure is not None or item.text is None:
            failed.append(item.doc_id)
            logger.warning("%s: not shown (%s)", item.doc_id, item.failure.reason if item.failure else "no text")
            continue
        docs.append((item.doc_id, item.text))
        if limit is not None and len(docs) >= limit:
            break
    return docs, failed


def build_pages(
    documents: Sequence[tuple[str, str]], model: Language, out: Path, *, deid_model: Language | None = None
) -> list[Path]:
    """Write the concepts page (and the review page when a pipeline de-identifies); returns the pages written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    records: list[tuple[str, str, list[dict[str, Any]]]] = []
    reviews: list[tuple[str, str, str, list[Replacement], Any]] = []
    deid = deid_model if deid_model is not None else (model if _has_randomizer(model) else None)
    context = sets_context_flags(model)  # negated / uncertain concepts are drawn as such
    for (doc_id, text), doc in zip(documents, model.pipe(text for _, text in documents)):
        records.append((doc_id, text, concept_records(doc, doc_id, context=context)))
    title = "Entidades PHI" if deid is model else "Conceptos"
    atomic_write(out / CONCEPTS_PAGE, concepts_page(records, title=title).encode("utf-8"), mode=0o600)
    written.append(out / CONCEPTS_PAGE)
    if deid is not None:
        randomizer = find_randomizer(deid)
        for (doc_id, text), doc in zip(documents, deid.pipe(text for _, text in documents)):
            rows = piece_audit(doc, randomizer, keep_originals=False)
            replacements = [
                Replacement(r["start"], r["end"], r["out_start"], r["out_end"], r["label"], r["action"]) for r in rows
            ]
            reviews.append((doc_id, text, doc._.deid_text or "", replacements, doc._.deid_offset_map))
        atomic_write(out / REVIEW_PAGE, review_page(reviews).encode("utf-8"), mode=0o600)
        written.append(out / REVIEW_PAGE)
    return written


@app.command("visualize")
def visualize_command(
    inputs: Inputs,
    model: Annotated[str, typer.Option("--model", "-m", help="Pipeline (installed name or directory) to show.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the HTML pages.")],
    deid_model: Annotated[
        Optional[str], typer.Option("--deid-model", help="De-identification pipeline for the review page.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many documents.")] = 50,
) -> None:
    """Write HTML pages (displaCy concepts; de-identification review) for INPUTS into OUT."""
    with run_errors():
        documents, failed = read_documents(inputs, limit=limit)
        nlp = _load(model)
        deid = _load(deid_model) if deid_model else None
        if deid is not None and not _has_randomizer(deid):
            raise typer.BadParameter("--deid-model has no deid_randomizer", param_hint="--deid-model")
        pages = build_pages(documents, nlp, out, deid_model=deid)
    for page in pages:
        typer.echo(f"Wrote {page.resolve().as_uri()}")
    if failed:
        typer.echo(f"{len(failed)} document(s) could not be read and are not shown: {', '.join(failed[:20])}", err=True)
        raise typer.Exit(code=3)
