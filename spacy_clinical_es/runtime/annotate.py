"""The annotation runner: concepts (label, codes, fragments, negation) of many documents, one record per concept.

Two layers, as :mod:`spacy_clinical_es.runtime.batch` for ``deid``:

* :func:`concept_records` / :func:`annotate_batch` — the per-document and
  per-batch functions: texts in, one list of concept records out per text,
  or a failure reason (never raises for one bad document, never puts text in
  a reason).
* :func:`run_annotate` — the ``annotate`` CLI run over files, built on the
  runner's public helpers (:func:`~.batch.collect_inputs`,
  :func:`~.io.decode_document`, :func:`~.io.jsonl_records`,
  :func:`~.io.csv_rows`, :func:`~.io.atomic_write`, and the
  :class:`~.manifest.RunJournal` of ``deid``): the same
  inputs (``.txt`` files, folders of them, ``.jsonl``/``.csv`` with a
  ``text`` column) and the same bad-input rules (a document that cannot be
  decoded, is empty or binary, or a record without a string ``text``, is
  recorded in ``failures.jsonl`` with its id, file, line and reason, the run
  goes on and exits with :data:`~.batch.EXIT_FAILED`); ``manifest.jsonl``
  (settings hash, then one line per document with the sizes of the output
  journals) makes ``--resume`` skip what is done and cut what a killed run
  wrote after its last manifest line; documents that failed are tried again
  (``failures.jsonl`` is append-only, so one that fails again is listed again).

Which spans are concepts: ``doc.spans["concepts"]`` when the pipeline writes
it (``es_clinical_concepts``: fragments sharing ``span.id_``, codes in
``span._.concept_codes``), else ``doc.ents`` (``kb_id_`` and
``span._.candidates`` of a linker, code system ``"kb"``). ``--spans-key``
picks another group.

Record fields: ``doc_id``, ``concept_id``, ``start``, ``end``, ``label``,
``code_system``, ``code``, ``score`` (the first code system with a code, else
the first), ``codes`` (every system: ``{"code", "score"}``), ``fragments``
(``[[start, end], ...]``; two or more: discontinuous), ``nested_in`` (the id
of the shortest other concept that contains it), ``negated``/``uncertain``
(when a component of the pipeline sets them), ``text`` only with ``with_text``
(it is clinical text).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from .. import __version__
from ..corpora.annotations import Annotation, Document
from ..corpora.brat import format_ann
from .batch import DEFAULT_MAX_CHARS, InputFile, collect_inputs
from .io import (
    DocumentFailure,
    RunnerError,
    atomic_write,
    check_length,
    check_no_symlink,
    csv_rows,
    decode_document,
    jsonl_records,
    make_dirs,
    row_hash,
    sha256_hex,
    validate_text,
)
from .manifest import (  # noqa: F401
    FAILURES_NAME,
    MANIFEST_NAME,
    RunJournal,
    exit_code,
    json_line,
    model_fingerprint,
    prepare_out_dir,
)

logger = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv", "brat")
CONCEPTS_KEY = "concepts"
TABLE_NAMES = {"jsonl": "concepts.jsonl", "csv": "concepts.csv"}
BRAT_DIR = "brat"
CSV_COLUMNS = (
    "doc_id", "concept_id", "start", "end", "label", "code_system", "code", "score", "codes", "fragments",
    "nested_in", "negated", "uncertain", "text",
)
#: Code system name of ``kb_id_`` codes of spans outside ``doc.spans["concepts"]``.
DEFAULT_CODE_SYSTEM = "kb"


# -- records of one Doc ----------------------------------------------------------------------------------------


def _concept_spans(doc: Doc, spans_key: str | None) -> tuple[list[Span], bool]:
    """The concept spans of ``doc`` and whether they come from a span group (fragments share ``id_``)."""
    key = spans_key if spans_key is not None else (CONCEPTS_KEY if CONCEPTS_KEY in doc.spans else None)
    if key is None:
        return list(doc.ents), False
    return list(doc.spans[key]) if key in doc.spans else [], True


def _codes_of(span: Span) -> dict[str, dict[str, Any]]:
    if Span.has_extension("concept_codes"):
        codes = span._.concept_codes
        if codes:
            return {system: {"code": r.get("code"), "score": r.get("score")} for system, r in codes.items()}
    candidates = span._.candidates if Span.has_extension("candidates") else None
    if span.kb_id_ or candidates:
        score = float(candidates[0][1]) if candidates else None
        return {DEFAULT_CODE_SYSTEM: {"code": span.kb_id_ or None, "score": score}}
    return {}


def sets_context_flags(nlp: Language | None) -> bool:
    """Whether a component of ``nlp`` sets ``span._.negated`` / ``span._.uncertain``."""
    if nlp is None or not Span.has_extension("negated"):
        return False
    return any("span._.negated" in nlp.get_pipe_meta(name).assigns for name in nlp.pipe_names)


def concept_records(
    doc: Doc,
    doc_id: str,
    *,
    spans_key: str | None = None,
    with_text: bool = False,
    context: bool = False,
) -> list[dict[str, Any]]:
    """One record per concept of ``doc`` (see the module docstring for the fields), in text order."""
    spans, grouped = _concept_spans(doc, spans_key)
    concepts: dict[tuple[str, str], list[Span]] = {}
    for i, span in enumerate(spans):
        key = (span.id_, span.label_) if grouped and span.id_ else (f"#{i}", span.label_)
        concepts.setdefault(key, []).append(span)
    rows: list[dict[str, Any]] = []
    for parts in concepts.values():
        parts = sorted(parts, key=lambda s: (s.start_char, s.end_char))
        first = parts[0]
        codes = _codes_of(first)
        primary = next((s for s, r in codes.items() if r.get("code")), next(iter(codes), None))
        row: dict[str, Any] = {
            "doc_id": doc_id,
            "concept_id": "",
            "start": first.start_char,
            "end": parts[-1].end_char,
            "label": first.label_,
            "code_system": primary,
            "code": codes[primary]["code"] if primary else None,
            "score": codes[primary]["score"] if primary else None,
            "codes": codes,
            "fragments": [[s.start_char, s.end_char] for s in parts],
            "nested_in": None,
        }
        if context:
            row["negated"] = any(bool(s._.negated) for s in parts)
            row["uncertain"] = any(bool(s._.uncertain) for s in parts)
        if with_text:
            row["text"] = " ".join(doc.text[s:e] for s, e in row["fragments"])
        rows.append(row)
    rows.sort(key=lambda r: (r["start"], -r["end"], r["label"]))
    for n, row in enumerate(rows, start=1):
        row["concept_id"] = f"C{n}"
    for row, holder in zip(rows, nested_in([(r["start"], r["end"]) for r in rows])):
        row["nested_in"] = rows[holder]["concept_id"] if holder is not None else None
    return rows


def nested_in(spans: Sequence[tuple[int, int]]) -> list[int | None]:
    """For each ``(start, end)`` (sorted by start, then longest first), the index of the shortest longer span holding it.

    Ties go to the first such span in order. One pass with the spans still open at each start, so a document with
    thousands of candidate spans (an untrained span finder) does not cost a comparison of every pair.
    """
    out: list[int | None] = []
    open_spans: list[int] = []  # indices of earlier spans whose end is past the current start
    for i, (start, end) in enumerate(spans):
        open_spans = [j for j in open_spans if spans[j][1] >= start]  # one ended before: holds nothing from here on
        best: int | None = None
        for j in open_spans:
            s, e = spans[j]
            holds = s <= start and end <= e and (e - s) > (end - start)
            if holds and (best is None or (e - s) < (spans[best][1] - spans[best][0])):
                best = j
        out.append(best)
        open_spans.append(i)
    return out


@dataclass
class AnnotateResult:
    """The concepts of one document, or why it failed (``reason``/``detail`` never hold text)."""

    doc_id: str
    records: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    detail: str | None = None
    text: str | None = None  # kept for BRAT output only

    @property
    def ok(self) -> bool:
        return self.reason is None


def _pipeline_error(err: BaseException) -> str:
    """A PHI-free description of a pipeline error: its type only (messages may quote text)."""
    return f"the pipeline raised {type(err).__name__}"


def annotate_batch(
    nlp: Language,
    texts: Sequence[tuple[str, str]],
    *,
    spans_key: str | None = None,
    with_text: bool = False,
    batch_size: int = 32,
    keep_text: bool = False,
) -> list[AnnotateResult]:
    """Annotate ``(doc_id, text)`` pairs; one result per pair, in order. One failing text fails alone."""
    context = sets_context_flags(nlp)
    results: list[AnnotateResult] = []
    good: list[tuple[int, str, str]] = []
    for i, (doc_id, text) in enumerate(texts):
        try:
            validate_text(text)
        except DocumentFailure as failure:
            results.append(AnnotateResult(doc_id, reason=failure.reason, detail=failure.detail))
            continue
        results.append(AnnotateResult(doc_id))
        good.append((i, doc_id, text))
    try:
        docs: list[Doc | BaseException] = list(nlp.pipe((t for _, _, t in good), batch_size=batch_size))
    except Exception:  # noqa: BLE001 (isolate the failing document, keep the others)
        docs = []
        for _, _, text in good:
            try:
                docs.append(nlp(text))
            except Exception as err:  # noqa: BLE001
                docs.append(err)
    for (i, doc_id, text), doc in zip(good, docs):
        if isinstance(doc, BaseException):
            results[i] = AnnotateResult(doc_id, reason="pipeline_error", detail=_pipeline_error(doc))
            continue
        results[i].records = concept_records(doc, doc_id, spans_key=spans_key, with_text=with_text, context=context)
        if keep_text:
            results[i].text = text
    return results


# -- the file runner -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnotateOptions:
    """Options of :func:`run_annotate` (the ``annotate`` CLI flags)."""

    format: str = "jsonl"
    with_text: bool = False
    spans_key: str | None = None
    batch_size: int = 32
    resume: bool = False
    encoding: str | None = None
    max_chars: int = DEFAULT_MAX_CHARS
    progress: bool = True
    fsync: bool = True


@dataclass
class AnnotateSummary:
    """Counts of a run (no text)."""

    documents: int = 0
    concepts: int = 0
    failed: int = 0
    skipped: int = 0
    labels: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    failed_documents: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every document was annotated, :data:`~.manifest.EXIT_FAILED` when some failed."""
        return exit_code(self.failed)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "labels": dict(self.labels), "failures": dict(self.failures)}


@dataclass
class Item:
    """A document read by the runner: its key, id, where it is, its content hash, text or failure."""

    key: str
    doc_id: str
    file: InputFile
    line: int
    input_hash: str
    text: str | None = None
    failure: DocumentFailure | None = None


def _settings_hash(model: Path | Language, options: AnnotateOptions) -> str:
    settings = {
        "version": __version__, "model": model_fingerprint(model, name_fallback=True), "format": options.format, "with_text": options.with_text,
        "spans_key": options.spans_key, "encoding": options.encoding, "max_chars": options.max_chars,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()


def read_items(files: Sequence[InputFile], options: AnnotateOptions) -> Iterator[Item]:
    """Every document of ``files`` with its text or failure (bytes read without newline translation)."""
    for f in files:
        if f.kind == "txt":
            raw = f.source.read_bytes()
            item = Item(f.name, f.name, f, 0, sha256_hex(raw))
            try:
                item.text, _ = decode_document(raw, options.encoding)
                check_length(item.text, options.max_chars)
            except DocumentFailure as failure:
                item.failure = failure
            yield item
        elif f.kind == "jsonl":
            yield from _jsonl_items(f, options)
        else:
            yield from _csv_items(f, options)


def _record_item(f: InputFile, line: int, raw_hash: str, record: Any, options: AnnotateOptions) -> Item:
    key = f"{f.name}:{line}"
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return Item(key, key, f, line, raw_hash, failure=DocumentFailure("bad_record", "not an object with a string 'text'"))
    raw_id = record.get("id")
    item = Item(key, str(raw_id) if raw_id not in (None, "") else key, f, line, raw_hash, text=record["text"])
    try:
        check_length(item.text, options.max_chars)
    except DocumentFailure as failure:
        item.failure, item.text = failure, None
    return item


def _jsonl_items(f: InputFile, options: AnnotateOptions) -> Iterator[Item]:
    for line, raw_hash, record, _, failure in jsonl_records(f.source, options.encoding):
        if failure is not None:
            key = f"{f.name}:{line}"
            yield Item(key, key, f, line, raw_hash, failure=failure)
            continue
        yield _record_item(f, line, raw_hash, record, options)


def _csv_items(f: InputFile, options: AnnotateOptions) -> Iterator[Item]:
    raw = f.source.read_bytes()
    try:
        rows, _ = csv_rows(raw, options.encoding)
    except DocumentFailure as failure:
        yield Item(f.name, f.name, f, 0, sha256_hex(raw), failure=failure)
        return
    for number, row in enumerate(rows, start=1):
        yield _record_item(f, number, row_hash(row), row, options)


def _csv_line(values: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


def _csv_row(record: dict[str, Any]) -> list[Any]:
    def cell(name: str) -> Any:
        value = record.get(name)
        if name == "codes":
            return ";".join(f"{s}:{r.get('code') or ''}:{'' if r.get('score') is None else round(r['score'], 4)}"
                            for s, r in (value or {}).items())
        if name == "fragments":
            return ";".join(f"{s} {e}" for s, e in value)
        return "" if value is None else value

    return [cell(name) for name in CSV_COLUMNS]


def brat_ann(result: AnnotateResult) -> str:
    """The ``.ann`` of one result: ``T`` lines with fragments, ``N`` lines per code, ``A`` lines for negation."""
    annotations = []
    for record in result.records:
        fragments = [(s, e) for s, e in record["fragments"]]
        text = " ".join((result.text or "")[s:e] for s, e in fragments)
        codes = {system.replace(" ", ""): r["code"] for system, r in record["codes"].items() if r.get("code")}
        attributes = {name.capitalize(): "true" for name in ("negated", "uncertain") if record.get(name)}
        annotations.append(Annotation(f"T{len(annotations) + 1}", record["label"], fragments, text, codes, attributes))
    return format_ann(Document(id=result.doc_id, text=result.text or "", annotations=annotations))


class _Run:
    """One ``annotate`` run over files (see :func:`run_annotate`)."""

    def __init__(self, inputs: Sequence[Path], model: Path | Language, out_dir: Path, options: AnnotateOptions) -> None:
        if options.format not in FORMATS:
            raise RunnerError(f"Unknown --format {options.format!r}; use one of: {', '.join(FORMATS)}.")
        if options.batch_size < 1:
            raise RunnerError("--batch-size must be at least 1.")
        self.options = options
        self.out = out_dir
        self.files, _ = collect_inputs(inputs)
        self.settings = _settings_hash(model, options)
        if isinstance(model, Language):
            self.nlp = model
        else:
            import spacy

            self.nlp = spacy.load(model)
        self.summary = AnnotateSummary()

    def _open(self) -> None:
        table_name = TABLE_NAMES.get(self.options.format)
        prepare_out_dir(self.out, names=(table_name,) if table_name else ())
        self.journal = RunJournal(
            self.out, self.settings, end_keys=("table_end",), settings="model, format, options"
        )
        self.journal.open(self.options.resume)
        self.table: IO[bytes] | None = None
        if table_name is not None:
            self.table = self.journal.open_journal(table_name, "table_end")
            if self.options.format == "csv" and self.table.tell() == 0:
                self.table.write(_csv_line(CSV_COLUMNS))
        self.journal.open_failures()

    def _write(self, item: Item, result: AnnotateResult) -> None:
        if result.ok:
            if self.options.format == "brat":
                stem = item.key.replace("/", "__").removesuffix(".txt").replace(":", "_")
                target = self.out / BRAT_DIR / f"{stem}.ann"
                make_dirs(self.out, target.parent, 0o700)
                check_no_symlink(self.out, target)
                atomic_write(target, brat_ann(result).encode("utf-8"), fsync=self.options.fsync)
                atomic_write(target.with_suffix(".txt"), (result.text or "").encode("utf-8"), fsync=self.options.fsync)
            else:
                assert self.table is not None
                for record in result.records:
                    line = json_line(record) if self.options.format == "jsonl" else _csv_line(_csv_row(record))
                    self.table.write(line)
            self.summary.documents += 1
            self.summary.concepts += len(result.records)
            self.summary.labels.update(r["label"] for r in result.records)
            status = "done"
        else:
            where = {"source": str(item.file.source), **({"line": item.line} if item.line else {})}
            self.journal.fail(item.doc_id, where, result.reason, result.detail)
            self.summary.failed += 1
            self.summary.failures[result.reason or "unknown"] += 1
            self.summary.failed_documents.append(item.doc_id)
            status = "failed"
        if self.table is not None:
            self.table.flush()
        entry = {
            "key": item.key, "id": item.doc_id, "input_sha256": item.input_hash, "status": status,
            "concepts": len(result.records),
        }
        self.journal.record(entry)
        self.bar.update(1)

    def _flush(self, batch: list[Item]) -> None:
        good = [(item.doc_id, item.text) for item in batch if item.failure is None and item.text is not None]
        results = iter(
            annotate_batch(
                self.nlp, good, spans_key=self.options.spans_key, with_text=self.options.with_text,
                batch_size=self.options.batch_size, keep_text=self.options.format == "brat",
            )
        )
        for item in batch:
            if item.failure is not None or item.text is None:
                failure = item.failure or DocumentFailure("bad_record", "no text")
                self._write(item, AnnotateResult(item.doc_id, reason=failure.reason, detail=failure.detail))
            else:
                self._write(item, next(results))

    def run(self) -> AnnotateSummary:
        from tqdm import tqdm

        self._open()
        batch: list[Item] = []
        # counts documents as they are written (annotated or failed), not as they are read
        self.bar = tqdm(unit="doc", desc="annotate", disable=not self.options.progress)
        try:
            for item in read_items(self.files, self.options):
                previous = self.journal.matching(item.key, item.input_hash)
                if previous is not None and previous.get("status") == "done":  # failed ones are tried again
                    self.summary.skipped += 1
                    continue
                batch.append(item)
                if len(batch) >= self.options.batch_size:
                    self._flush(batch)
                    batch = []
            if batch:
                self._flush(batch)
        finally:
            self.bar.close()
            self.journal.close(fsync=self.options.fsync)
        return self.summary


def run_annotate(
    inputs: Sequence[Path], model: Path | Language, out_dir: Path, options: AnnotateOptions | None = None
) -> AnnotateSummary:
    """Annotate ``inputs`` (``.txt`` files, folders, ``.jsonl``/``.csv``) with ``model`` into ``out_dir``.

    Raises :class:`~.io.RunnerError` for a problem with the run itself (missing
    input, unsafe output folder, changed settings on ``--resume``); documents
    that fail are recorded in ``failures.jsonl`` and counted instead.
    """
    return _Run(inputs, model, out_dir, options or AnnotateOptions()).run()
