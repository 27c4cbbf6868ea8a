"""SpaCy-free standoff model shared by every corpus reader and writer.

A :class:`Document` is a text plus :class:`Annotation` objects. An annotation
is one concept: a label, one or more character fragments (several for a
discontinuous mention such as BRAT ``T3 LABEL 10 15;20 28``), codes from one
or more terminologies, attributes and free-text notes. Offsets are Python
string indices into ``Document.text`` exactly as read (a UTF-8 BOM, when the
file has one, is part of the text: BRAT offsets count it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

Fragment = tuple[int, int]


@dataclass
class Annotation:
    """One annotated concept, possibly discontinuous.

    ``id`` is unique within its document (``T3`` for BRAT, generated for TSV
    corpora without ids). ``fragments`` keep the source order, which is not
    always left-to-right (CodiEsp writes ``1773 1782;222 228``). ``codes`` maps
    a terminology name (``SNOMEDCT``, ``ICD10``, ``ICD10-CM``, ``ICD10-PCS``,
    ``CIE-O-3.1``…) to a code string (``+``-joined when composite).
    """

    id: str
    label: str
    fragments: list[Fragment]
    text: str
    codes: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def start(self) -> int:
        return min(s for s, _ in self.fragments)

    @property
    def end(self) -> int:
        return max(e for _, e in self.fragments)

    @property
    def is_discontinuous(self) -> bool:
        return len(self.fragments) > 1

    def key(self) -> tuple[str, tuple[Fragment, ...]]:
        """Identity used to compare annotations across formats."""
        return (self.label, tuple(sorted(self.fragments)))


@dataclass
class Relation:
    """A binary relation between two annotations of one document.

    BRAT writes it as ``R1<TAB>Scope Arg1:T1 Arg2:T2``: ``id`` is ``R1``,
    ``type`` is ``Scope``, ``arg1``/``arg2`` are annotation ids and ``roles``
    keeps the two role names as written (``Arg1``/``Arg2`` almost always).
    NUBes links a negation/uncertainty cue to its scope this way (``Scope``,
    ``DiscScope``, ``DiscMarker``).
    """

    id: str
    type: str
    arg1: str
    arg2: str
    roles: tuple[str, str] = ("Arg1", "Arg2")


@dataclass
class Document:
    """A text with its annotations (and relations between them), as read from one corpus."""

    id: str
    text: str
    annotations: list[Annotation] = field(default_factory=list)
    corpus: str = ""
    path: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)


def normalize_doc_id(name: str) -> str:
    """Map a file name or TSV id to the shared SPACCC document id.

    Drops a directory, a ``.txt``/``.ann`` extension and the optional ``es-``
    prefix, so ``es-S0004-06142005000700014-1.txt`` and
    ``S0004-06142005000700014-1`` compare equal.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    for ext in (".txt", ".ann"):
        base = base.removesuffix(ext)
    base = base.removeprefix("es-")
    return base


#: Document-level code lists live in ``Document.meta`` under ``codes.<TERMINOLOGY>``
#: (e.g. ``codes.ICD10-CM`` for CodiEsp D, ``codes.SNOMEDCT`` for MedProcNER
#: subtask 3), ``+``-joined in source order as MedProcNER writes them.
DOC_CODES_PREFIX = "codes."
DOC_CODES_SEPARATOR = "+"


def doc_codes(document: Document, terminology: str) -> list[str]:
    """Document-level codes of one terminology (empty list when absent)."""
    value = document.meta.get(DOC_CODES_PREFIX + terminology, "")
    return value.split(DOC_CODES_SEPARATOR) if value else []


def set_doc_codes(document: Document, terminology: str, codes: list[str]) -> None:
    """Store document-level codes of one terminology in ``document.meta``."""
    document.meta[DOC_CODES_PREFIX + terminology] = DOC_CODES_SEPARATOR.join(codes)
