"""Scan a directory's bytes for the annotated strings of a corpus; spaCy-free.

A pipeline trained on clinical notes must not carry the PHI of its training
documents (spaCy's ``StringStore`` keeps every string it has seen; a
gazetteer may keep phrases). :func:`scan_directory` reads every byte of every
regular file below a directory and looks for each *needle*: an annotated
string of at least ``min_length`` characters, in the forms it may be stored
in:

* UTF-8 as written, lowercased, uppercased, title-cased, each also in NFC and
  NFD (composed/decomposed accents);
* JSON-escaped (``\\u00f3`` for ``ó``, ``\\"`` …), as ``json.dumps`` writes
  with ``ensure_ascii`` (spaCy's ``strings.json``, ``srsly``), also lowercased;

and every file is searched as it is and lowercased (ASCII), so case does not
hide a string. msgpack and pickle store strings as UTF-8, so they are covered
by the first form. The report holds counts per file and per label and the
number of distinct needles found: never the strings themselves (they are PHI).

The search is a multi-pattern one: a 16 M-entry table of 3-byte prefixes
(NumPy) finds candidate positions, each checked against the needles with that
prefix, so a 40 MB pipeline is scanned for thousands of strings in seconds.
"""
from __future__ import annotations

import json
import logging
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MIN_LENGTH",
    "NeedleSet",
    "ScanReport",
    "needle_variants",
    "scan_bytes",
    "scan_directory",
]

#: Shortest annotated string looked for (characters). Shorter ones ("H", "45", "Juan") occur by chance in
#: binary weights and as ordinary words; IDs, e-mails, names with surnames and addresses are longer.
DEFAULT_MIN_LENGTH = 6
_PREFIX = 3
_CHUNK = 1 << 23  # bytes searched at once (8 MiB): bounds the NumPy temporaries


def needle_variants(text: str) -> set[bytes]:
    """The byte forms in which ``text`` may be stored (see the module docstring)."""
    forms: set[bytes] = set()
    cased = {text, text.lower(), text.upper(), text.title()}
    for value in cased | {unicodedata.normalize(form, v) for v in cased for form in ("NFC", "NFD")}:
        forms.add(value.encode("utf8"))
        forms.add(json.dumps(value, ensure_ascii=True)[1:-1].encode("ascii"))
        forms.add(json.dumps(value, ensure_ascii=False)[1:-1].encode("utf8"))
    for value in list(forms):
        forms.add(value.lower())  # JSON escapes lowercased (\u00D3 -> \u00d3) and ASCII case
    return {form for form in forms if len(form) >= _PREFIX}


@dataclass
class NeedleSet:
    """Annotated strings to look for, by label, with their byte forms indexed by 3-byte prefix."""

    min_length: int = DEFAULT_MIN_LENGTH
    #: needle id -> label
    labels: list[str] = field(default_factory=list, repr=False)
    # The strings themselves: never shown (repr=False), they are PHI.
    _ids: dict[str, int] = field(default_factory=dict, repr=False)
    _by_prefix: dict[int, list[tuple[bytes, int]]] = field(default_factory=lambda: defaultdict(list), repr=False)
    skipped_short: int = 0

    def __post_init__(self) -> None:
        if self.min_length < _PREFIX:
            raise ConfigError(f"min_length must be at least {_PREFIX} characters")

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, text: str, label: str) -> None:
        """Add one annotated string (its surrounding whitespace ignored); short ones are counted, not added."""
        text = text.strip()
        if len(text) < self.min_length:
            self.skipped_short += 1
            return
        if text in self._ids:
            return
        needle_id = len(self.labels)
        self._ids[text] = needle_id
        self.labels.append(label)
        for form in needle_variants(text):
            self._by_prefix[_prefix_value(form)].append((form, needle_id))

    def add_all(self, items: Iterable[tuple[str, str]]) -> None:
        """Add ``(text, label)`` pairs."""
        for text, label in items:
            self.add(text, label)

    def without(self, needle_ids: Iterable[int]) -> NeedleSet:
        """A copy without the needles ``needle_ids`` (e.g. strings that are not training data: labels, language data)."""
        drop = set(needle_ids)
        copy = NeedleSet(min_length=self.min_length)
        copy.skipped_short = self.skipped_short
        for text, needle_id in self._ids.items():
            if needle_id not in drop:
                copy.add(text, self.labels[needle_id])
        return copy

    def prefix_table(self) -> np.ndarray:
        """A boolean table over every 3-byte value: True where some needle form starts with it."""
        table = np.zeros(1 << (8 * _PREFIX), dtype=bool)
        if self._by_prefix:
            table[np.fromiter(self._by_prefix, dtype=np.int64)] = True
        return table

    def candidates(self, prefix: int) -> list[tuple[bytes, int]]:
        return self._by_prefix.get(prefix, [])

    @property
    def longest(self) -> int:
        return max((len(form) for forms in self._by_prefix.values() for form, _ in forms), default=0)


def _prefix_value(form: bytes) -> int:
    return form[0] | (form[1] << 8) | (form[2] << 16)


def _positions(chunk: bytes, table: np.ndarray) -> list[int]:
    """Offsets in ``chunk`` whose next three bytes start some needle form (sorted)."""
    if len(chunk) < _PREFIX:
        return []
    padded = chunk + b"\0"  # so that the last 3-byte window is read as a 4-byte word too
    found = []
    for k in range(4):  # little-endian 4-byte words at offsets k, k+4, …: the low 3 bytes are the prefix
        view = padded[k:]
        words = np.frombuffer(view, dtype="<u4", count=len(view) // 4) & 0xFFFFFF
        found.append(np.flatnonzero(table[words]) * 4 + k)
    positions = np.sort(np.concatenate(found))
    return positions[positions <= len(chunk) - _PREFIX].tolist()


def scan_bytes(data: bytes, needles: NeedleSet, table: np.ndarray | None = None) -> set[int]:
    """Ids of the needles found anywhere in ``data`` (as it is or ASCII-lowercased)."""
    if table is None:
        table = needles.prefix_table()
    found: set[int] = set()
    overlap = max(needles.longest - 1, 0)
    for view in (data, data.lower()):
        start = 0
        while start < len(view):
            end = min(len(view), start + _CHUNK + overlap)
            chunk = view[start:end]
            for pos in _positions(chunk, table):
                prefix = chunk[pos] | (chunk[pos + 1] << 8) | (chunk[pos + 2] << 16)
                for form, needle_id in needles.candidates(prefix):
                    if needle_id not in found and view.startswith(form, start + pos):
                        found.add(needle_id)
            start += _CHUNK
    return found


@dataclass
class ScanReport:
    """What a scan found: counts only, never the strings."""

    root: str
    files_scanned: int = 0
    bytes_scanned: int = 0
    needles: int = 0
    needles_by_label: dict[str, int] = field(default_factory=dict)
    skipped_short: int = 0
    min_length: int = DEFAULT_MIN_LENGTH
    #: relative file path -> label -> distinct needles found in that file
    hits: dict[str, dict[str, int]] = field(default_factory=dict)
    #: label -> distinct needles found anywhere
    found_by_label: dict[str, int] = field(default_factory=dict)
    #: label -> needles not looked for because a reference (an untrained pipeline of the same config) holds them
    excluded_by_label: dict[str, int] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)

    @property
    def n_found(self) -> int:
        """Distinct annotated strings found anywhere under the directory."""
        return sum(self.found_by_label.values())

    @property
    def clean(self) -> bool:
        return self.n_found == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "needles": self.needles,
            "needles_by_label": dict(sorted(self.needles_by_label.items())),
            "skipped_short": self.skipped_short,
            "excluded_by_label": dict(sorted(self.excluded_by_label.items())),
            "min_length": self.min_length,
            "found": self.n_found,
            "found_by_label": dict(sorted(self.found_by_label.items())),
            "hits": {path: dict(sorted(labels.items())) for path, labels in sorted(self.hits.items())},
            "skipped_files": list(self.skipped_files),
        }


def _iter_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def scan_directory(root: str | Path, needles: NeedleSet, *, reference: bytes | None = None) -> ScanReport:
    """Scan every regular file below ``root`` (or the file ``root``) for ``needles``.

    reference (Optional[bytes]): what the directory holds that is not training
        data (the serialized state of an untrained pipeline of the same config:
        label names, tokenizer exceptions such as "EE.UU.", rules); needles
        found in it are not looked for and are counted in ``excluded_by_label``.
    """
    root = Path(root)
    if not root.exists():
        raise ConfigError(f"Nothing to scan at {root}: give a pipeline directory (nlp.to_disk output).")
    excluded: Counter = Counter()
    if reference:
        explained = scan_bytes(reference, needles)
        excluded = Counter(needles.labels[i] for i in explained)
        needles = needles.without(explained)
    report = ScanReport(
        root=str(root),
        needles=len(needles) + sum(excluded.values()),
        needles_by_label=dict(Counter(needles.labels) + excluded),
        skipped_short=needles.skipped_short,
        min_length=needles.min_length,
        excluded_by_label=dict(excluded),
    )
    table = needles.prefix_table()
    found_anywhere: set[int] = set()
    files = [root] if root.is_file() else list(_iter_files(root))
    for path in files:
        relative = path.name if path == root else str(path.relative_to(root))
        try:
            data = path.read_bytes()
        except OSError as err:
            logger.warning("Cannot read %s (%s): not scanned", relative, type(err).__name__)
            report.skipped_files.append(relative)
            continue
        report.files_scanned += 1
        report.bytes_scanned += len(data)
        found = scan_bytes(data, needles, table)
        if found:
            report.hits[relative] = dict(Counter(needles.labels[i] for i in found))
            found_anywhere |= found
    report.found_by_label = dict(Counter(needles.labels[i] for i in found_anywhere))
    return report


def format_report(report: ScanReport, *, top: int = 20) -> str:
    """A short plain-text summary: totals, labels and files with hits (counts only)."""
    lines = [
        (
            f"Scanned {report.files_scanned} files ({report.bytes_scanned:,} bytes) under {report.root} for "
            f"{report.needles} annotated strings of >= {report.min_length} characters "
            f"({report.skipped_short} shorter ones not looked for)."
        ),
    ]
    if report.excluded_by_label:
        lines.append(
            f"{sum(report.excluded_by_label.values())} annotated strings not counted: an untrained pipeline of the "
            "same config holds them too (label names, tokenizer exceptions, rules)."
        )
    if report.clean:
        lines.append("No annotated string found.")
        return "\n".join(lines)
    lines.append(f"FOUND {report.n_found} distinct annotated strings:")
    for label, count in sorted(report.found_by_label.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {label}: {count} of {report.needles_by_label.get(label, 0)}")
    lines.append("Files with hits (distinct strings per label):")
    ranked = sorted(report.hits.items(), key=lambda item: -sum(item[1].values()))
    for path, labels in ranked[:top]:
        counts = ", ".join(f"{label} {n}" for label, n in sorted(labels.items()))
        lines.append(f"  {path}: {counts}")
    if len(ranked) > top:
        lines.append(f"  … and {len(ranked) - top} more files")
    return "\n".join(lines)
