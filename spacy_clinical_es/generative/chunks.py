"""Cut a document's gold spans into chunks and check a format's round trip (spaCy-free).

Generative targets are rendered per chunk (a sentence, as in the paper, or a
whole document): :func:`split_spans` gives each chunk its spans with offsets
relative to the chunk and counts the spans no single chunk contains
(``crosses_chunk``). :func:`round_trip` renders a chunk's spans, parses the
output and aligns it back, reporting what was rendered, what came back and
what the format could not express.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from .align import AlignResult, align
from .formats import GoldSpan, OutputFormat, SpanLike, to_gold_spans

CROSSES_CHUNK = "crosses_chunk"


def split_spans(
    text: str, spans: Sequence[SpanLike], chunks: Sequence[tuple[int, int]], problems: Counter | None = None
) -> list[list[GoldSpan]]:
    """Per chunk, the spans inside it with chunk-relative offsets.

    A span goes to the first chunk that contains all its fragments; spans
    inside no chunk are counted ``crosses_chunk`` (and invalid spans by
    their reason, see :func:`~.formats.to_gold_spans`) in ``problems``.
    """
    problems = problems if problems is not None else Counter()
    result: list[list[GoldSpan]] = [[] for _ in chunks]
    for span in to_gold_spans(text, spans, problems):
        start, end = span.start, span.end
        index = next((k for k, (s, e) in enumerate(chunks) if s <= start and end <= e), None)
        if index is None:
            problems[CROSSES_CHUNK] += 1
            continue
        offset = chunks[index][0]
        fragments = tuple((s - offset, e - offset) for s, e in span.fragments)
        result[index].append(GoldSpan(fragments, span.label))
    return result


class RoundTrip(NamedTuple):
    """One chunk's round trip: rendered output, spans rendered, alignment, not expressible."""

    output: str
    rendered: list[GoldSpan]
    aligned: AlignResult
    not_expressible: Counter

    @property
    def exact(self) -> bool:
        """Whether exactly the rendered spans came back."""
        got = sorted((span.fragments, span.label) for span in self.aligned.spans)
        return got == sorted((span.fragments, span.label) for span in self.rendered)


def round_trip(
    fmt: OutputFormat, text: str, spans: Sequence[SpanLike], *, labels: Sequence[str] | None = None
) -> RoundTrip:
    """Render ``spans`` of ``text`` with ``fmt``, parse the output and align it back."""
    problems: Counter = Counter()
    select = getattr(fmt, "select", None)
    rendered = list(select(text, spans)) if select is not None else []
    output = fmt.render(text, spans, problems=problems)
    return RoundTrip(output, rendered, align(text, fmt.parse(output), labels=labels), problems)
