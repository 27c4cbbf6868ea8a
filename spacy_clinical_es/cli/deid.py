"""``spacy-clinical-es deid``: de-identify .txt files, folders, JSONL or CSV with a saved pipeline.

A thin shell over :func:`spacy_clinical_es.runtime.batch.run_deid` (the
batch runner: atomic outputs, manifest, ``--resume``, ``failures.jsonl``);
see README.md ("De-identification") for the files written, the exit codes
and the key, file and symlink rules.

Inputs: ``.txt`` files, folders (every ``*.txt`` below them; symlinks inside
folders are skipped and counted), ``.jsonl`` files (one ``{"id", "text"}``
object per line, optional ``patient_id``) and ``.csv`` files (columns ``id``,
``text``, optional ``patient_id``). Outputs under ``--out``: the
de-identified text under the same relative name, and for a JSONL/CSV input a
file of the same name and type with ``id``, ``text`` and the ``--keep-fields``
(no other field is copied: they may hold PHI).

The pipeline (``--model``) must set the PHI spans (``doc.ents``, e.g. the
MEDDOCAN detector + ``phi_rules``); a ``deid_randomizer`` is added at the end
when it has none, reading the span group of a ``phi_recall`` component when
the pipeline has one (entities + recall spans), else ``doc.ents``.

The secret key comes from ``SPACY_CLINICAL_ES_DEID_KEY`` or ``--key-file`` (a
file only its owner can read); ``--key`` works but warns (other local users
see a process's argv). Worker processes receive it through a pipe, never
their command line. It is never written anywhere.
"""

# typer evaluates these annotations at runtime, so they keep ``Optional``:
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from spacy.tokens import Doc

from ..deid import ReplacementPolicy
from ..pipeline.deid_randomizer import DEFAULT_KEY_ENV, DeidRandomizer
from ..runtime.batch import (
    AUDIT_NAME,
    DEFAULT_MAX_CHARS,
    DEFAULT_PIECE_CHARS,
    FAILURES_NAME,
    MANIFEST_NAME,
    RANDOMIZER_NAME,
    RunOptions,
    RunSummary,
    piece_audit,
    prepare_pipeline,
    run_deid,
)
from ..runtime.io import RunnerError, check_key, read_key_file
from . import app
from ._runner import Inputs, run_errors

logger = logging.getLogger(__name__)

__all__ = ["AUDIT_NAME", "FAILURES_NAME", "MANIFEST_NAME", "RANDOMIZER_NAME", "Item", "audit_record", "prepare_pipeline"]


@dataclass(frozen=True)
class Item:
    """Where one document comes from (kept for callers of :func:`audit_record`)."""

    doc_id: str
    source: Path
    target: Path
    line: int = 0


def audit_record(doc: Doc, item: Item, randomizer: DeidRandomizer, *, keep_originals: bool) -> dict[str, Any]:
    """The audit line of one de-identified Doc (prefer :func:`~spacy_clinical_es.runtime.batch.deidentify_batch`)."""
    rows = piece_audit(doc, randomizer, keep_originals=keep_originals)
    record: dict[str, Any] = {"id": item.doc_id, "source": str(item.source), "mode": randomizer.cfg["mode"]}
    record["n_spans"] = len(rows)
    if item.line:
        record["line"] = item.line
    record["spans"] = rows
    record["stats"] = doc._.deid_stats or {}
    return record


def resolve_key(key: str | None, key_file: Path | None) -> str | None:
    """The run's key: ``--key-file``, else ``--key`` (with a warning), else the environment; checked for length."""
    if key and key_file:
        raise RunnerError("Give the key once: --key-file or --key (better: the environment variable), not both.")
    if key_file is not None:
        return read_key_file(key_file)
    if key:
        logger.warning(
            "--key on the command line is visible to other local users (ps, /proc/<pid>/cmdline); "
            "use %s or --key-file instead.",
            DEFAULT_KEY_ENV,
        )
        return check_key(key, source="--key")
    env = os.environ.get(DEFAULT_KEY_ENV)
    if env:
        return check_key(env, source=DEFAULT_KEY_ENV)
    return None


def _umask(value: str) -> int:
    try:
        mask = int(value, 8)
    except ValueError as err:
        raise RunnerError(f"--umask {value!r} is not an octal number such as 077 or 022.") from err
    if not 0 <= mask <= 0o777:
        raise RunnerError(f"--umask {value!r} is out of range (000-777).")
    return mask


def print_summary(summary: RunSummary, out: Path) -> None:
    """The run's counts on stdout (no text, no paths of failed documents: see failures.jsonl)."""
    typer.echo(
        f"De-identified {summary.done} documents into {out} "
        f"(failed {summary.failed}, skipped {summary.skipped} already done)"
    )
    typer.echo("| label | spans |\n|---|---:|")
    for label, n in sorted(summary.labels.items()):
        typer.echo(f"| {label} | {n} |")
    for action, n in sorted(summary.actions.items()):
        typer.echo(f"action {action}: {n}")
    for reason, n in sorted(summary.failures.items()):
        typer.echo(f"failed ({reason}): {n}")
    if summary.failed:
        typer.echo(f"Failed documents and reasons: {out / FAILURES_NAME}")
    if summary.leaky_documents:
        typer.echo(
            f"unresolved leaks: {summary.leaks} in {summary.leaky_documents} documents written "
            "(see the audit stats; --strict withholds such documents)"
        )
    if summary.pieces:
        typer.echo(f"documents processed in pieces: {summary.pieces}")
    if summary.input_symlinks_skipped:
        typer.echo(f"input symlinks skipped: {summary.input_symlinks_skipped}")
    if summary.duplicate_ids:
        typer.echo(f"duplicate ids (kept): {summary.duplicate_ids}")


def randomizer_settings(
    policy: Path | None, *, no_recall: bool, recall_threshold: float | None, keep_relatives: bool | None
) -> tuple[tuple[str, Any], ...]:
    """``DeidRandomizer.configure`` keywords of the policy flags (the policy file is checked here, named on error)."""
    settings: dict[str, Any] = {}
    if policy is not None:
        settings["policy"] = ReplacementPolicy.from_file(policy).to_dict()
    if no_recall:
        settings["use_recall"] = False
    if recall_threshold is not None:
        settings["recall_threshold"] = recall_threshold
    if keep_relatives is not None:
        settings["keep_relatives"] = keep_relatives
    return tuple(sorted(settings.items()))


@app.command("deid")
def deid_command(
    inputs: Inputs,
    model: Annotated[Path, typer.Option("--model", "-m", help="Pipeline directory that sets the PHI spans.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (never a symlink).")],
    mode: Annotated[
        Optional[str], typer.Option("--mode", help="surrogate, mask or redact (default: the pipeline's, else surrogate).")
    ] = None,
    key_file: Annotated[
        Optional[Path],
        typer.Option("--key-file", help=f"File holding the secret key (mode 600). Default: ${DEFAULT_KEY_ENV}."),
    ] = None,
    key: Annotated[
        Optional[str],
        typer.Option("--key", help=f"Secret key on the command line (visible to other users: prefer ${DEFAULT_KEY_ENV})."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Reproducible output when no key is given.")] = None,
    n_process: Annotated[int, typer.Option("--n-process", min=1, help="Worker processes.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Documents per batch.")] = 32,
    audit: Annotated[bool, typer.Option("--audit/--no-audit", help=f"Write OUT/{AUDIT_NAME}.")] = True,
    keep_originals: Annotated[
        bool,
        typer.Option("--keep-originals", help="Put original and replacement texts in the audit (it then holds PHI; mode 600)."),
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help=f"Skip documents OUT/{MANIFEST_NAME} records with the same input and settings.")
    ] = False,
    max_chars: Annotated[
        int, typer.Option("--max-chars", min=0, help="Refuse longer documents (recorded as failures); 0: no limit.")
    ] = DEFAULT_MAX_CHARS,
    piece_chars: Annotated[
        int,
        typer.Option("--piece-chars", min=0, help="Process longer documents in pieces cut at paragraph/line breaks; 0: never."),
    ] = DEFAULT_PIECE_CHARS,
    encoding: Annotated[
        str, typer.Option("--encoding", help="Input encoding; auto: UTF-8, else detect cp1252/latin-1.")
    ] = "auto",
    keep_fields: Annotated[
        Optional[list[str]], typer.Option("--keep-fields", help="JSONL/CSV fields copied to the output (repeatable).")
    ] = None,
    hash_ids: Annotated[
        bool, typer.Option("--hash-ids", help="Replace document ids and output file names by keyed hashes.")
    ] = False,
    id_map: Annotated[
        Optional[Path], typer.Option("--id-map", help="With --hash-ids: write hashed id -> id and source here (mode 600).")
    ] = None,
    umask: Annotated[str, typer.Option("--umask", help="Permissions mask of outputs (077: 600 files, 700 folders).")] = "077",
    strict: Annotated[
        bool, typer.Option("--strict", help="Withhold documents with unresolved leaks (recorded as failures).")
    ] = False,
    code: Annotated[
        Optional[list[Path]], typer.Option("--code", help="Python file with custom components, imported in every process.")
    ] = None,
    policy: Annotated[
        Optional[Path],
        typer.Option("--policy", help="Replacement policy (YAML/JSON): surrogate, mask, redact or keep per label and source."),
    ] = None,
    no_recall: Annotated[
        bool, typer.Option("--no-recall", help="Keep the phi_recall spans (replace the detector's entities only).")
    ] = False,
    recall_threshold: Annotated[
        Optional[float],
        typer.Option("--recall-threshold", min=0.0, max=1.0, help="phi_recall threshold (default: the pipeline's)."),
    ] = None,
    keep_relatives: Annotated[
        Optional[bool],
        typer.Option(
            "--keep-relatives/--replace-relatives",
            help="Keep kinship words ('su hija'; the default) or rewrite them; names of relatives are always replaced.",
        ),
    ] = None,
) -> None:
    """De-identify INPUTS with MODEL and write the results (and an audit) to OUT.

    Exit codes: 0 all documents written; 1 the run could not start; 3 some documents failed (see OUT/failures.jsonl);
    4 some documents were written with unresolved leaks.
    """
    if keep_originals:
        logger.warning("--keep-originals: %s will contain the original PHI (written with mode 600).", AUDIT_NAME)
    with run_errors():
        if id_map is not None and not hash_ids:
            raise RunnerError("--id-map needs --hash-ids.")
        options = RunOptions(
            mode=mode,
            key=resolve_key(key, key_file),
            seed=seed,
            n_process=n_process,
            batch_size=batch_size,
            audit=audit,
            keep_originals=keep_originals,
            resume=resume,
            max_chars=max_chars,
            piece_chars=piece_chars,
            encoding=encoding,
            keep_fields=tuple(keep_fields or ()),
            hash_ids=hash_ids,
            id_map=id_map,
            umask=_umask(umask),
            strict=strict,
            code=tuple(code or ()),
            randomizer=randomizer_settings(policy, no_recall=no_recall, recall_threshold=recall_threshold, keep_relatives=keep_relatives),
        )
        summary = run_deid(inputs, model, out, options)
    print_summary(summary, out)
    if summary.exit_code:
        raise typer.Exit(code=summary.exit_code)
