"""``spacy-clinical-es audit-model`` and ``prune-model``: keep training PHI out of saved pipelines.

``audit-model DIR --against CORPUS`` scans every byte of the pipeline
directory DIR for the annotated strings of CORPUS (a BRAT folder, searched
recursively, or a ``.spacy`` DocBin: its ``doc.ents`` and every span group)
and exits with status 1 when any is found. It prints counts per label and per
file, never the strings (see :mod:`spacy_clinical_es.security.artifact_scan`).
Strings that an untrained pipeline built from DIR's config also holds (label
names, tokenizer exceptions, rules: not training data) are not counted, unless
``--no-reference``.

``prune-model IN OUT`` loads a saved pipeline and writes it again with a
pruned string store (:func:`spacy_clinical_es.security.prune_strings.prune_string_store`);
a ``phi_gazetteer`` saved with verbatim phrases is re-saved as keyed hashes
(set ``SPACY_CLINICAL_ES_GAZETTEER_KEY`` first, the key it will run with).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ClinicalEsError, ConfigError
from ..security.artifact_scan import (
    DEFAULT_MIN_LENGTH,
    NeedleSet,
    ScanReport,
    format_report,
    scan_directory,
)
from . import app

logger = logging.getLogger(__name__)

__all__ = ["annotated_strings", "audit_model", "audit_model_command", "prune_model_command", "reference_bytes"]


def _brat_folders(root: Path) -> list[Path]:
    return sorted({p.parent for p in root.rglob("*.ann")})


def annotated_strings(corpus: Path) -> Iterator[tuple[str, str]]:
    """``(text, label)`` of every annotation of ``corpus``: a BRAT folder (recursive) or a ``.spacy`` DocBin.

    A discontinuous BRAT annotation gives each fragment and the fragments joined by a space.
    """
    corpus = Path(corpus)
    if corpus.is_dir():
        from ..corpora.brat import fragment_text, iter_brat_dir

        folders = _brat_folders(corpus)
        if not folders:
            raise ConfigError(f"No .ann files under {corpus}: give a BRAT folder or a .spacy DocBin.")
        for folder in folders:
            for document in iter_brat_dir(folder):
                for annotation in document.annotations:
                    for start, end in annotation.fragments:
                        yield document.text[start:end], annotation.label
                    if annotation.is_discontinuous:
                        yield fragment_text(document.text, annotation.fragments), annotation.label
        return
    if corpus.is_file() and corpus.suffix == ".spacy":
        from spacy.tokens import DocBin
        from spacy.vocab import Vocab

        try:
            docs = list(DocBin().from_disk(corpus).get_docs(Vocab()))
        except Exception as err:  # msgpack/zlib errors carry no user-facing meaning
            raise ConfigError(f"{corpus} is not a readable .spacy DocBin file.") from err
        for doc in docs:
            for span in doc.ents:
                yield span.text, span.label_
            for group in doc.spans.values():
                for span in group:
                    yield span.text, span.label_
        return
    raise ConfigError(f"Cannot read annotations from {corpus}: give a BRAT folder or a .spacy DocBin.")


def reference_bytes(model: Path) -> bytes | None:
    """What an *untrained* pipeline of ``model``'s config holds: tokenizer data, rule components' state, label names.

    Built from ``config.cfg`` without running ``[initialize]`` (so no training
    data reaches it) plus the label names of ``meta.json``. ``None`` when
    ``model`` is not a pipeline directory.
    """
    config_path = Path(model) / "config.cfg"
    if not config_path.is_file():
        return None
    from spacy import util

    parts: list[bytes] = []
    meta_path = Path(model) / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf8"))
        for names in (meta.get("labels") or {}).values():
            parts.append("\n".join(str(n) for n in names).encode("utf8"))
    try:
        nlp = util.load_model_from_config(util.load_config(config_path), auto_fill=False, validate=False)
    except Exception as err:  # noqa: BLE001 (any config problem: scan without a reference, and say so)
        logger.warning("Cannot build an untrained pipeline from %s (%s): no reference", config_path, type(err).__name__)
        return b"\n".join(parts)
    parts.append(nlp.tokenizer.to_bytes())
    for name, proc in nlp.pipeline:
        if hasattr(proc, "model"):  # trainable: its untrained weights say nothing (and may not serialize)
            continue
        try:
            parts.append(proc.to_bytes(exclude=["vocab"]))
        except Exception as err:  # noqa: BLE001
            logger.info("Reference: %s not serialized (%s)", name, type(err).__name__)
    return b"\n".join(parts)


def audit_model(
    model: Path,
    corpus: Path,
    *,
    min_length: int = DEFAULT_MIN_LENGTH,
    labels: Optional[list[str]] = None,
    reference: bool = True,
) -> ScanReport:
    """Scan the directory ``model`` for the annotated strings of ``corpus`` (only ``labels`` when given).

    reference (bool): do not count strings that an untrained pipeline of the
        same config also holds (:func:`reference_bytes`: label names such as
        ``FAMILIARES_SUJETO_ASISTENCIA`` against an annotated "familiares",
        tokenizer exceptions such as "EE.UU.").
    """
    needles = NeedleSet(min_length=min_length)
    wanted = set(labels) if labels else None
    for text, label in annotated_strings(corpus):
        if wanted is None or label in wanted:
            needles.add(text, label)
    if not len(needles):
        raise ConfigError(f"No annotated string of {min_length}+ characters in {corpus} (labels: {labels or 'all'}).")
    return scan_directory(model, needles, reference=reference_bytes(model) if reference else None)


@app.command("audit-model")
def audit_model_command(
    model: Annotated[Path, typer.Argument(exists=True, help="Pipeline directory (or any directory/file) to scan.")],
    against: Annotated[
        Path,
        typer.Option("--against", exists=True, help="Corpus whose annotated strings must not appear: BRAT folder or .spacy."),
    ],
    min_length: Annotated[
        int, typer.Option("--min-length", min=3, help="Shortest annotated string looked for (characters).")
    ] = DEFAULT_MIN_LENGTH,
    labels: Annotated[
        Optional[str], typer.Option("--labels", help="Comma-separated labels to look for (default: all).")
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write the report (counts only) as JSON here.")
    ] = None,
    reference: Annotated[
        bool,
        typer.Option(
            "--reference/--no-reference",
            help="Do not count strings an untrained pipeline of the same config holds (labels, tokenizer exceptions).",
        ),
    ] = True,
) -> None:
    """Scan every byte of MODEL for the annotated strings of a corpus; exit 1 if any is found (counts only)."""
    wanted = [label.strip() for label in labels.split(",") if label.strip()] if labels else None
    try:
        report = audit_model(model, against, min_length=min_length, labels=wanted, reference=reference)
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=2) from err
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf8")
    typer.echo(format_report(report))
    if not report.clean:
        raise typer.Exit(code=1)


@app.command("prune-model")
def prune_model_command(
    model: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Saved pipeline directory.")],
    output: Annotated[Path, typer.Argument(help="Directory to write the pruned pipeline to (must not exist).")],
) -> None:
    """Re-save MODEL to OUTPUT with only the strings it needs (and a hashed phi_gazetteer)."""
    import spacy

    from ..security.prune_strings import save_pruned

    if output.exists():
        typer.echo(f"Error: {output} exists; give a new directory.", err=True)
        raise typer.Exit(code=2)
    nlp = spacy.load(model)
    save_pruned(nlp, output)
    logger.info("Wrote %s (%d strings in its store; %d in the original)", output, _count_strings(output), len(nlp.vocab.strings))


def _count_strings(model: Path) -> int:
    path = model / "vocab" / "strings.json"
    return len(json.loads(path.read_text(encoding="utf8"))) if path.is_file() else 0
