"""``clinical_es_concept_spans``: one span group of concepts from the flat, nested and discontinuous detectors.

A thin component over :func:`spacy_clinical_es.concepts.merge.merge_concepts`.
It reads ``doc.ents`` (when ``use_ents``) and the span groups ``span_keys``
(e.g. spancat's nested ``imaging`` and discontinuous_ner's ``codiesp``), maps
labels (``label_map``: CodiEsp's ``DIAGNOSTICO`` -> ``ENFERMEDAD``), keeps
only ``labels`` (when given), takes only the discontinuous concepts (two or
more fragments) of the span groups in ``discontinuous_only`` and writes
``doc.spans[spans_key]``:

* one span per fragment; every concept has an id (``span.id_``, ``"C1"``,
  ``"C2"``… per doc) shared by the fragments of a discontinuous concept, the
  representation of :mod:`spacy_clinical_es.corpora.representation`;
* nested concepts are simply spans of the group that lie inside others;
* ``attrs["scores"]``: per span, its concept's best detector score (``None``
  for the NER, which gives none); ``attrs["sources"]``: which inputs found it.

The entity linkers that follow read this group (``spans_key = "concepts"``).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from thinc.api import Config

from ..concepts.merge import Mention, merge_concepts

DEFAULT_SPANS_KEY = "concepts"

concept_spans_default_config = """
[concept_spans]
spans_key = "concepts"
use_ents = true
span_keys = []
discontinuous_only = []
labels = null
label_map = {}
"""
DEFAULT_CONCEPT_SPANS_CONFIG = Config().from_str(concept_spans_default_config)["concept_spans"]


@Language.factory(
    "clinical_es_concept_spans",
    assigns=["doc.spans"],
    default_config=DEFAULT_CONCEPT_SPANS_CONFIG,
)
def make_concept_spans(
    nlp: Language,
    name: str,
    spans_key: str,
    use_ents: bool,
    span_keys: list[str],
    discontinuous_only: list[str],
    labels: Optional[list[str]],
    label_map: dict[str, str],
) -> ConceptSpans:
    """Create a :class:`ConceptSpans` (see the module docstring)."""
    return ConceptSpans(
        nlp, name, spans_key=spans_key, use_ents=use_ents, span_keys=span_keys,
        discontinuous_only=discontinuous_only, labels=labels, label_map=label_map,
    )


class ConceptSpans:
    """Merge ``doc.ents`` and span groups into ``doc.spans[spans_key]``."""

    def __init__(
        self,
        nlp: Language,
        name: str = "concept_spans",
        *,
        spans_key: str = DEFAULT_SPANS_KEY,
        use_ents: bool = True,
        span_keys: Sequence[str] = (),
        discontinuous_only: Sequence[str] = (),
        labels: Sequence[str] | None = None,
        label_map: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.cfg: dict[str, Any] = {
            "spans_key": spans_key,
            "use_ents": bool(use_ents),
            "span_keys": list(span_keys),
            "discontinuous_only": list(discontinuous_only),
            "labels": list(labels) if labels is not None else None,
            "label_map": dict(label_map or {}),
        }

    def _mentions(self, doc: Doc) -> list[Mention]:
        mentions: list[Mention] = []
        if self.cfg["use_ents"]:
            mentions += [Mention(e.start_char, e.end_char, e.label_, "ents") for e in doc.ents]
        for key in self.cfg["span_keys"]:
            if key not in doc.spans:
                continue
            group = doc.spans[key]
            scores = group.attrs.get("scores")
            for i, span in enumerate(group):
                score = float(scores[i]) if scores is not None and i < len(scores) else None
                mentions.append(
                    Mention(span.start_char, span.end_char, span.label_, key, group=span.id_ or None, score=score)
                )
        return mentions

    def __call__(self, doc: Doc) -> Doc:
        """Write the merged concepts of ``doc`` to ``doc.spans[spans_key]``."""
        allowed = set(self.cfg["labels"]) if self.cfg["labels"] is not None else None
        spans: list[Span] = []
        scores: list[float | None] = []
        sources: list[str] = []
        n = 0
        merged = merge_concepts(
            self._mentions(doc), self.cfg["label_map"], self.cfg["discontinuous_only"]
        )
        for concept in merged:
            if allowed is not None and concept.label not in allowed:
                continue
            n += 1
            for start, end in concept.fragments:
                span = doc.char_span(start, end, label=concept.label, span_id=f"C{n}", alignment_mode="expand")
                if span is None:
                    continue
                spans.append(span)
                scores.append(concept.score)
                sources.append("+".join(concept.sources))
        doc.spans[self.cfg["spans_key"]] = SpanGroup(
            doc, name=self.cfg["spans_key"], attrs={"scores": scores, "sources": sources}, spans=spans
        )
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        """Merge the concepts of each Doc."""
        for doc in stream:
            yield self(doc)
