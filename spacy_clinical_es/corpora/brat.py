"""Read and write BRAT standoff (``.txt`` + ``.ann``) without spaCy.

Supported ``.ann`` lines (fields separated by a TAB, sub-fields by a space):

* ``T3<TAB>LABEL 10 15;20 28<TAB>text`` — a text-bound annotation with one or
  more fragments. The text field is the fragment texts joined by one space
  (as BRAT writes it); a line break inside a fragment is written as a space.
* ``A1<TAB>NAME T3`` (binary) and ``A1<TAB>NAME T3 VALUE`` (valued), and the
  legacy ``M`` lines: stored as ``Annotation.attributes[NAME]``; a binary
  attribute gets the value :data:`BINARY_ATTRIBUTE_VALUE`.
* ``#1<TAB>AnnotatorNotes T3<TAB>note`` — appended to ``Annotation.notes``
  (kept verbatim, including leading spaces; ``#`` ids may repeat).
* ``N1<TAB>Reference T3 DB:ID<TAB>name`` — stored as ``Annotation.codes[DB]``
  (several ``N`` lines for one DB are ``+``-joined; the name is not kept).
* ``R1<TAB>TYPE Arg1:T3 Arg2:T4`` — a :class:`~.annotations.Relation` in
  ``Document.relations`` (id, type, both arguments and their role names kept;
  an optional empty third field is accepted). Both arguments must be
  text-bound annotations of the same file.

Events and equivalences (``E``, ``*``) are rejected, never skipped.
Overlapping and nested annotations are kept as they are. Every problem raises
:class:`~spacy_clinical_es.errors.CorpusFormatError` with the file, the
1-based line and the annotation id; messages give offsets and lengths, never
the annotated text. ``.txt`` files are decoded as plain UTF-8 (a BOM is kept:
BRAT offsets count it).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import CorpusFormatError, DataDirError
from ..util import PathLike
from .annotations import Annotation, Document, Fragment, Relation, normalize_doc_id

logger = logging.getLogger(__name__)


#: Value stored for a binary attribute (``A1<TAB>IMAGEN T8``).
BINARY_ATTRIBUTE_VALUE = "true"

_T_SPEC = re.compile(r"(\S+) ([0-9]+ [0-9]+(?:;[0-9]+ [0-9]+)*)")
_T_ID = re.compile(r"T\S*")
_ATTR_SPEC = re.compile(r"(\S+) (\S+)(?: (\S+))?")
_NOTE_SPEC = re.compile(r"AnnotatorNotes (\S+)")
_NORM_SPEC = re.compile(r"Reference (\S+) ([^\s:]+):(\S+)")
_REL_SPEC = re.compile(r"(\S+) ([^\s:]+):(\S+) ([^\s:]+):(\S+)")
_R_ID = re.compile(r"R\S*")
# Ids quoted in messages must look like ids: a garbage line's first field may be text.
_SAFE_ID = re.compile(r"[TAMN#RE*][0-9A-Za-z_.\-]{0,30}")
_MAX_DIGITS = 15
_WS = re.compile(r"\s")


def _safe_id(value: str) -> str | None:
    return value if _SAFE_ID.fullmatch(value) else None


def decode_utf8(data: bytes, path: PathLike | None = None) -> str:
    """Decode bytes as plain UTF-8 (BOM kept) or raise with the byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise CorpusFormatError(
            f"not valid UTF-8: byte offset {err.start} ({err.reason}); re-encode the file as UTF-8",
            path=None if path is None else str(path),
            line=line,
        ) from None


def read_text_file(path: PathLike) -> str:
    """Read a corpus file as plain UTF-8 without newline translation."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorpusFormatError("file not found", path=str(path)) from None
    return decode_utf8(data, path)


def fragment_text(text: str, fragments: Sequence[Fragment]) -> str:
    """Fragment texts joined by one space, in fragment order (BRAT's rule)."""
    return " ".join(text[start:end] for start, end in fragments)


def _field_text(value: str) -> str:
    """How a span text is written in the one-line BRAT text field."""
    return value.replace("\r", " ").replace("\n", " ")


def _parse_int(digits: str, path: str | None, line: int, ann_id: str | None) -> int:
    if len(digits) > _MAX_DIGITS:
        raise CorpusFormatError(
            f"offset with {len(digits)} digits is out of range", path=path, line=line, annotation_id=ann_id
        )
    return int(digits)


def _check_fragments(
    fragments: Sequence[Fragment],
    doc_text: str,
    *,
    path: str | None,
    line: int | None,
    ann_id: str | None,
) -> None:
    for k, (start, end) in enumerate(fragments, 1):
        if start >= end:
            raise CorpusFormatError(
                f"fragment {k} is empty or reversed (start {start}, end {end}); start must be < end",
                path=path,
                line=line,
                annotation_id=ann_id,
            )
        if end > len(doc_text):
            raise CorpusFormatError(
                f"fragment {k} ({start}-{end}) ends beyond the text ({len(doc_text)} characters); "
                "is this the right .txt file?",
                path=path,
                line=line,
                annotation_id=ann_id,
            )


def _check_text_field(
    field: str,
    fragments: Sequence[Fragment],
    doc_text: str,
    *,
    path: str | None,
    line: int,
    ann_id: str | None,
) -> None:
    """Compare the text field with the fragment slices, one fragment at a time."""
    expected = _field_text(fragment_text(doc_text, fragments))
    if field == expected:
        return
    pos = 0
    for k, (start, end) in enumerate(fragments, 1):
        piece = _field_text(doc_text[start:end])
        if k > 1:
            if field[pos : pos + 1] != " ":
                break
            pos += 1
        if field[pos : pos + len(piece)] != piece:
            # Length this fragment has in the field if every other fragment is right.
            found = len(field) - (len(expected) - len(piece))
            first_diff = next(
                (i for i, (a, b) in enumerate(zip(piece, field[pos:])) if a != b),
                min(len(piece), len(field) - pos),
            )
            raise CorpusFormatError(
                f"text field does not match the document at fragment {k} ({start}-{end}): "
                f"expected {len(piece)} characters, found {found}; first difference at character "
                f"{first_diff} of the fragment",
                path=path,
                line=line,
                annotation_id=ann_id,
            )
        pos += len(piece)
    raise CorpusFormatError(
        f"text field does not match the document: expected {len(expected)} characters "
        f"(fragments joined by one space), found {len(field)}",
        path=path,
        line=line,
        annotation_id=ann_id,
    )


def parse_ann(text_of_ann: str, doc_text: str, *, path: PathLike | None = None) -> list[Annotation]:
    """Parse a ``.ann`` file's content and return its text-bound annotations.

    Relations are parsed and validated too (a bad ``R`` line raises) but not
    returned: use :func:`parse_standoff` to get them.
    """
    return parse_standoff(text_of_ann, doc_text, path=path)[0]


def parse_standoff(
    text_of_ann: str, doc_text: str, *, path: PathLike | None = None
) -> tuple[list[Annotation], list[Relation]]:
    """Parse the content of a ``.ann`` file against its document text.

    Returns the text-bound annotations in file order with their attributes,
    notes and normalisation codes attached, and the relations in file order.
    Raises CorpusFormatError on any malformed line, bad offset, text mismatch
    or unknown referenced id.
    """
    where = None if path is None else str(path)
    annotations: dict[str, Annotation] = {}
    references: list[tuple[int, str]] = []  # (line number, line) of A/M/N/#/R lines
    for lineno, content in enumerate(text_of_ann.split("\n"), 1):
        content = content.removesuffix("\r")
        if not content.strip():
            continue
        kind = content[0]
        if kind == "T":
            ann = _parse_text_bound(content, doc_text, path=where, lineno=lineno)
            if ann.id in annotations:
                raise CorpusFormatError(
                    "duplicate annotation id", path=where, line=lineno, annotation_id=_safe_id(ann.id)
                )
            annotations[ann.id] = ann
        elif kind in "AMN#R":
            references.append((lineno, content))
        elif kind in "E*":
            raise CorpusFormatError(
                "event/equivalence lines (E, *) are not supported; remove them or turn them into relations (R)",
                path=where,
                line=lineno,
                annotation_id=_safe_id(content.split("\t", 1)[0]),
            )
        else:
            raise CorpusFormatError(
                "malformed line: expected a T, R, A, M, N or # annotation line",
                path=where,
                line=lineno,
            )
    seen_attribute_ids: dict[str, int] = {}
    relations: dict[str, tuple[int, Relation]] = {}
    for lineno, content in references:
        kind = content[0]
        if kind in "AM":
            _parse_attribute(content, annotations, seen_attribute_ids, path=where, lineno=lineno)
        elif kind == "#":
            _parse_note(content, annotations, path=where, lineno=lineno)
        elif kind == "R":
            relation = _parse_relation(content, annotations, path=where, lineno=lineno)
            if relation.id in relations:
                raise CorpusFormatError(
                    f"duplicate relation id (first on line {relations[relation.id][0]})",
                    path=where,
                    line=lineno,
                    annotation_id=_safe_id(relation.id),
                )
            relations[relation.id] = (lineno, relation)
        else:
            _parse_normalization(content, annotations, path=where, lineno=lineno)
    return list(annotations.values()), [relation for _, relation in relations.values()]


def _parse_text_bound(content: str, doc_text: str, *, path: str | None, lineno: int) -> Annotation:
    fields = content.split("\t", 2)
    ann_id = _safe_id(fields[0])
    if len(fields) != 3 or not _T_ID.fullmatch(fields[0]):
        raise CorpusFormatError(
            "malformed T line: expected 'ID<TAB>LABEL START END[;START END…]<TAB>TEXT'",
            path=path,
            line=lineno,
            annotation_id=ann_id,
        )
    match = _T_SPEC.fullmatch(fields[1])
    if match is None:
        raise CorpusFormatError(
            "malformed T line: the second field must be 'LABEL START END' with fragments separated by ';'",
            path=path,
            line=lineno,
            annotation_id=ann_id,
        )
    fragments: list[Fragment] = []
    for piece in match.group(2).split(";"):
        start_s, end_s = piece.split(" ")
        fragments.append((_parse_int(start_s, path, lineno, ann_id), _parse_int(end_s, path, lineno, ann_id)))
    _check_fragments(fragments, doc_text, path=path, line=lineno, ann_id=ann_id)
    _check_text_field(fields[2], fragments, doc_text, path=path, line=lineno, ann_id=ann_id)
    return Annotation(
        id=fields[0],
        label=match.group(1),
        fragments=fragments,
        text=fragment_text(doc_text, fragments),
    )


def _target(
    target: str, annotations: dict[str, Annotation], *, path: str | None, lineno: int, line_id: str
) -> Annotation:
    if target not in annotations:
        shown = _safe_id(target) or "(not an id)"
        raise CorpusFormatError(
            f"references unknown annotation id {shown}; only T annotations of the same file can be referenced",
            path=path,
            line=lineno,
            annotation_id=_safe_id(line_id),
        )
    return annotations[target]


def _parse_attribute(
    content: str,
    annotations: dict[str, Annotation],
    seen: dict[str, int],
    *,
    path: str | None,
    lineno: int,
) -> None:
    fields = content.split("\t")
    line_id = fields[0]
    match = _ATTR_SPEC.fullmatch(fields[1]) if len(fields) == 2 else None
    if match is None or _WS.search(line_id):
        raise CorpusFormatError(
            "malformed attribute line: expected 'ID<TAB>NAME TARGET' or 'ID<TAB>NAME TARGET VALUE'",
            path=path,
            line=lineno,
            annotation_id=_safe_id(line_id),
        )
    if line_id in seen:
        raise CorpusFormatError(
            f"duplicate attribute id (first on line {seen[line_id]})",
            path=path,
            line=lineno,
            annotation_id=_safe_id(line_id),
        )
    seen[line_id] = lineno
    name, target, value = match.group(1), match.group(2), match.group(3)
    ann = _target(target, annotations, path=path, lineno=lineno, line_id=line_id)
    if name in ann.attributes:
        raise CorpusFormatError(
            f"annotation {_safe_id(target) or '?'} has this attribute twice",
            path=path,
            line=lineno,
            annotation_id=_safe_id(line_id),
        )
    ann.attributes[name] = BINARY_ATTRIBUTE_VALUE if value is None else value


def _parse_note(content: str, annotations: dict[str, Annotation], *, path: str | None, lineno: int) -> None:
    fields = content.split("\t", 2)
    line_id = fields[0]
    match = _NOTE_SPEC.fullmatch(fields[1]) if len(fields) >= 2 else None
    if match is None or _WS.search(line_id):
        raise CorpusFormatError(
            "malformed note line: expected '#ID<TAB>AnnotatorNotes TARGET<TAB>NOTE'",
            path=path,
            line=lineno,
            annotation_id=_safe_id(line_id),
        )
    ann = _target(match.group(1), annotations, path=path, lineno=lineno, line_id=line_id)
    ann.notes.append(fields[2] if len(fields) == 3 else "")


def _parse_normalization(
    content: str, annotations: dict[str, Annotation], *, path: str | None, lineno: int
) -> None:
    fields = content.split("\t", 2)
    line_id = fields[0]
    match = _NORM_SPEC.fullmatch(fields[1]) if len(fields) >= 2 else None
    if match is None or _WS.search(line_id):
        raise CorpusFormatError(
            "malformed normalization line: expected 'N1<TAB>Reference TARGET DB:ID<TAB>NAME'",
            path=path,
            line=lineno,
            annotation_id=_safe_id(line_id),
        )
    ann = _target(match.group(1), annotations, path=path, lineno=lineno, line_id=line_id)
    db, code = match.group(2), match.group(3)
    ann.codes[db] = f"{ann.codes[db]}+{code}" if db in ann.codes else code


def _parse_relation(
    content: str, annotations: dict[str, Annotation], *, path: str | None, lineno: int
) -> Relation:
    fields = content.split("\t")
    line_id = fields[0]
    match = _REL_SPEC.fullmatch(fields[1]) if len(fields) in (2, 3) else None
    if match is None or not _R_ID.fullmatch(line_id) or (len(fields) == 3 and fields[2].strip()):
        raise CorpusFormatError(
            "malformed relation line: expected 'ID<TAB>TYPE Arg1:TARGET Arg2:TARGET'",
            path=path,
            line=lineno,
            annotation_id=_safe_id(line_id),
        )
    rel_type, role1, arg1, role2, arg2 = match.groups()
    if role1 == role2:
        raise CorpusFormatError(
            f"relation has two arguments with the same role {role1!r}; roles must differ",
            path=path,
            line=lineno,
            annotation_id=_safe_id(line_id),
        )
    for target in (arg1, arg2):
        _target(target, annotations, path=path, lineno=lineno, line_id=line_id)
    return Relation(id=line_id, type=rel_type, arg1=arg1, arg2=arg2, roles=(role1, role2))


def read_brat_document(
    txt_path: PathLike, ann_path: PathLike | None = None, *, corpus: str = ""
) -> Document:
    """Read one ``.txt`` and its ``.ann`` (default: same name, ``.ann``).

    Without an explicit ``ann_path`` a missing ``.ann`` means "no
    annotations" (a text-only document); an explicit one must exist.
    """
    txt_path = Path(txt_path)
    if not txt_path.is_file():
        raise CorpusFormatError("text file not found; every .ann needs its .txt", path=str(txt_path))
    text = read_text_file(txt_path)
    explicit = ann_path is not None
    ann_file = Path(ann_path) if ann_path is not None else txt_path.with_suffix(".ann")
    annotations: list[Annotation] = []
    relations: list[Relation] = []
    if ann_file.is_file():
        annotations, relations = parse_standoff(read_text_file(ann_file), text, path=str(ann_file))
    elif explicit:
        raise CorpusFormatError("annotation file not found", path=str(ann_file))
    for ann in annotations:
        ann.source = corpus
    return Document(
        id=normalize_doc_id(txt_path.name),
        text=text,
        annotations=annotations,
        corpus=corpus,
        path=str(txt_path),
        relations=relations,
    )


def _list_pairs(folder: Path) -> list[tuple[Path, Path | None]]:
    if not folder.is_dir():
        raise DataDirError(f"BRAT folder not found: {folder}")
    txts: dict[str, Path] = {}
    anns: dict[str, Path] = {}
    for child in folder.iterdir():
        if child.suffix == ".txt" and child.is_file():
            txts[child.stem] = child
        elif child.suffix == ".ann" and child.is_file():
            anns[child.stem] = child
    for stem in sorted(anns):
        if stem not in txts:
            raise CorpusFormatError(
                f"annotation file {anns[stem].name} has no text file {stem}.txt beside it",
                path=str(folder / f"{stem}.txt"),
            )
    ids: dict[str, str] = {}
    for stem in sorted(txts):
        doc_id = normalize_doc_id(stem)
        if doc_id in ids:
            raise CorpusFormatError(
                f"two files map to document id {doc_id}: {ids[doc_id]}.txt and {stem}.txt",
                path=str(folder),
            )
        ids[doc_id] = stem
    return [(txts[stem], anns.get(stem)) for stem in sorted(txts)]


def iter_brat_dir(folder: PathLike, *, corpus: str = "") -> Iterator[Document]:
    """Yield the documents of a BRAT folder, sorted by file name.

    Every ``.txt`` is a document; its ``.ann`` (if any) gives the annotations.
    A ``.ann`` without its ``.txt`` raises before anything is yielded.
    """
    for txt_path, ann_path in _list_pairs(Path(folder)):
        yield read_brat_document(txt_path, ann_path, corpus=corpus)


def read_text_dir(folder: PathLike, *, corpus: str = "") -> dict[str, Document]:
    """Read every ``.txt`` of a folder as an unannotated Document, by document id."""
    docs: dict[str, Document] = {}
    for txt_path, _ in _list_pairs(Path(folder)):
        doc_id = normalize_doc_id(txt_path.name)
        docs[doc_id] = Document(id=doc_id, text=read_text_file(txt_path), corpus=corpus, path=str(txt_path))
    return docs


def _check_writable(value: str, what: str, document: Document, ann_id: str, *, allow_space: bool = False) -> None:
    bad = re.search(r"[\r\n]", value) if allow_space else (not value or _WS.search(value))
    if bad:
        raise CorpusFormatError(
            f"cannot write {what} in BRAT: it must be non-empty and contain no whitespace"
            if not allow_space
            else f"cannot write {what} in BRAT: it contains a line break",
            path=document.path or document.id,
            annotation_id=_safe_id(ann_id),
        )


def format_ann(document: Document, *, notes_from_codes: str | None = None) -> str:
    """Write a document's annotations as ``.ann`` content.

    Each annotation gives its ``T`` line followed by its ``A``, ``N`` and
    ``#`` lines (numbered through the file); the relations' ``R`` lines
    follow, with their own ids. ``notes_from_codes`` names a
    terminology whose code is written as an AnnotatorNotes line instead of an
    ``N`` line — the official CANTEMIST layout (``#1 AnnotatorNotes T1 8041/3``).
    Raises CorpusFormatError for content BRAT cannot hold (whitespace in a
    label, a line break in a note, offsets outside the text).
    """
    lines: list[str] = []
    n_attr = n_norm = n_note = 0
    seen: set = set()
    for ann in document.annotations:
        if not _T_ID.fullmatch(ann.id) or ann.id in seen:
            raise CorpusFormatError(
                "cannot write annotation id in BRAT: ids must be unique, start with 'T' and have no whitespace",
                path=document.path or document.id,
                annotation_id=_safe_id(ann.id),
            )
        seen.add(ann.id)
        _check_writable(ann.label, "a label", document, ann.id)
        if not ann.fragments:
            raise CorpusFormatError(
                "annotation has no fragments", path=document.path or document.id, annotation_id=_safe_id(ann.id)
            )
        _check_fragments(ann.fragments, document.text, path=document.path or document.id, line=None, ann_id=ann.id)
        offsets = ";".join(f"{start} {end}" for start, end in ann.fragments)
        text_field = _field_text(fragment_text(document.text, ann.fragments))
        lines.append(f"{ann.id}\t{ann.label} {offsets}\t{text_field}")
        for name, value in ann.attributes.items():
            _check_writable(name, "an attribute name", document, ann.id)
            n_attr += 1
            if value == BINARY_ATTRIBUTE_VALUE:
                lines.append(f"A{n_attr}\t{name} {ann.id}")
            else:
                _check_writable(value, "an attribute value", document, ann.id)
                lines.append(f"A{n_attr}\t{name} {ann.id} {value}")
        note_codes: list[str] = []
        for db, code in ann.codes.items():
            if db == notes_from_codes:
                _check_writable(code, "a code", document, ann.id, allow_space=True)
                note_codes.append(code)
                continue
            _check_writable(db, "a terminology name", document, ann.id)
            _check_writable(code, "a code", document, ann.id)
            if ":" in db:
                raise CorpusFormatError(
                    "cannot write a terminology name containing ':' in BRAT",
                    path=document.path or document.id,
                    annotation_id=_safe_id(ann.id),
                )
            n_norm += 1
            lines.append(f"N{n_norm}\tReference {ann.id} {db}:{code}\t")
        for note in note_codes + list(ann.notes):
            _check_writable(note, "a note", document, ann.id, allow_space=True)
            n_note += 1
            lines.append(f"#{n_note}\tAnnotatorNotes {ann.id}\t{note}")
    lines += _relation_lines(document, seen)
    return "".join(line + "\n" for line in lines)


def _relation_lines(document: Document, annotation_ids: set) -> list[str]:
    """``R`` lines of a document, ids kept, after checking they can be read back."""
    where = document.path or document.id
    lines: list[str] = []
    seen: set = set()
    for rel in document.relations:
        if not _R_ID.fullmatch(rel.id) or rel.id in seen:
            raise CorpusFormatError(
                "cannot write relation id in BRAT: ids must be unique, start with 'R' and have no whitespace",
                path=where,
                annotation_id=_safe_id(rel.id),
            )
        seen.add(rel.id)
        _check_writable(rel.type, "a relation type", document, rel.id)
        for role in rel.roles:
            _check_writable(role, "a relation role", document, rel.id)
            if ":" in role:
                raise CorpusFormatError(
                    "cannot write a relation role containing ':' in BRAT", path=where, annotation_id=_safe_id(rel.id)
                )
        if rel.roles[0] == rel.roles[1]:
            raise CorpusFormatError(
                "cannot write a relation whose two roles are equal", path=where, annotation_id=_safe_id(rel.id)
            )
        for arg in (rel.arg1, rel.arg2):
            if arg not in annotation_ids:
                raise CorpusFormatError(
                    f"relation argument {_safe_id(arg) or '(not an id)'} names no annotation of the document",
                    path=where,
                    annotation_id=_safe_id(rel.id),
                )
        lines.append(f"{rel.id}\t{rel.type} {rel.roles[0]}:{rel.arg1} {rel.roles[1]}:{rel.arg2}")
    return lines


def write_brat_document(
    document: Document, out_dir: PathLike, *, notes_from_codes: str | None = None
) -> tuple[Path, Path]:
    """Write ``<name>.txt`` (exact UTF-8 bytes) and ``<name>.ann`` into ``out_dir``.

    The name is the stem of ``document.path`` when set (keeping an ``es-``
    prefix as the source had it), else ``document.id``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(document.path).stem if document.path else document.id
    ann_content = format_ann(document, notes_from_codes=notes_from_codes)
    txt_path = out / f"{stem}.txt"
    ann_path = out / f"{stem}.ann"
    txt_path.write_bytes(document.text.encode("utf-8"))
    ann_path.write_bytes(ann_content.encode("utf-8"))
    return txt_path, ann_path
