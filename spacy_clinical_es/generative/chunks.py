"""Plan a document's chunks, cut its gold spans into them and check a format's round trip (spaCy-free).

:func:`plan_chunks` cuts a text into the chunks a generative model sees:
sentences (:func:`~spacy_clinical_es.corpora.builders.common.sentence_spans`)
packed greedily into chunks of at most ``max_tokens`` words (the paper sends
decoder LLMs ≈100-token chunks) or kept one per chunk (seq2seq models
fine-tuned on sentences); a sentence longer than ``max_tokens`` words is cut
at word boundaries. Chunks never overlap, so merging their predictions is a
concatenation. Generative targets are rendered per chunk (a sentence, as in the paper, or a
whole document): :func:`split_spans` gives each chunk its spans with offsets
relative to the chunk and counts the spans no single chunk contains
(``crosses_chunk``). :func:`round_trip` renders a chunk's spans, parses the
output and aligns it back, reporting what was rendered, what came back and
what the format could not express.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..corpora.builders.common import sentence_spans
from ..errors import ConfigError
from .align import AlignResult, align
from .formats import to_gold_spans
from .types import TAG_LIKE_TEXT, GoldSpan, OutputFormat, SpanLike, concept_strings_of

CROSSES_CHUNK = "crosses_chunk"

_WORD = re.compile(r"\S+")


def plan_chunks(text: str, max_tokens: int = 100, *, pack: bool = True) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets of the chunks of ``text``, in order, never overlapping.

    Tokens are whitespace-separated words. With ``pack`` consecutive
    sentences share a chunk while it stays within ``max_tokens`` words;
    without it each sentence is a chunk. A sentence of more than
    ``max_tokens`` words is cut into pieces of ``max_tokens`` words. Chunks
    start and end on non-space characters; a blank text has no chunk.
    """
    if max_tokens < 1:
        raise ConfigError(f"max_tokens must be at least 1, got {max_tokens}")
    pieces: list[tuple[int, int, int]] = []  # start, end, words
    for start, end in sentence_spans(text):
        words = [m.span() for m in _WORD.finditer(text, start, end)]
        for begin in range(0, len(words), max_tokens):
            part = words[begin : begin + max_tokens]
            pieces.append((part[0][0], part[-1][1], len(part)))
    chunks: list[tuple[int, int]] = []
    size = 0
    for start, end, words in pieces:
        if pack and chunks and size + words <= max_tokens:
            chunks[-1] = (chunks[-1][0], end)
            size += words
        else:
            chunks.append((start, end))
            size = words
    return chunks


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
    aligned = align(text, fmt.parse(output), labels=labels, concept_strings=concept_strings_of(fmt))
    return RoundTrip(output, rendered, aligned, problems)


def round_trip_counts(
    fmt: OutputFormat,
    docs: Sequence[tuple[str, Sequence[SpanLike]]],
    *,
    chunker: Callable[[str], Sequence[tuple[int, int]]] = sentence_spans,
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Round trip of every chunk of ``docs`` (``(text, gold spans)`` pairs) through ``fmt``.

    RETURNS: ``spans`` (gold), ``rendered`` (spans the targets express),
    ``exact`` (rendered spans in chunks whose alignment gave back exactly the
    rendered spans), ``hallucinated`` (aligned items dropped), ``chunks`` and
    ``not_expressible`` (gold spans not rendered, by reason: every gold span
    is either rendered or counted here); ``chunks_with_tag_like_text``
    (Tag: chunks whose own text looks like a tag, rendered anyway);
    ``discontinuous_gold`` (valid gold spans of two or more fragments),
    ``discontinuous_in_chunks`` (those inside one chunk),
    ``discontinuous_exact`` (those that came back with the same fragments and
    label) and ``discontinuous_lost`` (the others, by reason:
    ``crosses_chunk``, ``not_rendered`` — see ``not_expressible`` — or
    ``rendered_not_aligned_back``).
    """
    counts: Counter = Counter()
    not_expressible: Counter = Counter()
    discontinuous_lost: Counter = Counter()
    for text, spans in docs:
        counts["spans"] += len(spans)
        counts["discontinuous_gold"] += sum(len(fragments) > 1 for fragments, _ in to_gold_spans(text, spans, Counter()))
        chunks = list(chunker(text))
        for (start, end), chunk_spans in zip(chunks, split_spans(text, spans, chunks, not_expressible)):
            result = round_trip(fmt, text[start:end], chunk_spans, labels=labels)
            not_expressible.update(result.not_expressible)
            counts["chunks"] += 1
            counts["rendered"] += len(result.rendered)
            counts["exact"] += len(result.rendered) if result.exact else 0
            counts["hallucinated"] += sum(result.aligned.hallucinations.values())
            back = {(span.fragments, span.label) for span in result.aligned.spans}
            rendered = {(span.fragments, span.label) for span in result.rendered}
            for span in chunk_spans:
                if len(span.fragments) > 1:
                    counts["discontinuous"] += 1
                    key = (span.fragments, span.label)
                    if key not in rendered:
                        discontinuous_lost["not_rendered"] += 1
                    elif key in back:
                        counts["discontinuous_exact"] += 1
                    else:
                        discontinuous_lost["rendered_not_aligned_back"] += 1
    tag_like = not_expressible.pop(TAG_LIKE_TEXT, 0)
    if counts["discontinuous_gold"] > counts["discontinuous"]:
        discontinuous_lost[CROSSES_CHUNK] = counts["discontinuous_gold"] - counts["discontinuous"]
    return {
        **{key: counts[key] for key in ("spans", "chunks", "rendered", "exact", "hallucinated")},
        "discontinuous_gold": counts["discontinuous_gold"],
        "discontinuous_in_chunks": counts["discontinuous"],
        "discontinuous_exact": counts["discontinuous_exact"],
        "discontinuous_lost": dict(sorted(discontinuous_lost.items())),
        "chunks_with_tag_like_text": tag_like,
        "not_expressible": dict(sorted(not_expressible.items())),
    }
