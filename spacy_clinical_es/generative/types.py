"""The value types of generative NER, in one place (spaCy-free).

Renderers and parsers (:mod:`.formats`), the aligner (:mod:`.align`), chunks
and decoding all speak these types; keeping them here lets :mod:`.formats`
use the aligner without an import circle.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol, Union, runtime_checkable

Fragments = tuple[tuple[int, int], ...]
#: ``(start, end, label)`` or ``(fragments, label)``.
SpanLike = Union[tuple[int, int, str], tuple[Sequence[tuple[int, int]], str]]

NO_ENTITIES = "NO ENTITIES"

# Reasons a gold span is not expressible (render problems).
DISCONTINUOUS = "discontinuous"
NESTED = "nested"
OVERLAP = "overlap"
SEPARATOR_IN_TEXT = "separator_in_text"
INVALID_SPAN = "invalid_span"
AMBIGUOUS = "ambiguous"
WHITESPACE_EDGE = "whitespace_edge"
DUPLICATE_SPAN = "duplicate_span"
TAG_LIKE_TEXT = "tag_like_text"

# Reasons counted by the parsers.
MISSING_LABEL = "missing_label"
EMPTY_TEXT = "empty_text"
UNMATCHED_CLOSE = "unmatched_close_tag"
UNCLOSED = "unclosed_tag"
INVALID_JSON = "invalid_json"
TRUNCATED = "truncated_json"
BAD_ITEM = "bad_item"


class GoldSpan(NamedTuple):
    """A span to render: fragments (source order) and label."""

    fragments: Fragments
    label: str

    @property
    def start(self) -> int:
        return min(s for s, _ in self.fragments)

    @property
    def end(self) -> int:
        return max(e for _, e in self.fragments)


class Item(NamedTuple):
    """One parsed item: a label and the generated string(s).

    ``fragments`` holds the strings of a discontinuous concept (JSON only;
    ``text`` is then those strings joined by one space). ``start``/``end``
    are offsets into :attr:`ParseResult.text` (Tag format only).
    """

    label: str
    text: str
    fragments: tuple[str, ...] = ()
    start: int | None = None
    end: int | None = None


class ParseResult(NamedTuple):
    """Parsed items, problems counted by reason, and (Tag) the untagged text."""

    items: list[Item]
    problems: Counter
    text: str | None = None


@runtime_checkable
class OutputFormat(Protocol):
    """A target format: render gold spans, parse generated text."""

    name: str

    def render(self, text: str, spans: Iterable[SpanLike], *, problems: Counter | None = None) -> str:
        ...

    def parse(self, output: str) -> ParseResult:
        ...


def concept_strings_of(fmt: object) -> bool:
    """Whether ``fmt`` writes a discontinuous concept as one string (the JSON format's ``concept_strings``).

    Optional for an :class:`OutputFormat`: formats without the attribute write fragments.
    """
    return bool(getattr(fmt, "concept_strings", False))
