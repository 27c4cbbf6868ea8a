"""spaCy layer of generative NER: chunk docs, set predicted spans, keep counts, read gold targets.

Shared by the ``generative_ner`` component, the spacy-llm task
(``spacy_clinical_es.GenerativeNER.v1``) and the fine-tuning script:

* :func:`set_predictions` writes a :class:`~.decode.DocPrediction` to
  ``doc.ents`` (non-overlapping subset chosen like the gold ``doc.ents``:
  longest first; overlaps and discontinuous concepts are counted
  ``overlap_not_in_ents`` / ``discontinuous_not_in_ents``) or to the span
  group ``spans_key`` (everything; the fragments of a discontinuous concept
  share ``span.id_``). Offsets that do not fall on token boundaries are
  expanded to whole tokens (counted ``expanded_to_tokens``). The counts go to
  ``doc.user_data["spacy_clinical_es.generative"][component name]``
  (:func:`doc_counts`, summed by :func:`aggregate_counts`).
* :func:`gold_spans` / :func:`chunk_examples` turn gold docs into
  ``(chunk text, target)`` pairs for fine-tuning and k-shot prompts, with the
  exact gold offsets the converters keep in ``doc.user_data``.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from spacy.tokens import Doc, Span

from ...corpora.representation import USER_DATA_KEY, choose_ents
from ..chunks import plan_chunks, split_spans
from ..decode import DocPrediction, GenerationCounts
from ..types import Fragments, OutputFormat, SpanLike

COUNTS_KEY = "spacy_clinical_es.generative"

EXPANDED = "expanded_to_tokens"
NO_TOKEN_SPAN = "no_token_span"
OVERLAP_NOT_IN_ENTS = "overlap_not_in_ents"
DISCONTINUOUS_NOT_IN_ENTS = "discontinuous_not_in_ents"


def doc_chunks(doc: Doc, max_tokens: int, pack: bool) -> list[tuple[int, int]]:
    """:func:`~.chunks.plan_chunks` of ``doc.text``."""
    return plan_chunks(doc.text, max_tokens, pack=pack)


def _token_span(doc: Doc, start: int, end: int, label: str, counts: GenerationCounts) -> Span | None:
    span = doc.char_span(start, end, label=label)
    if span is None:
        span = doc.char_span(start, end, label=label, alignment_mode="expand")
        if span is None or not len(span):
            counts.problems[NO_TOKEN_SPAN] += 1
            return None
        counts.problems[EXPANDED] += 1
    return span


def set_predictions(
    doc: Doc, prediction: DocPrediction, *, spans_key: str | None = None, component: str = "generative_ner"
) -> GenerationCounts:
    """Write ``prediction`` to ``doc.ents`` or ``doc.spans[spans_key]`` and store its counts (see the module docstring)."""
    base = prediction.counts
    counts = GenerationCounts(
        base.chunks, base.items, base.spans, Counter(base.hallucinations), Counter(base.problems)
    )
    if spans_key is None:
        candidates: list[tuple[int, int, str]] = []
        spans: list[Span] = []
        for aligned in prediction.spans:
            if len(aligned.fragments) > 1:
                counts.problems[DISCONTINUOUS_NOT_IN_ENTS] += 1
                continue
            span = _token_span(doc, aligned.start, aligned.end, aligned.label, counts)
            if span is not None:
                candidates.append((span.start_char, span.end_char, aligned.label))
                spans.append(span)
        chosen = choose_ents(candidates)
        counts.problems[OVERLAP_NOT_IN_ENTS] += len(spans) - len(chosen)
        doc.set_ents([spans[i] for i in chosen], default="outside")
    else:
        group: list[Span] = []
        for n, aligned in enumerate(prediction.spans):
            parts = [_token_span(doc, s, e, aligned.label, counts) for s, e in aligned.fragments]
            if any(part is None for part in parts):
                continue
            for part in parts:
                assert part is not None
                if len(parts) > 1:
                    part.id_ = f"{component}-{n}"
                group.append(part)
        doc.spans[spans_key] = group
    counts.problems = +counts.problems
    store = doc.user_data.get(COUNTS_KEY)
    store = dict(store) if isinstance(store, dict) else {}
    store[component] = counts.to_dict()
    doc.user_data[COUNTS_KEY] = store
    return counts


def doc_counts(doc: Doc, component: str | None = None) -> GenerationCounts:
    """The counts one component (or, with ``None``, every generative component) stored on ``doc``."""
    store = doc.user_data.get(COUNTS_KEY)
    if not isinstance(store, dict):
        return GenerationCounts()
    values = [store.get(component)] if component is not None else list(store.values())
    return GenerationCounts.total(GenerationCounts.from_dict(v) for v in values if isinstance(v, dict))


def aggregate_counts(docs: Iterable[Doc], component: str | None = None) -> dict[str, Any]:
    """Counts summed over ``docs`` plus ``docs`` and ``docs_with_hallucinations``."""
    total = GenerationCounts()
    n_docs = with_hallucinations = 0
    for doc in docs:
        counts = doc_counts(doc, component)
        total.add(counts)
        n_docs += 1
        with_hallucinations += counts.n_hallucinations > 0
    return {"docs": n_docs, "docs_with_hallucinations": with_hallucinations, **total.to_dict()}


def gold_spans(doc: Doc, span_key: str | None = None) -> list[tuple[Fragments, str]]:
    """Gold ``(fragments, label)`` of ``doc.ents`` or ``doc.spans[span_key]`` with exact offsets.

    The converters expand gold fragments that do not fall on token boundaries
    and keep the exact fragments in ``doc.user_data`` (keyed by ``span.id_``);
    those are used when present. In a span group, spans sharing an id are
    one (discontinuous) concept.
    """
    spans: Sequence[Span] = doc.ents if span_key is None else doc.spans.get(span_key, [])
    store = doc.user_data.get(USER_DATA_KEY)
    records = store.get("annotations", {}) if isinstance(store, dict) else {}
    records = records if isinstance(records, dict) else {}
    result: list[tuple[Fragments, str]] = []
    seen_ids: set[tuple[str, str]] = set()
    for span in spans:
        record = records.get(span.id_) if span.id_ else None
        fragments: Fragments = ((span.start_char, span.end_char),)
        if isinstance(record, dict) and record.get("fragments"):
            exact = tuple((int(s), int(e)) for s, e in record["fragments"])
            if span_key is not None:
                if (span.id_, span.label_) in seen_ids:
                    continue
                seen_ids.add((span.id_, span.label_))
                fragments = exact
            elif len(exact) == 1 and exact[0][0] < span.end_char and exact[0][1] > span.start_char:
                fragments = exact
        result.append((fragments, span.label_))
    return result


class ChunkExample(NamedTuple):
    """One training/prompt example: a chunk text, its target and its gold span count."""

    text: str
    target: str
    n_entities: int
    doc_index: int


def chunk_examples(
    docs: Iterable[Doc],
    fmt: OutputFormat,
    *,
    span_key: str | None = None,
    max_tokens: int = 100,
    pack: bool = False,
    problems: Counter | None = None,
) -> list[ChunkExample]:
    """``(chunk text, rendered target)`` for every chunk of ``docs``; what a format cannot express is counted."""
    problems = problems if problems is not None else Counter()
    examples: list[ChunkExample] = []
    for index, doc in enumerate(docs):
        text = doc.text
        chunks = plan_chunks(text, max_tokens, pack=pack)
        spans: list[SpanLike] = [(fragments, label) for fragments, label in gold_spans(doc, span_key)]
        for (start, end), chunk_spans in zip(chunks, split_spans(text, spans, chunks, problems)):
            chunk = text[start:end]
            select = getattr(fmt, "select", None)
            n_entities = len(select(chunk, chunk_spans)) if select is not None else len(chunk_spans)
            examples.append(ChunkExample(chunk, fmt.render(chunk, chunk_spans, problems=problems), n_entities, index))
    return examples


def example_counts(examples: Sequence[ChunkExample], problems: Counter | None = None) -> dict[str, Any]:
    """Table 4 of the image-entity paper for one split: sentences (chunks), those with entities, entities.

    ``entities`` counts the gold spans the targets express; ``not_expressible``
    (from ``problems``) the ones they could not, by reason.
    """
    return {
        "docs": len({e.doc_index for e in examples}),
        "sentences": len(examples),
        "sentences_with_entities": sum(e.n_entities > 0 for e in examples),
        "entities": sum(e.n_entities for e in examples),
        "not_expressible": dict(sorted((problems or Counter()).items())),
    }
