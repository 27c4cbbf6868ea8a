"""Turn one document's generated chunk outputs into spans and counts (spaCy-free).

Each output is parsed with the chosen format and aligned to its own chunk
(:func:`~.align.align`); spans are shifted to document offsets and merged
(chunks never overlap, so merging is concatenation plus dropping exact
repeats, counted ``duplicate_span``). :class:`GenerationCounts` keeps what
happened: chunks, parsed items, spans kept, hallucinations (dropped: labels
outside the label set, strings not in the text) and other problems by reason
(parse problems such as ``unclosed_tag``, alignment problems such as
``out_of_order``, and whatever the spaCy layer adds when setting spans).
Counts are plain dicts of ints so they survive ``doc.to_bytes`` and JSON.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .align import AlignedSpan, align
from .types import OutputFormat, concept_strings_of

DUPLICATE_SPAN = "duplicate_span"
MISSING_OUTPUT = "missing_output"


@dataclass
class GenerationCounts:
    """What generation produced for one document (or, summed, for a run)."""

    chunks: int = 0
    items: int = 0
    spans: int = 0
    hallucinations: Counter = field(default_factory=Counter)
    problems: Counter = field(default_factory=Counter)

    @property
    def n_hallucinations(self) -> int:
        return sum(self.hallucinations.values())

    def add(self, other: GenerationCounts) -> GenerationCounts:
        """Add ``other`` into these counts (in place) and return them."""
        self.chunks += other.chunks
        self.items += other.items
        self.spans += other.spans
        self.hallucinations.update(other.hallucinations)
        self.problems.update(other.problems)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks,
            "items": self.items,
            "spans": self.spans,
            "hallucinations": dict(sorted(self.hallucinations.items())),
            "n_hallucinations": self.n_hallucinations,
            "problems": dict(sorted(self.problems.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationCounts:
        return cls(
            chunks=int(data.get("chunks", 0)),
            items=int(data.get("items", 0)),
            spans=int(data.get("spans", 0)),
            hallucinations=Counter({str(k): int(v) for k, v in dict(data.get("hallucinations", {})).items()}),
            problems=Counter({str(k): int(v) for k, v in dict(data.get("problems", {})).items()}),
        )

    @classmethod
    def total(cls, counts: Iterable[GenerationCounts]) -> GenerationCounts:
        result = cls()
        for item in counts:
            result.add(item)
        return result


class DocPrediction(NamedTuple):
    """Spans in document offsets (text order) and the counts of one document."""

    spans: list[AlignedSpan]
    counts: GenerationCounts


def decode_chunks(
    text: str,
    chunks: Sequence[tuple[int, int]],
    outputs: Sequence[str],
    fmt: OutputFormat,
    labels: Sequence[str] | None,
) -> DocPrediction:
    """Parse and align each chunk's output and merge the spans (see the module docstring).

    ``outputs[i]`` is the generated text for ``text[chunks[i][0]:chunks[i][1]]``;
    a missing output (fewer outputs than chunks) is counted ``missing_output``.
    Never raises on odd outputs.
    """
    counts = GenerationCounts(chunks=len(chunks))
    spans: list[AlignedSpan] = []
    seen: set[tuple[Any, str]] = set()
    if len(outputs) < len(chunks):
        counts.problems[MISSING_OUTPUT] += len(chunks) - len(outputs)
    for (start, end), output in zip(chunks, outputs):
        parsed = fmt.parse(output if isinstance(output, str) else str(output))
        counts.items += len(parsed.items)
        counts.problems.update(parsed.problems)
        result = align(text[start:end], parsed, labels=labels, concept_strings=concept_strings_of(fmt))
        counts.hallucinations.update(result.hallucinations)
        counts.problems.update(result.problems)
        for span in result.spans:
            fragments = tuple((s + start, e + start) for s, e in span.fragments)
            key = (fragments, span.label)
            if key in seen:
                counts.problems[DUPLICATE_SPAN] += 1
                continue
            seen.add(key)
            spans.append(AlignedSpan(span.start + start, span.end + start, span.label, fragments))
    spans.sort(key=lambda s: (s.start, -s.end, s.label))
    counts.spans = len(spans)
    return DocPrediction(spans, counts)
