"""The de-identification batch runner shared by the shells (CLI ``deid``, Spark, HTTP service).

Two layers:

* :func:`deidentify_batch` — **the per-batch function every shell calls**:
  records in (:class:`DeidRecord`: id, text, optional patient id), one
  :class:`DeidResult` out per record, in order (de-identified text + audit
  record, or a failure reason). It never raises for one bad document and never
  puts text into a reason. Long texts are processed in pieces split at
  paragraph/line boundaries, with the audit offsets mapped back, so time and
  memory stay linear in the document length.
* :func:`run_deid` — the batch run of the ``deid`` CLI on files: reads bytes
  without newline translation (CRLF and BOM kept), decodes and validates in
  the parent process, runs :func:`deidentify_batch` in-process or in
  ``spawn``-ed worker processes (the key reaches them through the pickled
  initializer arguments, never argv), writes each output atomically, keeps a
  manifest (``manifest.jsonl``) for ``--resume``, records every failed
  document in ``failures.jsonl`` (id and reason, no text) and goes on.

Files of an output folder (all append-only except the outputs, which are
replaced atomically): ``manifest.jsonl`` (a header with the settings hash,
then one line per document: ``key``, ``id``, ``input_sha256``, ``output``,
``status`` ``done``/``failed``, and the sizes the audit, failures and table
journal had after it, so a resumed run cuts what a killed run wrote after its
last manifest line; kept by :class:`~.manifest.RunJournal`, shared with
``annotate``), ``deid_audit.jsonl``, ``failures.jsonl``, and the
de-identified documents. JSONL/CSV outputs are written to a hidden journal
(``.NAME.deid-partial``) and renamed when the whole input file is done.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import multiprocessing
import os
import pickle
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from spacy.language import Language
from spacy.tokens import Doc
from tqdm import tqdm

from .. import __version__
from ..deid import MODES, DeidError, category_of
from ..pipeline import phi_rules as _phi_rules  # noqa: F401  (registers the factory)
from ..pipeline.deid_randomizer import DeidRandomizer
from ..pipeline.phi_recall import replacement_spans_key
from .io import (
    DocumentFailure,
    RunnerError,
    atomic_write,
    check_length,
    check_no_symlink,
    csv_rows,
    decode_document,
    dir_mode,
    file_mode,
    jsonl_records,
    make_dirs,
    open_private_append,
    row_hash,
    sha256_hex,
    truncate_file,
    validate_text,
)
from .manifest import (  # noqa: F401  (MANIFEST_NAME, FAILURES_NAME, EXIT_*: imported from here by the CLI and tests)
    EXIT_FAILED,
    EXIT_LEAKS,
    FAILURES_NAME,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    RunJournal,
    exit_code,
    json_line,
    model_fingerprint,
    prepare_out_dir,
)

logger = logging.getLogger(__name__)

AUDIT_NAME = "deid_audit.jsonl"
RANDOMIZER_NAME = "deid_randomizer"
PARTIAL_SUFFIX = ".deid-partial"
#: Documents longer than this are processed in pieces (0: never split).
DEFAULT_PIECE_CHARS = 100_000
#: Documents longer than this are refused (``too_long``); 0: no limit.
DEFAULT_MAX_CHARS = 10_000_000
#: How often worker processes may die before the run gives up.
MAX_POOL_RESTARTS = 20
TABLE_SUFFIXES = (".jsonl", ".csv")


# -- the per-batch function -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeidRecord:
    """One document to de-identify: ``id`` (any string), ``text`` and an optional ``patient_id``.

    Documents of one ``patient_id`` share their date shift (order and intervals of dates survive across notes).
    """

    id: str
    text: str
    patient_id: str | None = None


@dataclass
class DeidResult:
    """The outcome of one :class:`DeidRecord`.

    ``text``: the de-identified text (``None`` when it failed). ``audit``: the
    audit record (``id``, ``mode``, ``n_spans``, ``spans`` with input and
    output offsets, label, category, action — original and replacement texts
    only with ``keep_originals`` — and ``stats``; ``pieces`` when the text was
    split). ``reason``/``detail``: why it failed (a code such as ``empty``,
    ``binary``, ``invalid_code_point``, ``too_long``, ``pipeline_error``;
    a PHI-free explanation). ``leaks``: originals still found in the output
    (``stats["unresolved_leaks"]``).
    """

    id: str
    text: str | None = None
    audit: dict[str, Any] | None = None
    reason: str | None = None
    detail: str | None = None
    leaks: int = 0
    pieces: int = 0

    @property
    def ok(self) -> bool:
        return self.reason is None


def split_pieces(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Cut ``text`` into ``(start, end)`` pieces of at most ``max_chars`` that cover it exactly.

    Cuts after the last blank line in the second half of the window, else after the last line break, else
    after the last space, else at ``max_chars`` (never inside CRLF); each window is searched once, so the
    time is linear in the text length.
    """
    if max_chars <= 0 or len(text) <= max_chars:
        return [(0, len(text))]
    pieces = []
    start = 0
    n = len(text)
    while n - start > max_chars:
        end = start + max_chars
        low = start + max_chars // 2
        cut = -1
        for sep, lowest in (("\n\n", low), ("\n", start + 1), (" ", start + 1)):
            found = text.rfind(sep, lowest, end)
            if found >= 0:
                cut = found + len(sep)
                break
        if cut <= start:
            cut = end
            if cut - 1 > start and text[cut - 1] == "\r" and text[cut : cut + 1] == "\n":
                cut -= 1  # keep CRLF together (unless the piece would be empty)
        pieces.append((start, cut))
        start = cut
    pieces.append((start, n))
    return pieces


def find_randomizer(nlp: Language) -> DeidRandomizer:
    """The last ``deid_randomizer`` of ``nlp`` (see :func:`prepare_pipeline`)."""
    randomizers = [pipe for _, pipe in nlp.pipeline if isinstance(pipe, DeidRandomizer)]
    if not randomizers:
        raise DeidError("The pipeline has no deid_randomizer; prepare it with prepare_pipeline().")
    return randomizers[-1]


def read_key_from(randomizer: DeidRandomizer, key_env: str | None) -> None:
    """Make ``randomizer`` read its key from the environment variable ``key_env`` on every document
    (``None``: leave the randomizer's default). A runtime setting, never part of a saved pipeline;
    the Spark and HTTP shells call it after :func:`prepare_pipeline`."""
    if key_env is not None:
        randomizer.configure(key_env=key_env)


def prepare_pipeline(
    model: Path | str | Language, *, mode: str | None, seed: int | None, key: str | bytes | None
) -> tuple[Language, DeidRandomizer]:
    """Load ``model``, add a ``deid_randomizer`` if it has none and configure it for a run.

    ``key`` is set with ``set_key`` (kept in memory only); with ``None`` the
    component reads its runtime key variable (``SPACY_CLINICAL_ES_DEID_KEY``
    unless a shell chose another with ``configure(key_env=...)``; a saved
    pipeline cannot choose it).
    """
    import spacy

    nlp = model if isinstance(model, Language) else spacy.load(model)
    if mode is not None and mode not in MODES:
        raise DeidError(f"Unknown mode {mode!r}; use one of: {', '.join(MODES)}")
    randomizers = [pipe for _, pipe in nlp.pipeline if isinstance(pipe, DeidRandomizer)]
    if randomizers:
        randomizer = randomizers[-1]
        randomizer.configure(mode=mode, seed=seed)
    else:
        # With a phi_recall component, replace its group (entities + recall spans), not only doc.ents.
        config: dict[str, Any] = {"mode": mode or "surrogate", "seed": seed, "spans_key": replacement_spans_key(nlp)}
        randomizer = nlp.add_pipe("deid_randomizer", name=RANDOMIZER_NAME, config=config)
    randomizer.set_key(key or None)
    return nlp, randomizer


def piece_audit(doc: Doc, randomizer: DeidRandomizer, *, keep_originals: bool) -> list[dict[str, Any]]:
    """Audit rows of one de-identified Doc: input/output offsets, label, category, action (texts if asked)."""
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
    return rows


def _pipeline_error(err: BaseException) -> str:
    # Only our own errors promise PHI-free messages; others (KeyError('Ernesto'), …) are named by type.
    from ..errors import ClinicalEsError

    if isinstance(err, ClinicalEsError):
        return f"{type(err).__name__}: {err}"
    return f"the pipeline raised {type(err).__name__}"


@dataclass
class _Job:
    index: int
    start: int
    end: int
    patient_key: str | None


def _make_doc(nlp: Language, text: str, patient_key: str | None) -> Doc:
    doc = nlp.make_doc(text)
    doc._.deid_patient_key = patient_key
    return doc


def _run_chunk(nlp: Language, texts: list[tuple[str, str | None]], batch_size: int) -> list[Doc | BaseException]:
    """``nlp.pipe`` over a chunk; when it raises, each piece alone, so one bad piece fails alone."""
    try:
        return list(nlp.pipe((_make_doc(nlp, t, p) for t, p in texts), batch_size=batch_size))
    except Exception:  # noqa: BLE001 (any pipeline error: isolate the piece, keep the others)
        out: list[Doc | BaseException] = []
        for text, patient_key in texts:
            try:
                out.append(nlp(_make_doc(nlp, text, patient_key)))
            except Exception as err:  # noqa: BLE001
                out.append(err)
        return out


def _chunks(jobs: list[_Job], size: int, max_chars: int) -> Iterator[list[_Job]]:
    """Consecutive jobs, at most ``size`` per chunk and (when ``max_chars``) about ``max_chars`` characters,
    so the Docs in memory at once stay bounded however long a document is."""
    chunk: list[_Job] = []
    chars = 0
    for job in jobs:
        if chunk and (len(chunk) >= size or (max_chars and chars + job.end - job.start > max_chars)):
            yield chunk
            chunk, chars = [], 0
        chunk.append(job)
        chars += job.end - job.start
    if chunk:
        yield chunk


def deidentify_batch(
    nlp: Language,
    records: Sequence[DeidRecord],
    *,
    keep_originals: bool = False,
    piece_chars: int = DEFAULT_PIECE_CHARS,
    max_chars: int = 0,
    batch_size: int = 32,
) -> list[DeidResult]:
    """De-identify ``records`` with ``nlp``; one :class:`DeidResult` per record, in order. Never raises per document.

    ``nlp`` must end with a ``deid_randomizer`` (use :func:`prepare_pipeline`;
    the key is whatever it was given). Per record: an empty, binary or
    unencodable text (a lone surrogate such as a JSON ``"\\ud800"``), a text
    longer than ``max_chars`` (0: no limit) or an exception in the pipeline
    gives a failed result with a reason and no text. A text longer than
    ``piece_chars`` (0: never) is split at paragraph/line boundaries
    (:func:`split_pieces`); the pieces go through the pipeline separately and
    share one date shift (the patient's, else the document's), and the audit
    offsets of each piece are shifted back onto the whole text; at most
    about ``2 * piece_chars`` characters of Docs are alive at once. Without
    pieces, a text longer than ``nlp.max_length`` fails as ``too_long``.
    This is the stable entry point of the CLI, Spark and the service.
    """
    randomizer = find_randomizer(nlp)
    mode = randomizer.cfg["mode"]
    results = [DeidResult(id=str(r.id)) for r in records]
    outs: list[list[str]] = [[] for _ in records]
    rows: list[list[dict[str, Any]]] = [[] for _ in records]
    stats: list[Counter] = [Counter() for _ in records]
    jobs: list[_Job] = []
    for i, record in enumerate(records):
        result = results[i]
        try:
            if not isinstance(record.text, str):
                raise DocumentFailure("bad_record", f"text is {type(record.text).__name__}, not a string")
            validate_text(record.text)
            n = len(record.text)
            if max_chars and n > max_chars:
                raise DocumentFailure("too_long", f"{n} characters, more than the limit of {max_chars}")
            bounds = split_pieces(record.text, piece_chars) if piece_chars else [(0, n)]
            if len(bounds) == 1 and n > nlp.max_length:
                raise DocumentFailure(
                    "too_long", f"{n} characters, more than the pipeline's max_length {nlp.max_length} (use pieces)"
                )
        except DocumentFailure as failure:
            result.reason, result.detail = failure.reason, failure.detail
            continue
        patient_key = None if record.patient_id is None else str(record.patient_id)
        if patient_key is None and len(bounds) > 1:
            # Pieces of one document share the document's date shift.
            patient_key = "document-sha256:" + hashlib.sha256(record.text.encode("utf-8")).hexdigest()
        result.pieces = len(bounds)
        jobs.extend(_Job(i, start, end, patient_key) for start, end in bounds)
    step = max(1, batch_size)
    for chunk in _chunks(jobs, step, 2 * piece_chars if piece_chars else 0):
        chunk = [job for job in chunk if results[job.index].reason is None]
        if not chunk:
            continue
        docs = _run_chunk(
            nlp, [(records[j.index].text[j.start : j.end], j.patient_key) for j in chunk], batch_size=step
        )
        for job, doc in zip(chunk, docs):
            result = results[job.index]
            if result.reason is not None:
                continue
            if isinstance(doc, BaseException):
                result.reason, result.detail = "pipeline_error", _pipeline_error(doc)
                continue
            text = doc._.deid_text
            if text is None:
                result.reason, result.detail = "pipeline_error", "the pipeline produced no de-identified text"
                continue
            out_offset = sum(len(t) for t in outs[job.index]) if job.start else 0
            for row in piece_audit(doc, randomizer, keep_originals=keep_originals):
                row["start"] += job.start
                row["end"] += job.start
                row["out_start"] += out_offset
                row["out_end"] += out_offset
                rows[job.index].append(row)
            outs[job.index].append(text)
            stats[job.index].update(doc._.deid_stats or {})
    for i, result in enumerate(results):
        if result.reason is not None:
            continue
        result.text = "".join(outs[i])
        result.leaks = int(stats[i].get("unresolved_leaks", 0))
        audit: dict[str, Any] = {"id": result.id, "mode": mode, "n_spans": len(rows[i]), "spans": rows[i]}
        audit["stats"] = dict(stats[i])
        if result.pieces > 1:
            audit["pieces"] = result.pieces
        result.audit = audit
    for i, result in enumerate(results):
        if result.reason is not None:
            outs[i] = []
    return results


# -- worker processes -------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(
    model: bytes | str,
    mode: str | None,
    seed: int | None,
    key: str | None,
    code: Sequence[str],
    randomizer: tuple[tuple[str, Any], ...] = (),
) -> None:
    """Load the pipeline once per worker process (the key arrives pickled through the pool's pipe)."""
    from spacy.util import import_file

    for n, path in enumerate(code):
        import_file(f"spacy_clinical_es_user_code_{n}", path)
    loaded = pickle.loads(model) if isinstance(model, bytes) else model
    _WORKER["nlp"], component = prepare_pipeline(loaded, mode=mode, seed=seed, key=key)
    component.configure(**dict(randomizer))


def _ping() -> bool:
    return "nlp" in _WORKER


def _work(records: list[DeidRecord], kwargs: dict[str, Any]) -> list[DeidResult]:
    return deidentify_batch(_WORKER["nlp"], records, **kwargs)


# -- the file runner --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    """Options of :func:`run_deid` (the ``deid`` CLI flags)."""

    mode: str | None = None
    key: str | None = None
    seed: int | None = None
    n_process: int = 1
    batch_size: int = 32
    audit: bool = True
    keep_originals: bool = False
    resume: bool = False
    max_chars: int = DEFAULT_MAX_CHARS
    piece_chars: int = DEFAULT_PIECE_CHARS
    encoding: str | None = None
    keep_fields: tuple[str, ...] = ()
    hash_ids: bool = False
    id_map: Path | None = None
    umask: int = 0o077
    strict: bool = False
    progress: bool = True
    fsync: bool = True
    code: tuple[Path, ...] = ()
    #: keywords of ``DeidRandomizer.configure`` (policy, use_recall, recall_threshold, keep_relatives), as pairs
    randomizer: tuple[tuple[str, Any], ...] = ()


@dataclass
class RunSummary:
    """Counts of a run (no text)."""

    done: int = 0
    failed: int = 0
    skipped: int = 0
    leaky_documents: int = 0
    leaks: int = 0
    labels: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    input_symlinks_skipped: int = 0
    duplicate_ids: int = 0
    pieces: int = 0

    @property
    def exit_code(self) -> int:
        """0: all written; :data:`EXIT_FAILED`: some failed; :data:`EXIT_LEAKS`: some written with unresolved leaks."""
        return exit_code(self.failed, self.leaky_documents)

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "leaky_documents": self.leaky_documents,
            "unresolved_leaks": self.leaks,
            "labels": dict(self.labels),
            "actions": dict(self.actions),
            "failures": dict(self.failures),
            "input_symlinks_skipped": self.input_symlinks_skipped,
            "duplicate_ids": self.duplicate_ids,
            "documents_in_pieces": self.pieces,
        }


@dataclass(frozen=True)
class InputFile:
    """One input file: ``name`` is its path relative to the folder given (or its file name)."""

    source: Path
    name: str
    kind: str  # "txt", "jsonl" or "csv"


def collect_inputs(inputs: Sequence[Path]) -> tuple[list[InputFile], int]:
    """The input files of ``inputs`` and the number of symlinks skipped.

    Symlink rule: a path named on the command line is used even when it is a
    symlink (the user chose it); inside a folder, symlinks (to files or to
    folders) are never followed: they are skipped and counted, since a link in
    an export can point anywhere. Folders give every ``*.txt`` below them.
    """
    files: list[InputFile] = []
    skipped = 0
    for path in inputs:
        if not path.exists():
            raise RunnerError(f"Input not found: {path}. Give .txt files, folders of .txt files, .jsonl or .csv files.")
        if path.is_dir():
            found = []
            for folder, dirnames, filenames in os.walk(path, followlinks=False):
                for d in list(dirnames):
                    if os.path.islink(os.path.join(folder, d)):
                        skipped += 1
                dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(folder, d)))
                for name in filenames:
                    full = Path(folder) / name
                    if full.is_symlink():
                        skipped += 1
                    elif name.lower().endswith(".txt") and full.is_file():
                        found.append(full)
            if not found:
                logger.warning("No .txt files under %s", path)
            files.extend(InputFile(p, p.relative_to(path).as_posix(), "txt") for p in sorted(found))
        elif path.suffix.lower() == ".txt":
            files.append(InputFile(path, path.name, "txt"))
        elif path.suffix.lower() in TABLE_SUFFIXES:
            files.append(InputFile(path, path.name, path.suffix.lower()[1:]))
        else:
            raise RunnerError(f"Unsupported input {path}: give .txt files, folders, .jsonl or .csv files.")
    if skipped:
        logger.warning("Skipped %d symlink(s) inside input folders (links inside folders are never followed).", skipped)
    return files, skipped


@dataclass
class _Doc:
    """A document read by the parent: where it is, what it hashes to, its record or why it failed."""

    key: str
    doc_id: str
    file: InputFile
    line: int
    input_hash: str
    record: DeidRecord | None = None
    failure: DocumentFailure | None = None
    encoding: str = "utf-8"
    fields: dict[str, Any] = field(default_factory=dict)
    original_id: str = ""


@dataclass
class _Table:
    """The journal of one JSONL/CSV output."""

    file: InputFile
    target: Path
    partial: Path
    handle: BinaryIO | None = None
    size: int = 0
    resume_end: int | None = None  # journal size after the last record skipped on resume
    resuming: bool = True  # still inside the prefix of records done by an earlier run


class _Runner:
    """One ``deid`` run over files (see :func:`run_deid`)."""

    def __init__(self, inputs: Sequence[Path], model: Path | Language, out_dir: Path, options: RunOptions) -> None:
        self.options = options
        self.out_dir = out_dir
        self.model = model
        self.summary = RunSummary()
        self.fmode = file_mode(options.umask)
        self.dmode = dir_mode(options.umask)
        if options.hash_ids and not options.key:
            raise RunnerError("--hash-ids needs a key (SPACY_CLINICAL_ES_DEID_KEY or --key-file): ids are hashed with it.")
        if options.keep_originals and not options.audit:
            raise RunnerError("--keep-originals needs the audit (drop --no-audit).")
        if options.batch_size < 1 or options.n_process < 1:
            raise RunnerError("--batch-size and --n-process must be at least 1.")
        self.files, self.summary.input_symlinks_skipped = collect_inputs(inputs)
        self.targets = self._targets()
        from spacy.util import import_file

        for n, path in enumerate(options.code):
            import_file(f"spacy_clinical_es_user_code_{n}", str(path))
        self.nlp, self.randomizer = prepare_pipeline(model, mode=options.mode, seed=options.seed, key=options.key)
        self.randomizer.configure(**dict(options.randomizer))  # recorded in the settings (manifest, audit)
        if not options.key and self.randomizer.cfg.get("seed") is None:
            logger.warning("No key and no seed: surrogates are not consistent across documents (set a key).")
        self.settings_hash = self._settings_hash()
        self.batch_kwargs = {
            "keep_originals": options.keep_originals,
            "piece_chars": options.piece_chars,
            "max_chars": options.max_chars,
            "batch_size": options.batch_size,
        }

    # -- setup ----------------------------------------------------------------------------------------

    def _hash(self, value: str) -> str:
        assert self.options.key is not None
        secret = self.options.key.encode("utf-8", "surrogatepass")
        return hmac.new(secret, b"spacy_clinical_es.runtime.hash-id\x1f" + value.encode("utf-8", "surrogatepass"), "sha256").hexdigest()[:24]

    def _targets(self) -> dict[InputFile, Path]:
        targets: dict[InputFile, Path] = {}
        seen: dict[Path, Path] = {}
        sources = {f.source.resolve() for f in self.files}
        for f in self.files:
            if self.options.hash_ids:
                name = self._hash(f.name) + Path(f.name).suffix.lower()
            else:
                name = f.name
            target = self.out_dir / name
            resolved = target.resolve()
            other = seen.setdefault(resolved, f.source)
            if other != f.source:
                raise RunnerError(
                    f"{f.source} and {other} would both be written to {target}; "
                    "de-identify them in separate runs or with different --out folders."
                )
            if resolved in sources:
                raise RunnerError(f"Output {target} is an input file; choose another --out folder.")
            targets[f] = target
        return targets

    def _settings_hash(self) -> str:
        model_id = model_fingerprint(self.model)
        key_id = None
        if self.options.key:
            key_id = hmac.new(self.options.key.encode("utf-8", "surrogatepass"), b"fingerprint", "sha256").hexdigest()[:16]
        cfg = {k: v for k, v in self.randomizer.settings().items() if k != "key_env"}
        o = self.options
        settings = {
            "version": __version__,
            "model": model_id,
            "randomizer": cfg,
            "key": key_id,
            "audit": o.audit,
            "keep_originals": o.keep_originals,
            "max_chars": o.max_chars,
            "piece_chars": o.piece_chars,
            "encoding": o.encoding,
            "keep_fields": list(o.keep_fields),
            "hash_ids": o.hash_ids,
            "strict": o.strict,
        }
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode("utf-8")).hexdigest()

    def _open_outputs(self) -> None:
        out = self.out_dir
        prepare_out_dir(out, dir_mode=self.dmode, names=(AUDIT_NAME,))
        self.journal = RunJournal(
            out, self.settings_hash, end_keys=("audit_end",), settings="model, key, mode, options", file_mode=self.fmode
        )
        randomizer = {k: v for k, v in self.randomizer.settings().items() if k != "key_env"}  # no key, no text
        resume = self.journal.open(self.options.resume, {"randomizer": randomizer})
        self.audit = None
        if self.options.audit:
            audit_mode = 0o600 if self.options.keep_originals else self.fmode
            self.audit = self.journal.open_journal(AUDIT_NAME, "audit_end", mode=audit_mode)
        elif not resume and (out / AUDIT_NAME).exists():
            truncate_file(out / AUDIT_NAME, 0)
        self.failures = self.journal.open_failures()
        self.id_map = None
        if self.options.id_map is not None:
            self.id_map = open_private_append(self.options.id_map, mode=0o600, truncate=not resume)

    # -- reading --------------------------------------------------------------------------------------

    def _ids(self, key: str, doc_id: str) -> tuple[str, str]:
        if self.options.hash_ids:
            return self._hash(key), self._hash(doc_id)
        return key, doc_id

    def _txt_doc(self, f: InputFile) -> _Doc:
        key, doc_id = self._ids(f.name, f.name)
        try:
            size = f.source.stat().st_size
            if self.options.max_chars and size > 4 * self.options.max_chars:  # cannot fit: not even read
                failure = DocumentFailure("too_long", f"{size} bytes, more than 4 x --max-chars {self.options.max_chars}")
                return _Doc(key, doc_id, f, 0, f"size:{size}", failure=failure, original_id=f.name)
            raw = f.source.read_bytes()
        except OSError as err:  # gone or unreadable since it was listed: this document only
            failure = DocumentFailure("read_error", f"cannot read the file ({type(err).__name__})")
            return _Doc(key, doc_id, f, 0, "unreadable", failure=failure, original_id=f.name)
        doc = _Doc(key, doc_id, f, 0, sha256_hex(raw), original_id=f.name)
        try:
            text, doc.encoding = decode_document(raw, self.options.encoding)
            check_length(text, self.options.max_chars)
            doc.record = DeidRecord(doc_id, text)
        except DocumentFailure as failure:
            doc.failure = failure
        return doc

    def _record_doc(self, f: InputFile, line: int, raw_hash: str, record: Any, encoding: str) -> _Doc:
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            key, doc_id = self._ids(f"{f.name}:{line}", f"{f.name}:{line}")
            failure = DocumentFailure("bad_record", "not an object with a string 'text'")
            return _Doc(key, doc_id, f, line, raw_hash, failure=failure, original_id=doc_id)
        raw_id = record.get("id")
        original = str(raw_id) if raw_id not in (None, "") else f"{f.name}:{line}"
        key, doc_id = self._ids(f"{f.name}:{line}", original)
        patient = record.get("patient_id")
        fields = {name: record.get(name) for name in self.options.keep_fields}
        doc = _Doc(key, doc_id, f, line, raw_hash, encoding=encoding, fields=fields, original_id=original)
        doc.record = DeidRecord(doc_id, record["text"], None if patient in (None, "") else str(patient))
        try:
            check_length(record["text"], self.options.max_chars)
        except DocumentFailure as failure:
            doc.failure = failure
        return doc

    def _jsonl_docs(self, f: InputFile) -> Iterator[_Doc]:
        seen: set[str] = set()
        for line, raw_hash, record, encoding, failure in jsonl_records(f.source, self.options.encoding):
            if failure is not None:
                key, doc_id = self._ids(f"{f.name}:{line}", f"{f.name}:{line}")
                yield _Doc(key, doc_id, f, line, raw_hash, failure=failure, original_id=doc_id)
                continue
            doc = self._record_doc(f, line, raw_hash, record, encoding)
            if doc.failure is None:
                if doc.original_id in seen:
                    self.summary.duplicate_ids += 1
                    logger.warning("%s line %d: duplicate id (kept)", f.name if not self.options.hash_ids else "input", line)
                seen.add(doc.original_id)
            yield doc

    def _csv_docs(self, f: InputFile) -> Iterator[_Doc]:
        raw = f.source.read_bytes()
        try:
            rows, encoding = csv_rows(raw, self.options.encoding)
        except DocumentFailure as failure:
            key, doc_id = self._ids(f.name, f.name)
            yield _Doc(key, doc_id, f, 0, sha256_hex(raw), failure=failure, original_id=f.name)
            return
        for row_number, row in enumerate(rows, start=1):
            yield self._record_doc(f, row_number, row_hash(row), row, encoding)

    def _documents(self) -> Iterator[tuple[_Doc, _Table | None]]:
        for f in self.files:
            if f.kind == "txt":
                yield self._txt_doc(f), None
                continue
            table = self._table(f)
            docs = self._jsonl_docs(f) if f.kind == "jsonl" else self._csv_docs(f)
            for doc in docs:
                yield doc, table
            yield None, table  # type: ignore[misc]  (end-of-table marker)

    # -- tables ---------------------------------------------------------------------------------------

    def _table(self, f: InputFile) -> _Table:
        target = self.targets[f]
        partial = target.with_name("." + target.name + PARTIAL_SUFFIX)
        table = _Table(f, target, partial)
        table.resuming = self.journal.resume
        if not table.resuming and partial.exists():
            partial.unlink()
        return table

    def _table_header(self, table: _Table) -> bytes:
        if table.file.kind != "csv":
            return b""
        return self._csv_row(["id", "text", *self.options.keep_fields])

    @staticmethod
    def _csv_row(values: Sequence[Any]) -> bytes:
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\r\n").writerow(["" if v is None else v for v in values])
        return buffer.getvalue().encode("utf-8", "surrogatepass")

    def _table_handle(self, table: _Table) -> BinaryIO:
        """Open the journal for appending; on resume, cut it to what the manifest vouches for."""
        if table.handle is not None:
            return table.handle
        check_no_symlink(self.out_dir, table.partial)
        check_no_symlink(self.out_dir, table.target)
        make_dirs(self.out_dir, table.partial.parent, self.dmode)
        end = table.resume_end
        if end is not None and not table.partial.exists() and table.target.exists():
            os.replace(table.target, table.partial)  # a finished table that now gets more records
        if end is not None and table.partial.exists():
            truncate_file(table.partial, end)
            table.handle = open_private_append(table.partial, mode=self.fmode)
            table.size = end
        else:
            table.handle = open_private_append(table.partial, mode=self.fmode, truncate=True)
            header = self._table_header(table)
            table.handle.write(header)
            table.size = len(header)
        return table.handle

    def _finish_table(self, table: _Table) -> None:
        if table.handle is None and table.resume_end is not None and not table.partial.exists():
            return  # every record was done by an earlier run and the table was renamed then
        handle = self._table_handle(table)
        handle.flush()
        if self.options.fsync:
            os.fsync(handle.fileno())
        handle.close()
        table.handle = None
        os.replace(table.partial, table.target)

    # -- resume ---------------------------------------------------------------------------------------

    def _skip(self, doc: _Doc, table: _Table | None) -> bool:
        if not self.options.resume:
            return False
        entry = self.journal.matching(doc.key, doc.input_hash)
        matches = entry is not None
        if table is None:
            if entry is None:
                return False
            return entry["status"] != "done" or (self.out_dir / entry["output"]).exists()
        if table.resuming and matches and (table.partial.exists() or table.target.exists()):
            table.resume_end = entry["journal_end"]  # type: ignore[index]
            return True
        if table.resuming:
            table.resuming = False
            if table.resume_end is None:
                table.resume_end = None  # nothing reusable: the journal starts over
        return False

    # -- writing --------------------------------------------------------------------------------------

    def _write(self, doc: _Doc, result: DeidResult, table: _Table | None) -> str:
        assert result.text is not None
        if table is None:
            target = self.targets[doc.file]
            check_no_symlink(self.out_dir, target)
            make_dirs(self.out_dir, target.parent, self.dmode)
            atomic_write(target, result.text.encode("utf-8"), mode=self.fmode, fsync=self.options.fsync)
            return target.relative_to(self.out_dir).as_posix()
        handle = self._table_handle(table)
        if table.file.kind == "csv":
            values = [doc.doc_id, result.text, *(doc.fields.get(k) for k in self.options.keep_fields)]
            data = self._csv_row(values)
        else:
            data = json_line({"id": doc.doc_id, "text": result.text, **doc.fields})
        handle.write(data)
        handle.flush()
        table.size += len(data)
        return table.target.relative_to(self.out_dir).as_posix()

    def _where(self, doc: _Doc) -> dict[str, Any]:
        where: dict[str, Any] = {}
        if not self.options.hash_ids:
            where["source"] = str(doc.file.source)
        if doc.line:
            where["line"] = doc.line
        return where

    def _finish(self, doc: _Doc, result: DeidResult, table: _Table | None) -> None:
        """Write one document's output, audit line and manifest line (in that order)."""
        o = self.options
        if result.ok and o.strict and result.leaks:
            result = DeidResult(doc.doc_id, reason="unresolved_leaks", detail=f"{result.leaks} original(s) still in the output (--strict)")
        output = ""
        if result.ok:
            try:
                output = self._write(doc, result, table)
            except DocumentFailure as failure:
                result = DeidResult(doc.doc_id, reason=failure.reason, detail=failure.detail)
        entry: dict[str, Any] = {"key": doc.key, "id": doc.doc_id, "input_sha256": doc.input_hash}
        if result.ok:
            assert result.audit is not None
            record = {"id": doc.doc_id, **self._where(doc)}
            if doc.encoding != "utf-8":
                record["encoding"] = doc.encoding
            record.update((k, v) for k, v in result.audit.items() if k != "id")
            if self.audit is not None:
                self.audit.write(json_line(record))
                self.audit.flush()
            self.summary.done += 1
            self.summary.labels.update(row["label"] for row in record["spans"])
            self.summary.actions.update(row["action"] for row in record["spans"])
            self.summary.pieces += int(result.pieces > 1)
            if result.leaks:
                self.summary.leaky_documents += 1
                self.summary.leaks += result.leaks
                logger.warning("%s: %d unresolved leak(s) written (use --strict to withhold such documents)", doc.doc_id, result.leaks)
            entry.update({"output": output, "status": "done"})
        else:
            self.journal.fail(doc.doc_id, self._where(doc), result.reason, result.detail)
            self.summary.failed += 1
            self.summary.failures[result.reason or "unknown"] += 1
            entry.update({"output": None, "status": "failed", "reason": result.reason})
        if self.id_map is not None:
            self.id_map.write(json_line({"hashed_id": doc.doc_id, "id": doc.original_id, "source": str(doc.file.source), **({"line": doc.line} if doc.line else {})}))
        after: dict[str, Any] = {}
        if table is not None:
            self._table_handle(table)  # a table's journal (and CSV header) exists before its first manifest line
            after["journal_end"] = table.size
        self.journal.record(entry, **after)

    # -- processing -----------------------------------------------------------------------------------

    def _process(self, batch: list[tuple[_Doc, _Table | None]]) -> list[DeidResult]:
        records = [doc.record for doc, _ in batch if doc is not None and doc.record is not None and doc.failure is None]
        return deidentify_batch(self.nlp, records, **self.batch_kwargs) if records else []

    @staticmethod
    def _merge(batch: list[tuple[_Doc, _Table | None]], results: list[DeidResult]) -> list[DeidResult | None]:
        """One result per batch entry (``None`` for an end-of-table marker): processed ones and read failures."""
        merged: list[DeidResult | None] = []
        it = iter(results)
        for doc, _ in batch:
            if doc is None:
                merged.append(None)
            elif doc.record is not None and doc.failure is None:
                merged.append(next(it))
            else:
                assert doc.failure is not None
                merged.append(DeidResult(doc.doc_id, reason=doc.failure.reason, detail=doc.failure.detail))
        return merged

    def run(self) -> RunSummary:
        self._open_outputs()
        total = self._count_documents()
        bar = tqdm(total=total, unit="doc", disable=not self.options.progress, dynamic_ncols=True)
        pool = _Pool(self) if self.options.n_process > 1 else None
        try:
            self._loop(bar, pool)
        finally:
            if pool is not None:
                pool.close()
            bar.close()
            self.journal.close(self.id_map, fsync=self.options.fsync)
        return self.summary

    def _count_documents(self) -> int | None:
        total = 0
        for f in self.files:
            if f.kind == "txt":
                total += 1
            elif f.kind == "jsonl":
                with f.source.open("rb") as handle:
                    total += sum(1 for line in handle if line.strip())
            else:
                return None
        return total

    def _loop(self, bar: tqdm, pool: _Pool | None) -> None:
        batch: list[tuple[_Doc, _Table | None]] = []
        in_flight: deque[tuple[list[tuple[_Doc, _Table | None]], Any]] = deque()
        limit = 2 * self.options.n_process

        def finish(entry: tuple[list[tuple[_Doc, _Table | None]], Any]) -> None:
            done_batch, pending = entry
            results = pool.results(done_batch, pending) if pool is not None else pending
            for (doc, table), result in zip(done_batch, self._merge(done_batch, results)):
                if doc is None or result is None:
                    self._finish_table(table)  # type: ignore[arg-type]
                    continue
                self._finish(doc, result, table)
                bar.update(1)
            bar.set_postfix(done=self.summary.done, failed=self.summary.failed, skipped=self.summary.skipped, refresh=False)

        def flush() -> None:
            nonlocal batch
            if not batch:
                return
            if pool is None:
                finish((batch, self._process(batch)))
            else:
                in_flight.append((batch, pool.submit(batch)))
                while len(in_flight) >= limit:
                    finish(in_flight.popleft())
            batch = []

        for doc, table in self._documents():
            if doc is not None and self._skip(doc, table):
                self.summary.skipped += 1
                bar.update(1)
                continue
            batch.append((doc, table))
            if doc is None or len(batch) >= self.options.batch_size:
                flush()
        flush()
        while in_flight:
            finish(in_flight.popleft())


class _Pool:
    """Worker processes (``spawn``: a worker's argv is Python's own, never the parent's, so no key in it)."""

    def __init__(self, runner: _Runner) -> None:
        self.runner = runner
        o = runner.options
        model = runner.model
        self.model: bytes | str = pickle.dumps(model) if isinstance(model, Language) else str(model)
        self.initargs = (self.model, o.mode, o.seed, o.key, tuple(str(p) for p in o.code), o.randomizer)
        self.restarts = 0
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        """A fresh pool, checked with a no-op task: workers that cannot load the pipeline stop the run here."""
        executor = ProcessPoolExecutor(
            max_workers=self.runner.options.n_process,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=self.initargs,
        )
        try:
            executor.submit(_ping).result()
        except BrokenProcessPool as err:
            executor.shutdown(wait=False, cancel_futures=True)
            raise RunnerError(
                "Worker processes stop before finishing any document (does the pipeline or --code fail to load "
                "in a fresh process?); run with --n-process 1 to see the error."
            ) from err
        return executor

    def submit(self, batch: list[tuple[_Doc, _Table | None]]) -> Future | None:
        records = [doc.record for doc, _ in batch if doc is not None and doc.record is not None and doc.failure is None]
        if not records:
            return None
        try:
            return self.executor.submit(_work, records, self.runner.batch_kwargs)
        except BrokenProcessPool:
            return None  # collected (and re-run one by one) by results()

    def _restart(self) -> None:
        self.restarts += 1
        if self.restarts > MAX_POOL_RESTARTS:
            raise RunnerError(f"Worker processes died {self.restarts} times; the run stops (out of memory?). Rerun with --resume.")
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._start()

    def results(self, batch: list[tuple[_Doc, _Table | None]], pending: Future | None) -> list[DeidResult]:
        records = [doc.record for doc, _ in batch if doc is not None and doc.record is not None and doc.failure is None]
        if not records:
            return []
        if pending is not None:
            try:
                return pending.result()
            except BrokenProcessPool:
                pass
        # A worker died (or the pool was already broken): run the batch one document at a time to find the culprit.
        if self.executor._broken:  # type: ignore[attr-defined]
            self._restart()
        out = []
        for record in records:
            try:
                out.extend(self.executor.submit(_work, [record], self.runner.batch_kwargs).result())
            except BrokenProcessPool:
                out.append(DeidResult(record.id, reason="worker_died", detail="the worker process ended while processing it"))
                self._restart()
        return out

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def run_deid(inputs: Sequence[Path], model: Path | Language, out_dir: Path, options: RunOptions | None = None) -> RunSummary:
    """De-identify ``inputs`` (``.txt`` files, folders of them, ``.jsonl``/``.csv`` files) into ``out_dir``.

    See the module docstring for the files written and :class:`RunOptions`
    for the options. Raises :class:`RunnerError`/:class:`DeidError` for a
    problem with the run itself (missing input, unsafe output folder, bad
    key or settings); documents that fail are recorded and counted instead.
    A :class:`~spacy.language.Language` given as ``model`` is configured in
    place (a ``deid_randomizer`` added if missing, mode, seed, key).
    """
    runner = _Runner(inputs, model, out_dir, options or RunOptions())
    return runner.run()
