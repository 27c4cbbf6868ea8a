"""Target formats for generative (decoder LLM) NER, spaCy-free.

Three formats, each with a renderer (gold spans of a chunk → target text, for
training) and a parser (generated text → labelled strings or tagged text):

* :class:`ListFormat`: ``Varón | SEXO; 38 años | EDAD`` (``NO ENTITIES`` when
  the chunk has none). Items in text order (start, then longer first), the
  entity text with whitespace runs collapsed to one space. Nested and
  overlapping spans are expressible (the aligner matches repeated strings in
  order); discontinuous ones and spans whose text contains ``;`` or ``|`` are
  not.
* :class:`TagFormat`: ``<SEXO>Varón</SEXO> de <EDAD>38 años</EDAD>…``: the
  chunk re-written with inline tags. Flat by default (the longest span wins,
  as for ``doc.ents``); ``nested=True`` also writes properly nested tags.
  Crossing overlaps and discontinuous spans are not expressible.
* :class:`JsonFormat`: ``[{"label": "SEXO", "text": "Varón"}, …]``, a JSON
  list in text order; ``"text"`` is a list of strings for a discontinuous
  concept. Everything is expressible.

Renderers take spans as ``(start, end, label)`` or ``(fragments, label)``
with ``fragments`` a sequence of ``(start, end)`` character offsets into the
chunk text. What a format cannot express is counted by reason in the
``problems`` counter passed to ``render`` (never lost silently); ``select``
returns the expressible spans themselves. Reasons: ``invalid_span``,
``whitespace_edge``, ``duplicate_span`` (all formats), ``discontinuous``,
``nested``, ``overlap``, ``separator_in_text`` (see above) and ``ambiguous``:
List and JSON name strings, not positions, so with ``verify=True`` (default)
the renderer aligns its own output back and leaves out (and counts) a span
that ordered matching would put on another occurrence of its string. Tag
counts ``tag_like_text`` per chunk whose own text contains ``<WORD>`` (still
rendered; the parser will read it as a tag).

Parsers never raise: malformed output is counted by reason in
:attr:`ParseResult.problems` (``missing_label``, ``empty_text``,
``unclosed_tag``, ``unmatched_close_tag``, ``invalid_json``,
``truncated_json``, ``bad_item``).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from .align import align
from .types import (  # noqa: F401 (re-exported: the formats' public names)
    AMBIGUOUS,
    BAD_ITEM,
    DISCONTINUOUS,
    DUPLICATE_SPAN,
    EMPTY_TEXT,
    INVALID_JSON,
    INVALID_SPAN,
    MISSING_LABEL,
    NESTED,
    NO_ENTITIES,
    OVERLAP,
    SEPARATOR_IN_TEXT,
    TAG_LIKE_TEXT,
    TRUNCATED,
    UNCLOSED,
    UNMATCHED_CLOSE,
    WHITESPACE_EDGE,
    Fragments,
    GoldSpan,
    Item,
    OutputFormat,
    ParseResult,
    SpanLike,
    concept_strings_of,
)


def to_gold_spans(text: str, spans: Iterable[SpanLike], problems: Counter) -> list[GoldSpan]:
    """Normalize span inputs; invalid ones are counted and left out.

    Invalid: empty or outside the text (``invalid_span``), or a fragment that
    starts or ends with whitespace (``whitespace_edge``: the aligner never
    matches whitespace at the edges, so such a span could not come back), or
    a repeat of an earlier span with the same fragments and label
    (``duplicate_span``).
    """
    result: list[GoldSpan] = []
    seen: set[GoldSpan] = set()
    for span in spans:
        if len(span) == 3:
            start, end, label = span  # type: ignore[misc]
            fragments: Fragments = ((int(start), int(end)),)
        else:
            frags, label = span  # type: ignore[misc]
            fragments = tuple((int(s), int(e)) for s, e in frags)
        if not fragments or any(not 0 <= s < e <= len(text) for s, e in fragments):
            problems[INVALID_SPAN] += 1
            continue
        if any(_blank(text[s]) or _blank(text[e - 1]) for s, e in fragments):
            problems[WHITESPACE_EDGE] += 1
            continue
        gold = GoldSpan(fragments, str(label))
        if gold in seen:
            problems[DUPLICATE_SPAN] += 1
            continue
        seen.add(gold)
        result.append(gold)
    return result


def _blank(char: str) -> bool:
    return char.isspace() or char == "\ufeff"


def _text_order(span: GoldSpan) -> tuple[int, int, str, Fragments]:
    return (span.start, -span.end, span.label, span.fragments)


def _collapse(value: str) -> str:
    return " ".join(value.split())


def _continuous(spans: list[GoldSpan], problems: Counter) -> list[GoldSpan]:
    kept = []
    for span in spans:
        if len(span.fragments) > 1:
            problems[DISCONTINUOUS] += 1
        else:
            kept.append(span)
    return kept


def _verified(fmt: Any, text: str, kept: list[GoldSpan], problems: Counter) -> list[GoldSpan]:
    """Drop (count ``ambiguous``) spans that ordered string matching would not map back.

    A string-only format cannot say *which* occurrence it means: after
    ``HTA secundaria a tumor renal | ENFERMEDAD`` an item ``HTA | ENFERMEDAD``
    is read as the nested "HTA" even when the gold one is a later occurrence.
    Such spans are left out of the target and counted, so that what is
    rendered always aligns back exactly.
    """
    for _ in range(len(kept) + 1):
        result = align(text, fmt.parse(fmt._render(text, kept)), concept_strings=concept_strings_of(fmt))
        got = Counter((span.fragments, span.label) for span in result.spans)
        wrong = [span for span in kept if got[(span.fragments, span.label)] == 0]
        if not wrong and len(result.spans) == len(kept):
            return kept
        if not wrong:
            break
        problems[AMBIGUOUS] += 1
        kept = [span for span in kept if span is not wrong[0]]
    # Unreachable for well-formed spans; keep the count honest if it happens.
    problems[AMBIGUOUS] += len(kept)
    return []


class ListFormat:
    """``text | LABEL; text | LABEL`` or ``NO ENTITIES`` (see the module docstring)."""

    name = "list"

    def __init__(self, separator: str = "; ", empty: str = NO_ENTITIES, verify: bool = True) -> None:
        self.separator = separator
        self.empty = empty
        self.verify = verify

    def select(self, text: str, spans: Iterable[SpanLike], problems: Counter | None = None) -> list[GoldSpan]:
        """The expressible spans in rendering order; the others are counted in ``problems``."""
        problems = problems if problems is not None else Counter()
        kept = []
        for span in sorted(_continuous(to_gold_spans(text, spans, problems), problems), key=_text_order):
            value = text[span.start : span.end]
            if ";" in value or "|" in value or "\n" in span.label or "|" in span.label:
                problems[SEPARATOR_IN_TEXT] += 1
                continue
            kept.append(span)
        return _verified(self, text, kept, problems) if self.verify else kept

    def render(self, text: str, spans: Iterable[SpanLike], *, problems: Counter | None = None) -> str:
        """Render ``spans`` of ``text`` as a list; unexpressible spans are counted in ``problems``."""
        return self._render(text, self.select(text, spans, problems))

    def _render(self, text: str, kept: Sequence[GoldSpan]) -> str:
        if not kept:
            return self.empty
        return self.separator.join(f"{_collapse(text[s.start:s.end])} | {s.label}" for s in kept)

    def parse(self, output: str) -> ParseResult:
        """Split on ``;`` and line breaks; each item is ``text | LABEL`` (last ``|``)."""
        problems: Counter = Counter()
        items: list[Item] = []
        stripped = output.strip()
        if not stripped or re.fullmatch(r"(?i)no\s+entit(?:y|ies)\W*", stripped):
            return ParseResult(items, problems)
        for segment in re.split(r"[;\n]", stripped):
            segment = segment.strip()
            if not segment:
                continue
            segment = re.sub(r"^(?:[-*•]|\d+[.)])\s+", "", segment)
            if "|" not in segment:
                problems[MISSING_LABEL] += 1
                continue
            value, _, label = segment.rpartition("|")
            value, label = value.strip().strip("|").strip(), label.strip().rstrip(".").strip()
            if not label:
                problems[MISSING_LABEL] += 1
                continue
            if not value:
                problems[EMPTY_TEXT] += 1
                continue
            items.append(Item(label, value))
        return ParseResult(items, problems)


_TAG_RE = re.compile(r"<\s*(/?)\s*([^\W\d][\w.-]*)\s*>")


class TagFormat:
    """The chunk re-written with ``<LABEL>…</LABEL>`` tags (see the module docstring)."""

    name = "tag"

    def __init__(self, nested: bool = False) -> None:
        self.nested = nested

    def select(self, text: str, spans: Iterable[SpanLike], problems: Counter | None = None) -> list[GoldSpan]:
        """The expressible spans in rendering order; the others are counted in ``problems``."""
        problems = problems if problems is not None else Counter()
        spans = _continuous(to_gold_spans(text, spans, problems), problems)
        if _TAG_RE.search(text):
            # Rendered anyway; the parser will read that text as a tag.
            problems[TAG_LIKE_TEXT] += 1
        if self.nested:
            kept: list[GoldSpan] = []
            stack: list[GoldSpan] = []
            for span in sorted(spans, key=_text_order):
                while stack and stack[-1].end <= span.start:
                    stack.pop()
                if stack and span.end > stack[-1].end:
                    problems[OVERLAP] += 1
                    continue
                stack.append(span)
                kept.append(span)
            return kept
        order = sorted(spans, key=lambda s: (-(s.end - s.start), s.start, s.label, s.fragments))
        chosen: list[GoldSpan] = []
        for span in order:
            clash = [c for c in chosen if span.start < c.end and c.start < span.end]
            if not clash:
                chosen.append(span)
            elif all(c.start <= span.start and span.end <= c.end for c in clash):
                problems[NESTED] += 1
            else:
                problems[OVERLAP] += 1
        return sorted(chosen, key=_text_order)

    def render(self, text: str, spans: Iterable[SpanLike], *, problems: Counter | None = None) -> str:
        """Insert tags into ``text``; unexpressible spans are counted in ``problems``."""
        kept = self.select(text, spans, problems)
        opens: dict[int, list[int]] = {}
        closes: dict[int, list[int]] = {}
        for order, span in enumerate(kept):
            opens.setdefault(span.start, []).append(order)
            closes.setdefault(span.end, []).append(order)
        parts: list[str] = []
        for pos in range(len(text) + 1):
            for order in sorted(closes.get(pos, ()), reverse=True):
                parts.append(f"</{kept[order].label}>")
            for order in opens.get(pos, ()):
                parts.append(f"<{kept[order].label}>")
            if pos < len(text):
                parts.append(text[pos])
        return "".join(parts)

    def parse(self, output: str) -> ParseResult:
        """Strip the tags; items carry their offsets into the untagged text.

        A closing tag closes the innermost open tag of its label (the tags
        opened inside it and still open are dropped, counted as unclosed);
        a closing tag with no open tag, and tags still open at the end
        (truncated output), are counted and dropped.
        """
        problems: Counter = Counter()
        items: list[Item] = []
        plain: list[str] = []
        length = 0
        stack: list[tuple[str, int]] = []
        cursor = 0
        for match in _TAG_RE.finditer(output):
            chunk = output[cursor : match.start()]
            plain.append(chunk)
            length += len(chunk)
            cursor = match.end()
            closing, label = match.group(1) == "/", match.group(2)
            if not closing:
                stack.append((label, length))
                continue
            depth = next((i for i in range(len(stack) - 1, -1, -1) if stack[i][0] == label), None)
            if depth is None:
                problems[UNMATCHED_CLOSE] += 1
                continue
            problems[UNCLOSED] += len(stack) - depth - 1
            _, start = stack[depth]
            del stack[depth:]
            items.append(Item(label, "", start=start, end=length))
        plain.append(output[cursor:])
        problems[UNCLOSED] += len(stack)
        text = "".join(plain)
        result = []
        for item in items:
            value = text[item.start : item.end]
            if not value.strip():
                problems[EMPTY_TEXT] += 1
                continue
            result.append(item._replace(text=value))
        result.sort(key=lambda i: (i.start, -(i.end or 0)))
        return ParseResult(result, +problems, text)


# Keys accepted (case-insensitive) besides the rendered "label" and "text".
_LABEL_KEYS = ("label", "type", "entity_type", "tipo", "etiqueta")
_TEXT_KEYS = ("text", "texto", "span", "mention", "entity", "entidad")


class JsonFormat:
    """A JSON list of ``{"label", "text"}`` objects; ``text`` is a list for a discontinuous concept.

    With ``concept_strings`` a discontinuous concept is written as one string,
    its fragments joined by a space ("dolor hipogastrio", the way CodiEsp
    writes its references and a model or LLM names a concept), and aligned
    back by the concept-string aligner (:mod:`.align`).
    """

    name = "json"

    def __init__(self, verify: bool = True, concept_strings: bool = False) -> None:
        self.verify = verify
        self.concept_strings = concept_strings

    def select(self, text: str, spans: Iterable[SpanLike], problems: Counter | None = None) -> list[GoldSpan]:
        """The valid spans in rendering order (JSON expresses nested and discontinuous spans)."""
        problems = problems if problems is not None else Counter()
        kept = sorted(to_gold_spans(text, spans, problems), key=_text_order)
        return _verified(self, text, kept, problems) if self.verify else kept

    def render(self, text: str, spans: Iterable[SpanLike], *, problems: Counter | None = None) -> str:
        """Render ``spans`` as a JSON list in text order."""
        return self._render(text, self.select(text, spans, problems))

    def _render(self, text: str, kept: Sequence[GoldSpan]) -> str:
        rows: list[dict[str, Any]] = []
        for span in kept:
            values = [_collapse(text[s:e]) for s, e in span.fragments]
            if self.concept_strings:
                values = [" ".join(values)]
            rows.append({"label": span.label, "text": values[0] if len(values) == 1 else values})
        return json.dumps(rows, ensure_ascii=False)

    def parse(self, output: str) -> ParseResult:
        """Parse the first JSON list in ``output``; from broken JSON, salvage the complete objects."""
        problems: Counter = Counter()
        start = output.find("[")
        rows: Any = None
        if start >= 0:
            try:
                rows, _ = json.JSONDecoder().raw_decode(output, start)
            except ValueError:
                rows = None
        if not isinstance(rows, list):
            stripped = output.strip()
            if not stripped or re.fullmatch(r"(?i)no\s+entit(?:y|ies)\W*", stripped):
                return ParseResult([], problems)
            problems[TRUNCATED if start >= 0 else INVALID_JSON] += 1
            rows = []
            for match in re.finditer(r"\{[^{}]*\}", output):
                try:
                    rows.append(json.loads(match.group(0)))
                except ValueError:
                    problems[BAD_ITEM] += 1
        items: list[Item] = []
        for row in rows:
            item = self._item(row)
            if isinstance(item, str):
                problems[item] += 1
            else:
                items.append(item)
        return ParseResult(items, problems)

    @staticmethod
    def _item(row: Any) -> Item | str:
        if not isinstance(row, dict):
            return BAD_ITEM
        keys = {str(key).strip().lower(): value for key, value in row.items()}
        label = next((keys[k] for k in _LABEL_KEYS if k in keys), None)
        value = next((keys[k] for k in _TEXT_KEYS if k in keys), None)
        if not isinstance(label, str) or not label.strip():
            return MISSING_LABEL
        if isinstance(value, str):
            fragments: tuple[str, ...] = (value.strip(),)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            fragments = tuple(v.strip() for v in value)
        else:
            return BAD_ITEM
        if not all(fragments):
            return EMPTY_TEXT
        if len(fragments) == 1:
            return Item(label.strip(), fragments[0])
        return Item(label.strip(), " ".join(fragments), fragments)


FORMATS: dict[str, type] = {"list": ListFormat, "tag": TagFormat, "json": JsonFormat}
