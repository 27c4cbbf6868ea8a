"""Readers for the TSV releases of the SPACCC shared tasks (spaCy-free).

Each reader takes the TSV path and the document texts (``{doc_id: text}``,
ids from :func:`~.annotations.normalize_doc_id`, so ``es-S0004…`` rows find
``S0004….txt``) and returns ``{doc_id: [Annotation, …]}`` in file order.
Every row is checked against the text; rows that cannot be carried are
skipped and counted in a :class:`~.report.ConversionReport` with their
1-based file line (a report is created and logged when none is given).

Rules shared by all readers:

* Offsets win: ``Annotation.text`` is always the text slice (fragments
  joined by one space); the TSV text column is only used to validate.
* A text column written CSV-style (``"a ""b"" c"``, as some releases do) is
  unquoted before the comparison (counted as adjusted ``csv_quoted_text``).
* Code columns equal to ``None``, ``NOMAP`` or ``NO_CODE`` give no code;
  composite codes are kept as written (``+``-joined).

CodiEsp ``X`` rule (positions ``s e`` or ``s1 e1;s2 e2``, fragments kept in
source order): the reference column is compared with the slices of all
listed fragments joined by one space. When it differs only because fragments
start or end with punctuation or whitespace the reference omits (``R.T.U.``
vs ``R.T.U``, ``(IMC`` vs ``IMC``), those fragments are trimmed to match
(adjusted ``trimmed_to_reference``); any other difference keeps the offsets
(adjusted ``reference_text_differs``). Zero-length fragments (``1320 1320``)
are then dropped (adjusted ``empty_fragment_dropped``).
"""
from __future__ import annotations

import itertools
import logging
import string
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ..errors import CorpusFormatError
from ..util import PathLike
from .annotations import Annotation, Fragment, normalize_doc_id
from .brat import decode_utf8, fragment_text
from .report import ConversionReport

logger = logging.getLogger(__name__)

Texts = Mapping[str, str]
AnnotationsByDoc = dict[str, list[Annotation]]

NO_CODE_VALUES = frozenset({"", "None", "NOMAP", "NO_CODE"})

DISTEMIST_MENTION_COLUMNS = ("filename", "mark", "label", "off0", "off1", "span")
DISTEMIST_LINKING_COLUMNS = DISTEMIST_MENTION_COLUMNS + ("code", "semantic_rel")
DISTEMIST_CROSSMAP_COLUMNS = DISTEMIST_LINKING_COLUMNS + ("omim_code", "mesh_code", "icd10_code", "hpo_code")
#: Crossmapping column -> terminology name in ``Annotation.codes``.
DISTEMIST_CROSSMAPS = {"icd10_code": "ICD10", "mesh_code": "MESH", "hpo_code": "HPO", "omim_code": "OMIM"}
SUBTASK1_COLUMNS = ("filename", "ann_id", "label", "start_span", "end_span", "text")
MEDPROCNER_LINKING_COLUMNS = (
    "filename", "label", "start_span", "end_span", "text", "code",
    "sem_rel", "is_abbrev", "is_composite", "need_context",
)  # fmt: skip
MEDPROCNER_LINKING_ATTRIBUTES = ("sem_rel", "is_abbrev", "is_composite", "need_context")
MEDPROCNER_DOC_CODES_COLUMNS = ("filename", "codes")
CANTEMIST_CODING_COLUMNS = ("file", "code")
CODIESP_LABELS = {"DIAGNOSTICO": "ICD10-CM", "PROCEDIMIENTO": "ICD10-PCS"}

_TRIM_CHARS = frozenset(string.punctuation + string.whitespace + "¿¡«»“”‘’·…")
_MAX_TRIM_COMBINATIONS = 4096


def _report_for(report: ConversionReport | None) -> tuple[ConversionReport, bool]:
    return (report, False) if report is not None else (ConversionReport(), True)


def iter_tsv_rows(
    path: PathLike,
    columns: Sequence[str],
    *,
    corpus: str,
    report: ConversionReport,
    header: bool = True,
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, fields)`` of a TAB-separated file.

    With ``header=True`` the first line must name ``columns`` (else the file
    is the wrong one: CorpusFormatError). Rows with another number of fields
    are skipped and counted as ``malformed_row``; blank lines are ignored.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorpusFormatError("TSV file not found", path=str(path)) from None
    lines = decode_utf8(data, path).split("\n")
    start = 0
    if header:
        first = lines[0].removesuffix("\r").split("\t") if lines else []
        if tuple(first) != tuple(columns):
            raise CorpusFormatError(
                f"unexpected header: expected columns {', '.join(columns)}; is this the right file?",
                path=str(path),
                line=1,
            )
        start = 1
    for index in range(start, len(lines)):
        content = lines[index].removesuffix("\r")
        if not content.strip():
            continue
        fields = content.split("\t")
        if len(fields) != len(columns):
            report.add_skipped(
                corpus,
                "malformed_row",
                path=path,
                line=index + 1,
                detail=f"expected {len(columns)} fields, found {len(fields)}",
            )
            continue
        yield index + 1, fields


def _unquote(value: str) -> str | None:
    """Undo CSV quoting (outer quotes, doubled inner quotes), or None if not CSV-quoted."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return None
    inner = value[1:-1]
    if '"' in inner.replace('""', ""):
        return None
    return inner.replace('""', '"')


def _parse_offset(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 16 else None


class _RowContext:
    """Where a row is, for report entries."""

    def __init__(self, corpus: str, path: Path, line: int, ann_id: str | None = None) -> None:
        self.corpus = corpus
        self.path = path
        self.line = line
        self.ann_id = ann_id

    def skip(self, report: ConversionReport, reason: str, detail: str = "") -> None:
        report.add_skipped(
            self.corpus, reason, path=self.path, line=self.line, annotation_id=self.ann_id, detail=detail
        )

    def adjust(self, report: ConversionReport, reason: str, detail: str = "") -> None:
        report.add_adjusted(
            self.corpus, reason, path=self.path, line=self.line, annotation_id=self.ann_id, detail=detail
        )


def _doc_text(texts: Texts, filename: str, ctx: _RowContext, report: ConversionReport) -> tuple[str, str] | None:
    doc_id = normalize_doc_id(filename)
    if doc_id not in texts:
        ctx.skip(report, "unknown_document", f"no text file for document {doc_id}")
        return None
    return doc_id, texts[doc_id]


def _check_offsets(
    fragments: Sequence[Fragment], text: str, ctx: _RowContext, report: ConversionReport, *, allow_empty: bool = False
) -> bool:
    for k, (start, end) in enumerate(fragments, 1):
        if end > len(text):
            ctx.skip(
                report,
                "offset_out_of_range",
                f"fragment {k} ({start}-{end}) ends beyond the text ({len(text)} characters)",
            )
            return False
        if start > end or (start == end and not allow_empty):
            ctx.skip(report, "empty_or_reversed_span", f"fragment {k} has start {start}, end {end}")
            return False
    return True


def _check_text(
    ref: str, fragments: Sequence[Fragment], text: str, ctx: _RowContext, report: ConversionReport
) -> bool:
    """Validate a TSV text column against the slices (CSV-unquoting if needed)."""
    expected = fragment_text(text, fragments)
    if ref == expected:
        return True
    unquoted = _unquote(ref)
    if unquoted is not None and unquoted == expected:
        ctx.adjust(report, "csv_quoted_text")
        return True
    ctx.skip(
        report,
        "text_mismatch",
        f"expected {len(expected)} characters at {fragments[0][0]}-{fragments[-1][1]}, "
        f"found {len(unquoted if unquoted is not None else ref)}",
    )
    return False


def _single_span(
    fields: Sequence[str],
    columns: Sequence[str],
    names: tuple[str, str, str, str],
    texts: Texts,
    ctx: _RowContext,
    report: ConversionReport,
) -> tuple[str, Fragment] | None:
    """Common checks of a one-fragment row: document, offsets, text."""
    row = dict(zip(columns, fields))
    filename, start_col, end_col, text_col = names
    found = _doc_text(texts, row[filename], ctx, report)
    if found is None:
        return None
    doc_id, text = found
    start, end = _parse_offset(row[start_col]), _parse_offset(row[end_col])
    if start is None or end is None:
        ctx.skip(report, "malformed_row", "offsets are not non-negative integers")
        return None
    fragment = (start, end)
    if not _check_offsets([fragment], text, ctx, report):
        return None
    if not _check_text(row[text_col], [fragment], text, ctx, report):
        return None
    return doc_id, fragment


def read_mentions_tsv(
    path: PathLike,
    texts: Texts,
    *,
    corpus: str,
    columns: Sequence[str] = SUBTASK1_COLUMNS,
    report: ConversionReport | None = None,
) -> AnnotationsByDoc:
    """Read a mention TSV ``filename, id, label, start, end, text`` (any column names).

    Used for DisTEMIST subtrack 1, MedProcNER subtask 1 and SympTEMIST
    subtask 1. A row whose id repeats within its document is skipped
    (``duplicate_id``).
    """
    report, own = _report_for(report)
    path = Path(path)
    filename, id_col, label_col, start_col, end_col, text_col = columns
    out: AnnotationsByDoc = {}
    seen: set[tuple[str, str]] = set()
    for line, fields in iter_tsv_rows(path, columns, corpus=corpus, report=report):
        row = dict(zip(columns, fields))
        ctx = _RowContext(corpus, path, line, row[id_col] or None)
        checked = _single_span(fields, columns, (filename, start_col, end_col, text_col), texts, ctx, report)
        if checked is None:
            continue
        doc_id, fragment = checked
        if (doc_id, row[id_col]) in seen or not row[id_col]:
            ctx.skip(report, "duplicate_id" if row[id_col] else "malformed_row", "annotation id repeated or empty")
            continue
        seen.add((doc_id, row[id_col]))
        out.setdefault(doc_id, []).append(
            Annotation(
                id=row[id_col],
                label=row[label_col],
                fragments=[fragment],
                text=fragment_text(texts[doc_id], [fragment]),
                source=corpus,
            )
        )
        report.add_converted(corpus, "mention_rows")
    if own:
        report.log_if_lossy(logger)
    return out


def read_distemist_mentions(
    path: PathLike, texts: Texts, *, corpus: str = "distemist", report: ConversionReport | None = None
) -> AnnotationsByDoc:
    """DisTEMIST subtrack 1 (``filename mark label off0 off1 span``)."""
    return read_mentions_tsv(path, texts, corpus=corpus, columns=DISTEMIST_MENTION_COLUMNS, report=report)


def read_medprocner_mentions(
    path: PathLike, texts: Texts, *, corpus: str = "medprocner", report: ConversionReport | None = None
) -> AnnotationsByDoc:
    """MedProcNER subtask 1 (``filename ann_id label start_span end_span text``)."""
    return read_mentions_tsv(path, texts, corpus=corpus, columns=SUBTASK1_COLUMNS, report=report)


def read_symptemist_mentions(
    path: PathLike, texts: Texts, *, corpus: str = "symptemist", report: ConversionReport | None = None
) -> AnnotationsByDoc:
    """SympTEMIST subtask 1 TSV (same columns as MedProcNER subtask 1)."""
    return read_mentions_tsv(path, texts, corpus=corpus, columns=SUBTASK1_COLUMNS, report=report)


def read_distemist_linking(
    path: PathLike,
    texts: Texts,
    *,
    crossmappings_path: PathLike | None = None,
    corpus: str = "distemist",
    report: ConversionReport | None = None,
) -> AnnotationsByDoc:
    """DisTEMIST subtrack 2 linking rows as annotations with codes.

    ``codes["SNOMEDCT"]`` comes from the linking file (the crossmapping files
    hold Excel-mangled copies such as ``1.47202310001191E+016``); the
    crossmapping file, joined by document and offsets, adds ``ICD10``,
    ``MESH``, ``HPO`` and ``OMIM`` codes. ``attributes["semantic_rel"]``
    keeps EXACT/NARROW/COMPOSITE/NOMAP.
    """
    report, own = _report_for(report)
    path = Path(path)
    out: AnnotationsByDoc = {}
    index: dict[tuple[str, int, int], Annotation] = {}
    columns = DISTEMIST_LINKING_COLUMNS
    for line, fields in iter_tsv_rows(path, columns, corpus=corpus, report=report):
        row = dict(zip(columns, fields))
        ctx = _RowContext(corpus, path, line, row["mark"] or None)
        checked = _single_span(fields, columns, ("filename", "off0", "off1", "span"), texts, ctx, report)
        if checked is None:
            continue
        doc_id, fragment = checked
        key = (doc_id, *fragment)
        if key in index:
            ctx.skip(report, "duplicate_link", "a link for the same document and offsets came earlier")
            continue
        codes = {} if row["code"] in NO_CODE_VALUES else {"SNOMEDCT": row["code"]}
        ann = Annotation(
            id=row["mark"],
            label=row["label"],
            fragments=[fragment],
            text=fragment_text(texts[doc_id], [fragment]),
            codes=codes,
            attributes={"semantic_rel": row["semantic_rel"]},
            source=corpus,
        )
        index[key] = ann
        out.setdefault(doc_id, []).append(ann)
        report.add_converted(corpus, "linking_rows")
    if crossmappings_path is not None:
        _add_crossmaps(Path(crossmappings_path), texts, index, corpus=corpus, report=report)
    if own:
        report.log_if_lossy(logger)
    return out


def _add_crossmaps(
    path: Path,
    texts: Texts,
    index: dict[tuple[str, int, int], Annotation],
    *,
    corpus: str,
    report: ConversionReport,
) -> None:
    columns = DISTEMIST_CROSSMAP_COLUMNS
    for line, fields in iter_tsv_rows(path, columns, corpus=corpus, report=report):
        row = dict(zip(columns, fields))
        ctx = _RowContext(corpus, path, line, row["mark"] or None)
        checked = _single_span(fields, columns, ("filename", "off0", "off1", "span"), texts, ctx, report)
        if checked is None:
            continue
        doc_id, fragment = checked
        ann = index.get((doc_id, *fragment))
        if ann is None:
            ctx.skip(report, "crossmap_without_link", "no row with these offsets in the linking file")
            continue
        if row["code"] != ann.codes.get("SNOMEDCT", row["code"]):
            ctx.adjust(report, "crossmap_snomed_code_differs", "SNOMED CT code taken from the linking file")
        for column, terminology in DISTEMIST_CROSSMAPS.items():
            if row[column] not in NO_CODE_VALUES:
                ann.codes[terminology] = row[column]
                report.add_converted(corpus, f"crossmap_codes_{terminology}")


def read_medprocner_linking(
    path: PathLike, texts: Texts, *, corpus: str = "medprocner", report: ConversionReport | None = None
) -> AnnotationsByDoc:
    """MedProcNER subtask 2: ``codes["SNOMEDCT"]`` plus sem_rel/is_abbrev/is_composite/need_context attributes.

    Rows have no annotation id; ids ``L1``, ``L2``… are given per document
    (they are replaced by the mention's id when merged, see :func:`merge_linking`).
    """
    report, own = _report_for(report)
    path = Path(path)
    columns = MEDPROCNER_LINKING_COLUMNS
    out: AnnotationsByDoc = {}
    keys: set[tuple[str, int, int]] = set()
    for line, fields in iter_tsv_rows(path, columns, corpus=corpus, report=report):
        row = dict(zip(columns, fields))
        ctx = _RowContext(corpus, path, line)
        checked = _single_span(fields, columns, ("filename", "start_span", "end_span", "text"), texts, ctx, report)
        if checked is None:
            continue
        doc_id, fragment = checked
        if (doc_id, *fragment) in keys:
            ctx.skip(report, "duplicate_link", "a link for the same document and offsets came earlier")
            continue
        keys.add((doc_id, *fragment))
        anns = out.setdefault(doc_id, [])
        anns.append(
            Annotation(
                id=f"L{len(anns) + 1}",
                label=row["label"],
                fragments=[fragment],
                text=fragment_text(texts[doc_id], [fragment]),
                codes={} if row["code"] in NO_CODE_VALUES else {"SNOMEDCT": row["code"]},
                attributes={name: row[name] for name in MEDPROCNER_LINKING_ATTRIBUTES},
                source=corpus,
            )
        )
        report.add_converted(corpus, "linking_rows")
    if own:
        report.log_if_lossy(logger)
    return out


def merge_linking(
    mentions: AnnotationsByDoc,
    linked: AnnotationsByDoc,
    *,
    corpus: str,
    report: ConversionReport | None = None,
    path: PathLike | None = None,
) -> int:
    """Copy codes and attributes of linked annotations onto mentions with the same label and fragments.

    Mentions are changed in place; returns the number merged. A link with no
    such mention is counted as skipped ``no_matching_mention`` (it is not
    added as a new mention).
    """
    report, own = _report_for(report)
    merged = 0
    for doc_id, links in linked.items():
        targets: dict[tuple[str, tuple[Fragment, ...]], Annotation] = {}
        for ann in mentions.get(doc_id, []):
            targets.setdefault(ann.key(), ann)
        for link in links:
            target = targets.get(link.key())
            if target is None:
                report.add_skipped(
                    corpus,
                    "no_matching_mention",
                    path=path,
                    annotation_id=link.id,
                    detail=f"document {doc_id}, offsets {link.start}-{link.end}",
                )
                continue
            target.codes.update(link.codes)
            target.attributes.update(link.attributes)
            merged += 1
    report.add_converted(corpus, "linked_mentions", merged)
    if own:
        report.log_if_lossy(logger)
    return merged


def _trim_options(text: str, start: int, end: int) -> list[Fragment]:
    lead = 0
    while start + lead < end and text[start + lead] in _TRIM_CHARS:
        lead += 1
    tail = 0
    while end - tail > start and text[end - tail - 1] in _TRIM_CHARS:
        tail += 1
    options = [
        (start + a, end - b)
        for a in range(lead + 1)
        for b in range(tail + 1)
        if start + a < end - b or (a == 0 and b == 0)
    ]
    return options


def _trim_to_reference(text: str, fragments: Sequence[Fragment], ref: str) -> list[Fragment] | None:
    """Smallest punctuation/whitespace trim of the fragments that makes the slices equal ``ref``."""
    options = [_trim_options(text, s, e) for s, e in fragments]
    total = 1
    for opts in options:
        total *= len(opts)
    if total > _MAX_TRIM_COMBINATIONS:
        return None
    best: list[Fragment] | None = None
    best_cut = -1
    for combo in itertools.product(*options):
        if fragment_text(text, combo) == ref:
            cut = sum((e - s) for s, e in fragments) - sum((e - s) for s, e in combo)
            if best is None or cut < best_cut:
                best, best_cut = list(combo), cut
    return best


def _parse_positions(value: str) -> list[Fragment] | None:
    fragments: list[Fragment] = []
    for piece in value.split(";"):
        parts = piece.split()
        if len(parts) != 2:
            return None
        start, end = _parse_offset(parts[0]), _parse_offset(parts[1])
        if start is None or end is None:
            return None
        fragments.append((start, end))
    return fragments


def read_codiesp_evidence(
    path: PathLike, texts: Texts, *, corpus: str = "codiesp", report: ConversionReport | None = None
) -> AnnotationsByDoc:
    """CodiEsp ``{split}X.tsv``: one annotation per row (see the module docstring for the text rule).

    Columns (no header): articleID, DIAGNOSTICO/PROCEDIMIENTO, code,
    reference, positions. Codes go to ``ICD10-CM`` (DIAGNOSTICO) or
    ``ICD10-PCS`` (PROCEDIMIENTO), kept as written (lower case). Ids are
    ``T1``, ``T2``… per document in row order. Rows with the same fragments
    and different codes stay separate annotations.
    """
    report, own = _report_for(report)
    path = Path(path)
    columns = ("articleID", "label", "code", "reference", "positions")
    out: AnnotationsByDoc = {}
    for line, fields in iter_tsv_rows(path, columns, corpus=corpus, report=report, header=False):
        doc_name, label, code, ref, positions = fields
        ctx = _RowContext(corpus, path, line)
        found = _doc_text(texts, doc_name, ctx, report)
        if found is None:
            continue
        doc_id, text = found
        if label not in CODIESP_LABELS:
            ctx.skip(report, "unknown_label", f"label must be one of {', '.join(CODIESP_LABELS)}")
            continue
        fragments = _parse_positions(positions)
        if fragments is None:
            ctx.skip(report, "malformed_row", "positions must be 'start end' or 'start end;start end…'")
            continue
        if not _check_offsets(fragments, text, ctx, report, allow_empty=True):
            continue
        expected = fragment_text(text, fragments)
        if ref != expected:
            trimmed = _trim_to_reference(text, fragments, ref)
            if trimmed is not None:
                ctx.adjust(
                    report,
                    "trimmed_to_reference",
                    f"{sum(e - s for s, e in fragments) - sum(e - s for s, e in trimmed)} "
                    "punctuation/space characters trimmed",
                )
                fragments = trimmed
            else:
                ctx.adjust(
                    report,
                    "reference_text_differs",
                    f"expected {len(expected)} characters, found {len(ref)}; offsets kept",
                )
        non_empty = [f for f in fragments if f[0] < f[1]]
        if not non_empty:
            ctx.skip(report, "empty_or_reversed_span", "every fragment is empty")
            continue
        if len(non_empty) != len(fragments):
            ctx.adjust(report, "empty_fragment_dropped", f"{len(fragments) - len(non_empty)} empty fragment(s)")
        if not code:
            ctx.skip(report, "malformed_row", "empty code")
            continue
        anns = out.setdefault(doc_id, [])
        anns.append(
            Annotation(
                id=f"T{len(anns) + 1}",
                label=label,
                fragments=non_empty,
                text=fragment_text(text, non_empty),
                codes={CODIESP_LABELS[label]: code},
                source=corpus,
            )
        )
        report.add_converted(corpus, "evidence_rows")
    if own:
        report.log_if_lossy(logger)
    return out


def read_doc_codes_tsv(
    path: PathLike,
    *,
    corpus: str,
    columns: Sequence[str] = ("articleID", "code"),
    header: bool = False,
    split_plus: bool = False,
    report: ConversionReport | None = None,
) -> dict[str, list[str]]:
    """Read ``document, code`` rows into ``{doc_id: [code, …]}`` (source order, duplicates kept).

    ``split_plus`` splits a ``+``-joined code column (MedProcNER subtask 3).
    """
    report, own = _report_for(report)
    path = Path(path)
    out: dict[str, list[str]] = {}
    for line, fields in iter_tsv_rows(path, columns, corpus=corpus, report=report, header=header):
        doc_name, value = fields
        if not doc_name or not value:
            report.add_skipped(corpus, "malformed_row", path=path, line=line, detail="empty document or code")
            continue
        codes = value.split("+") if split_plus else [value]
        out.setdefault(normalize_doc_id(doc_name), []).extend(codes)
        report.add_converted(corpus, "document_code_rows")
    if own:
        report.log_if_lossy(logger)
    return out


def read_codiesp_doc_codes(
    path: PathLike, *, corpus: str = "codiesp", report: ConversionReport | None = None
) -> dict[str, list[str]]:
    """CodiEsp ``{split}D.tsv`` (ICD10-CM) or ``{split}P.tsv`` (ICD10-PCS): no header."""
    return read_doc_codes_tsv(path, corpus=corpus, report=report)


def read_medprocner_doc_codes(
    path: PathLike, *, corpus: str = "medprocner", report: ConversionReport | None = None
) -> dict[str, list[str]]:
    """MedProcNER subtask 3 (``filename codes``, codes ``+``-joined)."""
    return read_doc_codes_tsv(
        path, corpus=corpus, columns=MEDPROCNER_DOC_CODES_COLUMNS, header=True, split_plus=True, report=report
    )


def read_cantemist_coding(
    path: PathLike, *, corpus: str = "cantemist", report: ConversionReport | None = None
) -> dict[str, list[str]]:
    """CANTEMIST ``*-coding.tsv`` (``file code``, eCIE-O-3.1 codes)."""
    return read_doc_codes_tsv(path, corpus=corpus, columns=CANTEMIST_CODING_COLUMNS, header=True, report=report)
