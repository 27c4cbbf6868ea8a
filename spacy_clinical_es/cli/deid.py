"""``spacy-clinical-es deid``: de-identify .txt files, folders or JSONL with a saved pipeline.

Inputs: ``.txt`` files, folders (every ``*.txt`` below them) and ``.jsonl``
files (one ``{"id": ..., "text": ...}`` object per line). Outputs under
``--out``: the de-identified text under the same relative name (a file given
directly: its name; a folder: the path below it), and for a JSONL input a
JSONL file of the same name with ``{"id", "text"}`` per record (other fields
are not copied: they may hold PHI).

The pipeline (``--model``) must set the PHI spans (``doc.ents``, e.g. the
MEDDOCAN detector + ``phi_rules``); a ``deid_randomizer`` is added at the end
when it has none, reading the span group of a ``phi_recall`` component when
the pipeline has one (entities + recall spans), else ``doc.ents``. The audit
(``OUT/deid_audit.jsonl``, on by default) has one line per document: its id,
the number of spans and per span the input and output offsets, label,
category and action (``keep`` or the mode); the original and replacement
texts only with ``--keep-originals``.

The secret key (``--key`` or ``SPACY_CLINICAL_ES_DEID_KEY``) makes surrogates
consistent across documents; it is passed to worker processes through that
environment variable and is never written anywhere.
"""

# typer evaluates these annotations at runtime, so they keep ``Optional``:
# ruff: noqa: UP045
from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any, Optional

import spacy
import typer
from spacy.language import Language
from spacy.tokens import Doc
from tqdm import tqdm

from ..deid import MODES, DeidError, category_of
from ..errors import ClinicalEsError
from ..pipeline import phi_rules as _phi_rules  # noqa: F401  (registers the factory)
from ..pipeline.deid_randomizer import DEFAULT_KEY_ENV, DeidRandomizer
from ..pipeline.phi_recall import replacement_spans_key
from . import app

logger = logging.getLogger(__name__)

AUDIT_NAME = "deid_audit.jsonl"
RANDOMIZER_NAME = "deid_randomizer"


@dataclass(frozen=True)
class Item:
    """One document to de-identify: where it comes from and where it goes."""

    doc_id: str
    source: Path
    target: Path
    line: int = 0  # JSONL line number (1-based); 0 for .txt files


def collect_items(inputs: list[Path], out_dir: Path) -> tuple[list[Item], Counter]:
    """List the documents of ``inputs`` (texts are read later) and count bad input.

    Raises :class:`DeidError` for a missing input, an unsupported file type,
    two inputs writing the same output, or an output that would overwrite an input.
    """
    items: list[Item] = []
    bad: Counter = Counter()
    for path in inputs:
        if not path.exists():
            raise DeidError(f"Input not found: {path}. Give .txt files, folders of .txt files or .jsonl files.")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.txt") if p.is_file())
            if not files:
                logger.warning("No .txt files under %s", path)
            items.extend(Item(str(p.relative_to(path)), p, out_dir / p.relative_to(path)) for p in files)
        elif path.suffix.lower() == ".txt":
            items.append(Item(path.name, path, out_dir / path.name))
        elif path.suffix.lower() == ".jsonl":
            items.extend(_jsonl_items(path, out_dir / path.name, bad))
        else:
            raise DeidError(f"Unsupported input {path}: give .txt files, folders or .jsonl files.")
    targets: dict[Path, Path] = {}
    sources = {item.source.resolve() for item in items}
    for item in items:
        target = item.target.resolve()
        other = targets.setdefault(target, item.source)
        if other != item.source:
            raise DeidError(
                f"{item.source} and {other} would both be written to {item.target}; "
                "de-identify them in separate runs or with different --out folders."
            )
        if target in sources:
            raise DeidError(f"Output {item.target} is an input file; choose another --out folder.")
    return items, bad


def _jsonl_items(path: Path, target: Path, bad: Counter) -> Iterator[Item]:
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = _parse_record(line)
            if record is None:
                bad["jsonl_bad_record"] += 1
                logger.warning("%s line %d: not a JSON object with a string 'text'; skipped", path, n)
                continue
            doc_id = str(record["id"]) if record.get("id") is not None else f"{path.name}:{n}"
            if doc_id in seen:
                bad["jsonl_duplicate_id"] += 1
                logger.warning("%s line %d: duplicate id (kept)", path, n)
            seen.add(doc_id)
            yield Item(doc_id, path, target, n)


def _parse_record(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return None
    return record


def read_text(item: Item) -> str:
    """The text of ``item`` (a BOM is kept: offsets count it)."""
    if not item.line:
        return item.source.read_text(encoding="utf-8")
    with item.source.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            if n == item.line:
                record = _parse_record(line)
                if record is not None:
                    return record["text"]
                break
    raise DeidError(f"{item.source} line {item.line} changed while it was being read")


def _iter_texts(items: list[Item]) -> Iterator[tuple[str, int]]:
    """``(text, index)`` per item; JSONL files are read once, in order."""
    jsonl: dict[Path, dict[int, str]] = {}
    for i, item in enumerate(items):
        if not item.line:
            yield read_text(item), i
            continue
        if item.source not in jsonl:
            jsonl.clear()
            with item.source.open(encoding="utf-8") as handle:
                jsonl[item.source] = {
                    n: rec["text"]
                    for n, line in enumerate(handle, start=1)
                    if line.strip() and (rec := _parse_record(line)) is not None
                }
        yield jsonl[item.source][item.line], i


def prepare_pipeline(
    model: Path | Language, *, mode: str | None, seed: int | None, key: str | None
) -> tuple[Language, DeidRandomizer]:
    """Load ``model``, add a ``deid_randomizer`` if it has none and configure it."""
    nlp = model if isinstance(model, Language) else spacy.load(model)
    if mode is not None and mode not in MODES:
        raise DeidError(f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}")
    randomizers = [pipe for _, pipe in nlp.pipeline if isinstance(pipe, DeidRandomizer)]
    if randomizers:
        randomizer = randomizers[-1]
        if mode is not None:
            randomizer.cfg["mode"] = mode
        if seed is not None:
            randomizer.cfg["seed"] = seed
        randomizer._validate()
    else:
        # With a phi_recall component, replace its group (entities + recall spans), not only doc.ents.
        config: dict[str, Any] = {"mode": mode or "surrogate", "seed": seed, "spans_key": replacement_spans_key(nlp)}
        randomizer = nlp.add_pipe("deid_randomizer", name=RANDOMIZER_NAME, config=config)
    if key:
        env = randomizer.cfg.get("key_env") or DEFAULT_KEY_ENV
        randomizer.cfg["key_env"] = env
        os.environ[env] = key  # worker processes inherit it; set_key would not reach them
        randomizer.set_key(key)
    return nlp, randomizer


def audit_record(doc: Doc, item: Item, randomizer: DeidRandomizer, *, keep_originals: bool) -> dict[str, Any]:
    """The audit line of one de-identified Doc: offsets, labels, actions; texts only if asked."""
    key = randomizer.cfg["spans_key"]
    spans = list(doc.ents) if key is None else list(doc.spans.get(key, []))
    offset_map = doc._.deid_offset_map
    out_text = doc._.deid_text or ""
    mode = randomizer.cfg["mode"]
    changed = [(s.in_start, s.in_end) for s in offset_map.changed_segments()] if offset_map else []
    rows = []
    for span in sorted(spans, key=lambda s: (s.start_char, s.end_char)):
        start, end = span.start_char, span.end_char
        out_start, out_end = offset_map.to_output_span(start, end) if offset_map else (start, end)
        replaced = any(s < end and start < e for s, e in changed)
        row: dict[str, Any] = {
            "start": start,
            "end": end,
            "out_start": out_start,
            "out_end": out_end,
            "label": span.label_,
            "category": category_of(span.label_, span.text),
            "action": mode if replaced else "keep",
        }
        if keep_originals:
            row["original"] = span.text
            row["replacement"] = out_text[out_start:out_end]
        rows.append(row)
    record: dict[str, Any] = {"id": item.doc_id, "source": str(item.source), "mode": mode, "n_spans": len(rows)}
    if item.line:
        record["line"] = item.line
    record["spans"] = rows
    record["stats"] = doc._.deid_stats or {}
    return record


def deidentify(
    inputs: list[Path],
    model: Path | Language,
    out_dir: Path,
    *,
    mode: str | None = None,
    key: str | None = None,
    seed: int | None = None,
    n_process: int = 1,
    batch_size: int = 32,
    audit: bool = True,
    keep_originals: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """De-identify ``inputs`` into ``out_dir``; returns counts (documents, spans per label, bad input)."""
    items, bad = collect_items(inputs, out_dir)
    nlp, randomizer = prepare_pipeline(model, mode=mode, seed=seed, key=key)
    if not key and randomizer.cfg.get("seed") is None and not os.environ.get(randomizer.cfg.get("key_env") or ""):
        logger.warning("No key and no seed: surrogates are not consistent across documents (give --key).")
    out_dir.mkdir(parents=True, exist_ok=True)
    labels: Counter = Counter()
    actions: Counter = Counter()
    handles: dict[Path, IO[str]] = {}
    audit_handle = (out_dir / AUDIT_NAME).open("w", encoding="utf-8") if audit else None
    n_docs = 0
    try:
        stream = nlp.pipe(_iter_texts(items), as_tuples=True, n_process=n_process, batch_size=batch_size)
        for doc, i in tqdm(stream, total=len(items), unit="doc", disable=not progress):
            item = items[i]
            text = doc._.deid_text
            if text is None:
                raise DeidError(f"{item.source}: the pipeline produced no de-identified text")
            if item.line:
                if item.target not in handles:
                    item.target.parent.mkdir(parents=True, exist_ok=True)
                    handles[item.target] = item.target.open("w", encoding="utf-8")
                handles[item.target].write(json.dumps({"id": item.doc_id, "text": text}, ensure_ascii=False) + "\n")
            else:
                item.target.parent.mkdir(parents=True, exist_ok=True)
                item.target.write_text(text, encoding="utf-8")
            record = audit_record(doc, item, randomizer, keep_originals=keep_originals)
            labels.update(row["label"] for row in record["spans"])
            actions.update(row["action"] for row in record["spans"])
            if audit_handle is not None:
                audit_handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            n_docs += 1
    finally:
        for handle in handles.values():
            handle.close()
        if audit_handle is not None:
            audit_handle.close()
    return {"documents": n_docs, "labels": dict(labels), "actions": dict(actions), "bad_input": dict(bad)}


@app.command("deid")
def deid_command(
    inputs: Annotated[list[Path], typer.Argument(help=".txt files, folders (recursive *.txt) or .jsonl files.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Pipeline directory that sets the PHI spans.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    mode: Annotated[
        Optional[str], typer.Option("--mode", help="surrogate, mask or redact (default: the pipeline's, else surrogate).")
    ] = None,
    key: Annotated[
        Optional[str],
        typer.Option(
            "--key",
            envvar=DEFAULT_KEY_ENV,
            show_envvar=True,
            help="Secret key: the same original gets the same surrogate in every document.",
        ),
    ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Reproducible output when no key is given.")] = None,
    n_process: Annotated[int, typer.Option("--n-process", min=1, help="Processes for nlp.pipe.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Batch size for nlp.pipe.")] = 32,
    audit: Annotated[bool, typer.Option("--audit/--no-audit", help=f"Write OUT/{AUDIT_NAME}.")] = True,
    keep_originals: Annotated[
        bool,
        typer.Option("--keep-originals", help="Put original and replacement texts in the audit (it then holds PHI)."),
    ] = False,
) -> None:
    """De-identify INPUTS with MODEL and write the results (and an audit) to OUT."""
    if keep_originals and not audit:
        typer.echo("Error: --keep-originals needs the audit (drop --no-audit).", err=True)
        raise typer.Exit(code=1)
    if keep_originals:
        logger.warning("--keep-originals: %s will contain the original PHI; protect it accordingly.", AUDIT_NAME)
    try:
        summary = deidentify(
            inputs,
            model,
            out,
            mode=mode,
            key=key,
            seed=seed,
            n_process=n_process,
            batch_size=batch_size,
            audit=audit,
            keep_originals=keep_originals,
        )
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err
    except OSError as err:
        typer.echo(f"Error: cannot load the model or read/write files ({type(err).__name__}: {err.strerror or err})", err=True)
        raise typer.Exit(code=1) from err
    typer.echo(f"De-identified {summary['documents']} documents into {out}")
    typer.echo("| label | spans |\n|---|---:|")
    for label, n in sorted(summary["labels"].items()):
        typer.echo(f"| {label} | {n} |")
    for action, n in sorted(summary["actions"].items()):
        typer.echo(f"action {action}: {n}")
    for reason, n in sorted(summary["bad_input"].items()):
        typer.echo(f"bad input ({reason}): {n}")
