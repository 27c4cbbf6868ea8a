"""Map parsed generative output back to character offsets of the source chunk (spaCy-free).

Decoder LLMs re-tokenize ("38años", "T . A ."), change case and accents and
invent labels (``<FUMADORA>fumadora</FUMADORA>``). :func:`align` maps each
parsed :class:`~.formats.Item` to source offsets:

* Matching is done on a *normalized* view of both texts: whitespace removed,
  case folded, accents stripped (NFKD, combining marks dropped), with an index
  map back to the source characters. A match therefore never starts or ends
  on whitespace.
* Labels: an item label is matched to ``labels`` exactly, else ignoring case
  and accents (counted ``label_normalized``); otherwise it is dropped and
  counted as the hallucination ``label_not_in_set``.
* Ordered matching (List, JSON): items are expected in text order, so an item
  is searched from the start of the previous match onwards (nested items
  start inside the previous one); a match whose ends fall on word boundaries
  is preferred, else any match (counted ``partial_word``); if there is none
  after the cursor, the whole chunk is searched (counted ``out_of_order``).
  An occurrence already taken by an item of the same label is skipped, so a
  repeated string takes the next occurrence; an item whose string has no
  free occurrence left is counted ``duplicate``. Strings found nowhere, even
  after trimming punctuation at their ends (counted ``trimmed``), are the
  hallucination ``not_in_text``. Discontinuous items align fragment by
  fragment, each after the previous one.
* Tag: the untagged output text is aligned to the source by character
  alignment (:class:`difflib.SequenceMatcher` on the normalized texts; identity
  when they are equal); a tagged item maps when its characters map to a
  contiguous source stretch with the same normalized text. Otherwise it falls
  back to ordered matching of its string near its position (counted
  ``tag_realigned``).
* Concept strings (``concept_strings=True``, the JSON format's
  ``concept_strings`` option): a one-string item found nowhere as one
  stretch ("dolor hipogastrio") is spelled by the fewest text fragments with
  :func:`~spacy_clinical_es.concepts.align_concept` ("dolor … hipogastrio";
  counted ``concept_aligned``), so any backend that names concepts as strings
  yields discontinuous entities.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from typing import NamedTuple

from ..textfold import fold_with_index
from .types import Fragments, Item, ParseResult

# Hallucinations (dropped items).
LABEL_NOT_IN_SET = "label_not_in_set"
NOT_IN_TEXT = "not_in_text"
# Problems (items kept or dropped, not hallucinated).
LABEL_NORMALIZED = "label_normalized"
PARTIAL_WORD = "partial_word"
OUT_OF_ORDER = "out_of_order"
DUPLICATE = "duplicate"
TRIMMED = "trimmed"
TAG_REALIGNED = "tag_realigned"
CONCEPT_ALIGNED = "concept_aligned"

_EDGE_PUNCT = " \t\n.,;:!?¡¿\"'«»“”()[]{}-–—*"


class AlignedSpan(NamedTuple):
    """An aligned item: character offsets into the source chunk."""

    start: int
    end: int
    label: str
    fragments: Fragments


class AlignResult(NamedTuple):
    """Aligned spans (text order), hallucinations and other problems counted by reason."""

    spans: list[AlignedSpan]
    hallucinations: Counter
    problems: Counter


class Normalized(NamedTuple):
    """A normalized text and, per normalized character, its source index."""

    text: str
    index: list[int]


def normalize(text: str) -> Normalized:
    """Remove whitespace, fold case, strip accents; keep a map to source indices."""
    folded, index = fold_with_index(text, skip="\ufeff")
    return Normalized(folded, index)


def _norm_key(value: str) -> str:
    return normalize(value).text


class _Matcher:
    """Ordered string matching on the normalized source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.norm = normalize(source)
        self.taken: set[tuple[Fragments, str]] = set()
        self.cursor = 0

    def span(self, nstart: int, nend: int) -> tuple[int, int]:
        return self.norm.index[nstart], self.norm.index[nend - 1] + 1

    def _bounded(self, start: int, end: int) -> bool:
        text = self.source
        left = start == 0 or not (text[start - 1].isalnum() and text[start].isalnum())
        right = end == len(text) or not (text[end - 1].isalnum() and text[end].isalnum())
        return left and right

    def find(self, value: str, begin: int, problems: Counter, label: str) -> tuple[int, int] | None:
        """Normalized ``(start, end)`` of ``value`` from ``begin``, else anywhere; ``None`` if absent."""
        key = _norm_key(value)
        if not key:
            return None
        for lo, count_order in ((begin, False), (0, True)):
            first_any: tuple[int, int] | None = None
            pos = self.norm.text.find(key, lo)
            while pos >= 0:
                nspan = (pos, pos + len(key))
                start, end = self.span(*nspan)
                if (((start, end),), label) not in self.taken:
                    if self._bounded(start, end):
                        if count_order:
                            problems[OUT_OF_ORDER] += 1
                        return nspan
                    if first_any is None:
                        first_any = nspan
                pos = self.norm.text.find(key, pos + 1)
            if first_any is not None:
                problems[PARTIAL_WORD] += 1
                if count_order:
                    problems[OUT_OF_ORDER] += 1
                return first_any
        return None

    def exists(self, value: str) -> bool:
        key = _norm_key(value)
        return bool(key) and key in self.norm.text


def _resolve_label(label: str, labels: Sequence[str] | None, problems: Counter) -> str | None:
    if labels is None or label in labels:
        return label
    key = _norm_key(label).replace("-", "_")
    matches = [name for name in labels if _norm_key(name).replace("-", "_") == key]
    if len(matches) == 1:
        problems[LABEL_NORMALIZED] += 1
        return matches[0]
    return None


def align(
    source_text: str,
    items: Iterable[Item] | ParseResult,
    *,
    labels: Sequence[str] | None = None,
    output_text: str | None = None,
    concept_strings: bool = False,
) -> AlignResult:
    """Map parsed items to offsets of ``source_text`` (see the module docstring).

    ``items`` may be a :class:`~.formats.ParseResult`, whose ``text`` (the
    untagged Tag output) is then used as ``output_text``. ``labels=None``
    accepts every label. Never raises on odd items.
    """
    if isinstance(items, ParseResult):
        output_text = items.text if output_text is None else output_text
        items = items.items
    hallucinations: Counter = Counter()
    problems: Counter = Counter()
    matcher = _Matcher(source_text)
    mapping = _TagMapping(output_text, matcher.norm) if output_text is not None else None
    spans: list[AlignedSpan] = []
    for item in items:
        label = _resolve_label(item.label, labels, problems)
        if label is None:
            hallucinations[LABEL_NOT_IN_SET] += 1
            continue
        fragments = None
        if mapping is not None and item.start is not None and item.end is not None:
            fragments = _tag_fragment(mapping, matcher, item, label)
            if fragments is None:
                problems[TAG_REALIGNED] += 1
                begin = mapping.near(item.start)
                fragments = _search(matcher, (item.text,), label, begin, problems)
        else:
            fragments = _search(matcher, item.fragments or (item.text,), label, matcher.cursor, problems)
        if fragments is None and concept_strings and not item.fragments:
            fragments = _concept_fragments(source_text, item.text, label, matcher)
            if fragments is not None:
                problems[CONCEPT_ALIGNED] += 1
        if fragments is None:
            if all(matcher.exists(v) for v in item.fragments or (item.text,)):
                problems[DUPLICATE] += 1
            else:
                hallucinations[NOT_IN_TEXT] += 1
            continue
        matcher.taken.add((fragments, label))
        spans.append(AlignedSpan(min(s for s, _ in fragments), max(e for _, e in fragments), label, fragments))
    spans.sort(key=lambda s: (s.start, -s.end, s.label))
    return AlignResult(spans, +hallucinations, +problems)


def _concept_fragments(source_text: str, concept: str, label: str, matcher: _Matcher) -> Fragments | None:
    """The fewest fragments of ``source_text`` spelling ``concept`` (None if absent or already taken)."""
    from ..concepts.align import align_concept

    found = align_concept(source_text, concept)
    if found is None or not found.is_discontinuous or (found.fragments, label) in matcher.taken:
        return None
    return tuple(found.fragments)


def _search(
    matcher: _Matcher, values: Sequence[str], label: str, begin: int, problems: Counter
) -> Fragments | None:
    """Ordered matching of one item's fragment strings; trims edge punctuation as a fallback."""
    for trim in (False, True):
        local: Counter = Counter()
        found: list[tuple[int, int]] = []
        nbegin = begin
        first = None
        for value in values:
            if trim:
                value = value.strip(_EDGE_PUNCT)
            nspan = matcher.find(value, nbegin, local, label if len(values) == 1 else "\x00")
            if nspan is None:
                break
            first = nspan[0] if first is None else first
            found.append(matcher.span(*nspan))
            nbegin = nspan[1]
        else:
            fragments = tuple(found)
            if len(fragments) > 1 and (fragments, label) in matcher.taken:
                continue
            problems.update(local)
            if trim:
                problems[TRIMMED] += 1
            matcher.cursor = first if first is not None else matcher.cursor
            return fragments
    return None


class _TagMapping:
    """Character alignment of the untagged output to the source (normalized views)."""

    def __init__(self, output_text: str, source: Normalized) -> None:
        self.output = normalize(output_text)
        # output character index -> first normalized index at or after it
        self.first: list[int] = []
        k = 0
        for i in range(len(output_text) + 1):
            while k < len(self.output.index) and self.output.index[k] < i:
                k += 1
            self.first.append(k)
        if self.output.text == source.text:
            self.map: list[int] = list(range(len(source.text)))
        else:
            self.map = [-1] * len(self.output.text)
            matcher = SequenceMatcher(None, self.output.text, source.text, autojunk=False)
            for a, b, size in matcher.get_matching_blocks():
                for offset in range(size):
                    self.map[a + offset] = b + offset

    def near(self, position: int) -> int:
        """A normalized source position near output position ``position`` (for fallback search)."""
        k = self.first[max(0, min(position, len(self.first) - 1))]
        for j in range(k, len(self.map)):
            if self.map[j] >= 0:
                return max(0, self.map[j] - 1)
        return 0


def _tag_fragment(mapping: _TagMapping, matcher: _Matcher, item: Item, label: str) -> Fragments | None:
    assert item.start is not None and item.end is not None
    nstart, nend = mapping.first[item.start], mapping.first[item.end]
    if nend <= nstart:
        return None
    images = mapping.map[nstart:nend]
    if images[0] < 0 or images[-1] - images[0] != nend - nstart - 1 or -1 in images:
        return None
    start, end = matcher.span(images[0], images[-1] + 1)
    if _norm_key(matcher.source[start:end]) != _norm_key(item.text):
        return None
    fragments: Fragments = ((start, end),)
    if (fragments, label) in matcher.taken:
        return None
    matcher.cursor = images[0]
    return fragments
