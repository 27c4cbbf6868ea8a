"""Helpers shared by the corpus builders: the tokenizer, sentences, output files."""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...util import PathLike

logger = logging.getLogger(__name__)


def count_labels(docs: Iterable[Any], span_key: str) -> tuple[Counter, Counter]:
    """Annotations per label in ``doc.spans[span_key]`` (fragments sharing an
    ``id_`` count once) and entities per label in ``doc.ents``."""
    spans: Counter = Counter()
    ents: Counter = Counter()
    for doc in docs:
        seen = set()
        for span in doc.spans.get(span_key, []):
            key = span.id_ or (span.start_char, span.end_char, span.label_)
            if key not in seen:
                seen.add(key)
                spans[span.label_] += 1
        ents.update(ent.label_ for ent in doc.ents)
    return spans, ents


# ----------------------------------------------------------------------
# Sentences (spaCy-free)
# ----------------------------------------------------------------------

#: Words after which a period does not end a sentence (compared lower-cased,
#: without the final period): titles, reference words and Latin/route
#: abbreviations. Units are not listed: Spanish writes them without a period,
#: so "… 0,9 mg. Bioquímica" is a sentence end.
ABBREVIATIONS = frozenset(
    [
        # titles
        "dr", "dra", "drs", "dras", "sr", "sra", "srta", "sres", "ud", "uds", "prof", "lic",
        # references and lists
        "aprox", "approx", "vs", "p", "ej", "pej", "fig", "figs", "tab", "ref",
        "núm", "num", "nº", "vol", "pág", "pag", "cap", "art", "izq", "izda", "dcha",
        # routes and Latin abbreviations written with inner periods
        "a.c", "d.c", "i.v", "i.m", "s.c", "v.o", "p.ej",
    ]
)  # fmt: skip

_BOUNDARY = re.compile(r"[.!?…]+[)\]\"'»”]*(?=\s)")
_NEXT = re.compile(r"\s+([¿¡\"'«“(\[]*)(\S)")
_PREV_WORD = re.compile(r"(\S+)$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences as ``(start, end)`` character offsets.

    Rule (documented, deterministic, no model):

    * a line break always ends a sentence (clinical cases put one paragraph
      or one header field per line);
    * ``.``, ``!``, ``?`` or ``…`` (optionally followed by closing quotes or
      brackets) followed by whitespace ends a sentence when the next
      non-space character (after opening quotes/brackets) is an upper-case
      letter or a digit, unless the word before the period is a known
      abbreviation (:data:`ABBREVIATIONS`) or a single letter ("J. Pérez").

    Sentences are stripped of surrounding whitespace; whitespace-only
    stretches produce no sentence. Offsets cover the whole text in order.
    """
    spans: list[tuple[int, int]] = []
    line_start = 0
    for line in text.splitlines(keepends=True):
        _split_line(text, line_start, line_start + len(line.rstrip("\r\n")), spans)
        line_start += len(line)
    return spans


def _split_line(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    segment = text[start:end]
    cursor = 0
    for match in _BOUNDARY.finditer(segment):
        nxt = _NEXT.match(segment, match.end())
        if nxt is None:
            continue
        following = nxt.group(2)
        if not (following.isupper() or following.isdigit()):
            continue
        if segment[match.start()] == ".":
            prev = _PREV_WORD.search(segment, cursor, match.start())
            word = prev.group(1).lower() if prev else ""
            word = word.lstrip("(¿¡\"'«“[")
            if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        _add(text, start + cursor, start + match.end(), spans)
        cursor = match.end()
    _add(text, start + cursor, end, spans)


def _add(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def sentence_of(
    spans: list[tuple[int, int]], start: int, end: int
) -> tuple[int, int]:
    """Smallest run of sentences that covers ``[start, end)``.

    Falls back to ``(start, end)`` when no sentence overlaps the range.
    """
    first = last = None
    for k, (s, e) in enumerate(spans):
        if e > start and s < end:
            if first is None:
                first = k
            last = k
        elif s >= end:
            break
    if first is None or last is None:
        return start, end
    return spans[first][0], spans[last][1]


# ----------------------------------------------------------------------
# Output files
# ----------------------------------------------------------------------


def ensure_dir(path: PathLike) -> Path:
    """Create ``path`` (and parents) if needed and return it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: PathLike, data: Any) -> Path:
    """Write ``data`` as indented UTF-8 JSON (keys kept in insertion order)."""
    path = Path(path)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: PathLike, rows: Iterable[Any]) -> int:
    """Write one JSON object per line; return the number of rows."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def markdown_table(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A GitHub Markdown table; numeric columns are right-aligned."""
    rows = [[str(c) for c in row] for row in rows]
    align = []
    for k in range(len(header)):
        numeric = all(_looks_numeric(r[k]) for r in rows) and rows
        align.append("---:" if numeric else "---")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _looks_numeric(value: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[0-9][0-9,.]*( ± [0-9][0-9,.]*| \([0-9][0-9,.]*\))?%?", value.strip()))
