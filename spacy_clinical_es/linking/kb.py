"""A small terminology knowledge base: codes with preferred terms and synonyms.

Loaded from and saved to TSV (``code``, ``preferred_term``, ``synonyms``
joined by ``|``, ``semantic_type``, ``vocabulary``, ``parent``, ``frequency``;
only the first two are required) or JSONL (one :class:`Concept` per line).
:meth:`TerminologyKB.from_linking_rows` builds one from the rows of the
linking corpus (``convert linking``): every code seen in the rows, its surface
forms as synonyms, the most frequent form as preferred term, the mention label
as semantic type, the row's ``system`` as vocabulary and the number of
mentions as ``frequency`` (the code prior of
:func:`~spacy_clinical_es.linking.candidates.code_prior`). Builders for other
sources (the CIE-10 table of the ``cie`` package, the SNOMED CT and CodiEsp
mentions) are in :mod:`spacy_clinical_es.linking.builders`.
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ClinicalEsError
from ..util import PathLike
from .normalize import normalize_term, token_key

TSV_COLUMNS = ("code", "preferred_term", "synonyms", "semantic_type", "vocabulary", "parent", "frequency")
SYNONYM_SEP = "|"


class LinkingError(ClinicalEsError, ValueError):
    """A knowledge base, encoder or index is malformed or used before it is ready."""


@dataclass(frozen=True)
class Concept:
    """One code: preferred term, other surface forms and optional metadata."""

    code: str
    preferred_term: str
    synonyms: tuple[str, ...] = ()
    semantic_type: str | None = None
    vocabulary: str | None = None
    parent: str | None = None
    frequency: int | None = None

    @property
    def terms(self) -> tuple[str, ...]:
        """Preferred term first, then the synonyms that differ from it."""
        return (self.preferred_term,) + tuple(s for s in self.synonyms if s != self.preferred_term)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["synonyms"] = list(self.synonyms)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Concept:
        return cls(
            code=str(data["code"]),
            preferred_term=str(data["preferred_term"]),
            synonyms=tuple(str(s) for s in data.get("synonyms") or ()),
            semantic_type=data.get("semantic_type") or None,
            vocabulary=data.get("vocabulary") or None,
            parent=data.get("parent") or None,
            frequency=_frequency(data.get("frequency")),
        )


@dataclass
class TerminologyKB:
    """Concepts by code, with the normalized alias table used for exact lookup.

    Aliases are the (normalized term, code) pairs of all concepts, in concept
    order then term order; duplicates (same normalized term and code) are
    kept once.
    """

    concepts: dict[str, Concept] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._aliases: list[tuple[str, str]] | None = None
        self._exact: dict[str, list[str]] | None = None
        self._token_keys: dict[str, list[str]] | None = None
        self._max_frequency: int | None = None

    def __len__(self) -> int:
        return len(self.concepts)

    def __contains__(self, code: object) -> bool:
        return code in self.concepts

    def __getitem__(self, code: str) -> Concept:
        return self.concepts[code]

    def add(self, concept: Concept) -> None:
        """Add or replace a concept."""
        if not concept.code or not concept.preferred_term.strip():
            raise LinkingError("A concept needs a non-empty code and preferred term.")
        self.concepts[concept.code] = concept
        self._aliases = None
        self._exact = None
        self._token_keys = None
        self._max_frequency = None

    @property
    def aliases(self) -> list[tuple[str, str]]:
        """(normalized term, code) pairs, deduplicated, in a stable order."""
        if self._aliases is None:
            seen: set[tuple[str, str]] = set()
            aliases = []
            for concept in self.concepts.values():
                for term in concept.terms:
                    key = (normalize_term(term), concept.code)
                    if key[0] and key not in seen:
                        seen.add(key)
                        aliases.append(key)
            self._aliases = aliases
        return self._aliases

    def exact(self, text: str) -> list[str]:
        """Codes with a term whose normalized form equals that of ``text``."""
        if self._exact is None:
            table: dict[str, list[str]] = defaultdict(list)
            for norm, code in self.aliases:
                table[norm].append(code)
            self._exact = dict(table)
        return list(self._exact.get(normalize_term(text), ()))

    def token_match(self, text: str) -> list[str]:
        """Codes with a term sharing the word-order-insensitive :func:`token_key` of ``text``.

        The second exact tier: plural/singular, word order, stop words and the
        abbreviations of :data:`~spacy_clinical_es.linking.normalize.ABBREVIATIONS`
        do not matter. Codes in alias order, each once.
        """
        if self._token_keys is None:
            table: dict[str, list[str]] = defaultdict(list)
            for norm, code in self.aliases:
                key = token_key(norm)
                if key and code not in table[key]:
                    table[key].append(code)
            self._token_keys = dict(table)
        key = token_key(text)
        return list(self._token_keys.get(key, ())) if key else []

    @property
    def max_frequency(self) -> int:
        """Largest concept ``frequency`` (0 when none is set)."""
        if self._max_frequency is None:
            self._max_frequency = max((c.frequency or 0 for c in self.concepts.values()), default=0)
        return self._max_frequency

    # -- builders ---------------------------------------------------------------

    @classmethod
    def from_linking_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        corpora: Iterable[str] | None = None,
        systems: Iterable[str] | None = None,
    ) -> TerminologyKB:
        """Build a KB from linking-corpus rows (``mention``, ``code``, ``label``, ``system``).

        Forms are kept as written (first spelling of each normalized form);
        the preferred term is the most frequent normalized form (ties: first
        seen). Rows outside ``corpora``/``systems`` (when given) are ignored.
        """
        wanted_corpora = set(corpora) if corpora is not None else None
        wanted_systems = set(systems) if systems is not None else None
        forms: dict[str, Counter] = defaultdict(Counter)
        spelling: dict[tuple[str, str], str] = {}
        meta: dict[str, tuple[Counter, Counter]] = defaultdict(lambda: (Counter(), Counter()))
        for i, row in enumerate(rows):
            if wanted_corpora is not None and row.get("corpus") not in wanted_corpora:
                continue
            if wanted_systems is not None and row.get("system") not in wanted_systems:
                continue
            code = str(row.get("code") or "").strip()
            mention = str(row.get("mention") or "")
            norm = normalize_term(mention)
            if not code or not norm:
                raise LinkingError(f"Linking row {i} has an empty code or mention.")
            forms[code][norm] += 1
            spelling.setdefault((code, norm), mention.strip())
            labels, vocabularies = meta[code]
            if row.get("label"):
                labels[row["label"]] += 1
            if row.get("system"):
                vocabularies[row["system"]] += 1
        kb = cls()
        for code, counts in forms.items():
            ordered = [spelling[(code, norm)] for norm, _ in counts.most_common()]
            labels, vocabularies = meta[code]
            kb.add(
                Concept(
                    code=code,
                    preferred_term=ordered[0],
                    synonyms=tuple(ordered[1:]),
                    semantic_type=labels.most_common(1)[0][0] if labels else None,
                    vocabulary=vocabularies.most_common(1)[0][0] if vocabularies else None,
                    frequency=sum(counts.values()),
                )
            )
        return kb

    @classmethod
    def from_linking_jsonl(cls, paths: Iterable[PathLike], **kwargs: Any) -> TerminologyKB:
        """:meth:`from_linking_rows` over one or more linking JSONL files."""
        return cls.from_linking_rows(iter_jsonl(paths), **kwargs)

    # -- serialization ----------------------------------------------------------

    def to_jsonl_string(self) -> str:
        return "".join(
            json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in self.concepts.values()
        )

    @classmethod
    def from_jsonl_string(cls, text: str, *, source: str = "<string>") -> TerminologyKB:
        kb = cls()
        for line_no, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 etc.
            if not line.strip():
                continue
            try:
                kb.add(Concept.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as err:
                raise LinkingError(
                    f"{source}, line {line_no}: not a concept object ({type(err).__name__}). "
                    "Each line needs at least 'code' and 'preferred_term'."
                ) from None
        return kb

    def to_tsv_string(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
        writer.writerow(TSV_COLUMNS)
        for c in self.concepts.values():
            if any(SYNONYM_SEP in s for s in c.synonyms):
                raise LinkingError(
                    f"Concept {c.code}: a synonym contains {SYNONYM_SEP!r}; save as JSONL instead."
                )
            writer.writerow(
                [c.code, c.preferred_term, SYNONYM_SEP.join(c.synonyms),
                 c.semantic_type or "", c.vocabulary or "", c.parent or "",
                 "" if c.frequency is None else str(c.frequency)]
            )
        return buffer.getvalue()

    @classmethod
    def from_tsv_string(cls, text: str, *, source: str = "<string>") -> TerminologyKB:
        reader = csv.reader(io.StringIO(text), delimiter="\t")
        kb = cls()
        header = next(reader, None)
        if header is None or tuple(header[:2]) != TSV_COLUMNS[:2]:
            raise LinkingError(
                f"{source}, line 1: expected a header starting with 'code<TAB>preferred_term'."
            )
        for line_no, fields in enumerate(reader, 2):
            if not fields:
                continue
            if len(fields) < 2 or len(fields) > len(TSV_COLUMNS):
                raise LinkingError(
                    f"{source}, line {line_no}: expected 2 to {len(TSV_COLUMNS)} columns, "
                    f"got {len(fields)}."
                )
            fields = fields + [""] * (len(TSV_COLUMNS) - len(fields))
            code, preferred, synonyms, sem_type, vocabulary, parent, frequency = fields
            try:
                kb.add(Concept(
                    code=code.strip(),
                    preferred_term=preferred,
                    synonyms=tuple(s for s in synonyms.split(SYNONYM_SEP) if s),
                    semantic_type=sem_type or None,
                    vocabulary=vocabulary or None,
                    parent=parent or None,
                    frequency=_frequency(frequency),
                ))
            except LinkingError:
                raise LinkingError(
                    f"{source}, line {line_no}: empty code or preferred term, or a frequency "
                    "that is not a non-negative integer."
                ) from None
        return kb

    def to_disk(self, path: PathLike) -> None:
        """Write TSV when ``path`` ends in ``.tsv``, else JSONL."""
        path = Path(path)
        text = self.to_tsv_string() if path.suffix == ".tsv" else self.to_jsonl_string()
        path.write_text(text, encoding="utf-8")

    @classmethod
    def from_disk(cls, path: PathLike) -> TerminologyKB:
        """Read TSV when ``path`` ends in ``.tsv``, else JSONL."""
        path = Path(path)
        if not path.is_file():
            raise LinkingError(f"Knowledge base file not found: {path}. Check kb_path.")
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".tsv":
            return cls.from_tsv_string(text, source=str(path))
        return cls.from_jsonl_string(text, source=str(path))


def _frequency(value: Any) -> int | None:
    """Parse an optional non-negative integer frequency (``LinkingError`` otherwise)."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise LinkingError("A concept frequency must be a non-negative integer.") from None
    if number < 0 or isinstance(value, bool) or (isinstance(value, float) and value != number):
        raise LinkingError("A concept frequency must be a non-negative integer.")
    return number


def iter_jsonl(paths: Iterable[PathLike]) -> Iterator[dict[str, Any]]:
    """The JSON objects of JSONL files, in order (blank lines skipped; a bad line names file and line)."""
    for path in paths:
        with Path(path).open(encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        raise LinkingError(f"{path}, line {line_no}: invalid JSON.") from None


#: The old name, kept so existing code keeps working; it shadowed spaCy's own
#: ``spacy.kb.KnowledgeBase`` (a different thing), so new code uses :class:`TerminologyKB`.
KnowledgeBase = TerminologyKB
