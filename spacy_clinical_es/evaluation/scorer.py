"""SpaCy layer over :mod:`.metrics`: score gold against predicted ``Doc`` objects.

Spans are read from ``doc.ents`` or ``doc.spans[span_key]`` and reduced to
character offsets, so gold and predicted docs may be tokenized differently as
long as their texts are identical. Token-level metrics use the gold doc's
tokens.

The registered scorer ``spacy_clinical_es.ner_scorer.v1`` keeps spaCy's own
``ents_*`` keys (configs weighting ``ents_f`` keep working) and adds the
character-offset strict scores, IOB2 token F1 and de-identification recall
and leak rate::

    [components.ner]
    scorer = {"@scorers":"spacy_clinical_es.ner_scorer.v1"}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import registry

from ..corpora.representation import USER_DATA_KEY
from ..errors import EvaluationError
from .metrics import (
    FragmentItem,
    LocalSpan,
    Offsets,
    Scores,
    SpanTuple,
    align_spans_to_iob2,
    deid_char_scores,
    deid_token_scores,
    fragment_match_prf,
    iob2_token_prf,
    strict_span_prf,
)

logger = logging.getLogger(__name__)

DocPairs = tuple[Sequence[Doc], Sequence[Doc]]


def _as_pairs(examples: Iterable[Example] | DocPairs) -> list[tuple[Doc, Doc]]:
    """Normalize the input of :func:`score_docs` to ``(gold, predicted)`` pairs."""
    if (
        isinstance(examples, tuple)
        and len(examples) == 2
        and not any(isinstance(side, (Example, Doc)) for side in examples)
    ):
        try:
            gold_docs, pred_docs = list(examples[0]), list(examples[1])
        except TypeError as err:
            raise EvaluationError(
                "Pass Example objects or a (gold_docs, pred_docs) tuple of two Doc sequences."
            ) from err
        if len(gold_docs) != len(pred_docs):
            raise EvaluationError(
                f"Got {len(gold_docs)} gold docs but {len(pred_docs)} predicted docs; "
                "pass one prediction per gold document, in the same order."
            )
        pairs = list(zip(gold_docs, pred_docs))
    else:
        pairs = []
        for i, eg in enumerate(examples):
            if not isinstance(eg, Example):
                raise EvaluationError(
                    f"Item {i} is a {type(eg).__name__}; pass Example objects or a "
                    "(gold_docs, pred_docs) tuple."
                )
            pairs.append((eg.reference, eg.predicted))
    for i, (gold, pred) in enumerate(pairs):
        if not isinstance(gold, Doc) or not isinstance(pred, Doc):
            raise EvaluationError(
                f"Pair {i}: gold and predicted items must be Doc objects."
            )
    return pairs


def _doc_spans(doc: Doc, span_key: str | None) -> Sequence[Span]:
    if span_key is None:
        return doc.ents
    return doc.spans.get(span_key, ())


def _exact_offsets(span: Span) -> Offsets:
    """The span's character offsets, or the exact gold offsets its record keeps.

    Converters expand a gold fragment that does not fall on token boundaries
    to whole tokens and keep the exact offsets in ``doc.user_data`` (see
    :mod:`spacy_clinical_es.corpora.representation`); strict scores against
    gold must use those, not the expanded span.
    """
    store = span.doc.user_data.get(USER_DATA_KEY)
    record = store.get("annotations", {}).get(span.id_) if isinstance(store, dict) else None
    if isinstance(record, dict) and len(record.get("fragments", ())) == 1:
        start, end = record["fragments"][0]
        if start < span.end_char and end > span.start_char:
            return (int(start), int(end))
    return (span.start_char, span.end_char)


def _fragment_items(
    doc_id: int, spans: Iterable[Span], group_fragments: bool
) -> list[FragmentItem]:
    """Group spans sharing a non-empty ``id_`` and label into one annotation."""
    groups: dict[tuple[str, str], set[Offsets]] = {}
    items: list[FragmentItem] = []
    for span in spans:
        fragment = (span.start_char, span.end_char)
        if group_fragments and span.id_:
            groups.setdefault((span.id_, span.label_), set()).add(fragment)
        else:
            items.append((doc_id, span.label_, frozenset([fragment])))
    items.extend(
        (doc_id, label, frozenset(frags)) for (_, label), frags in groups.items()
    )
    return items


def score_docs(
    examples: Iterable[Example] | DocPairs,
    *,
    span_key: str | None = None,
    labels: Iterable[str] | None = None,
    group_fragments: bool | None = None,
    gold_span_key: str | None = None,
) -> Scores:
    """Score predicted against gold docs with every metric of :mod:`.metrics`.

    examples: ``Example`` objects, or a ``(gold_docs, pred_docs)`` tuple of two
        equally long sequences. Each pair must have the same text
        (:class:`EvaluationError` otherwise; the text is never quoted).
    span_key: read ``doc.spans[span_key]`` (a missing key means no spans)
        instead of ``doc.ents``. With ``doc.ents``, documents whose gold doc has
        no entity annotation at all are skipped as spaCy's NER scorer does, and
        counted in ``n_docs_skipped``.
    labels: score only these labels (every one gets a ``per_type`` row).
    group_fragments: group spans that share a non-empty ``span.id_`` and label
        into one (discontinuous) annotation for the ``exact`` scores. Defaults
        to True with ``span_key`` and False with ``doc.ents``, where predicted
        ids usually come from entity-ruler patterns and name no annotation.
    gold_span_key: read the gold spans from ``gold.spans[gold_span_key]``
        (e.g. every MEDDOCAN annotation, not only those ``doc.ents`` could
        hold), with the exact character offsets the converter kept; the
        predictions still come from ``span_key`` / ``doc.ents``.
    RETURNS: ``n_docs``, ``n_docs_skipped``, ``strict`` (char-offset spans),
        ``iob2`` (token level on gold tokens, with ``dropped_gold_spans`` and
        ``dropped_pred_spans``: spans IOB2 cannot hold), ``deid_token`` and
        ``deid_char`` (labels ignored, whitespace not counted), ``exact``
        (fragment sets, with a ``discontinuous`` part).
    """
    if group_fragments is None:
        group_fragments = span_key is not None
    keep = None if labels is None else set(labels)
    label_list = None if keep is None else sorted(keep)
    gold_spans: list[SpanTuple] = []
    pred_spans: list[SpanTuple] = []
    gold_items: list[FragmentItem] = []
    pred_items: list[FragmentItem] = []
    gold_tags: list[list[str]] = []
    pred_tags: list[list[str]] = []
    deid_tokens: dict[int, list[Offsets]] = {}
    texts: dict[int, str] = {}
    dropped = {"gold": 0, "pred": 0}
    n_docs = skipped = 0
    for i, (gold, pred) in enumerate(_as_pairs(examples)):
        if gold.text != pred.text:
            raise EvaluationError(
                f"Document {i}: the predicted text differs from the gold text (lengths "
                f"{len(pred.text)} and {len(gold.text)}); run the pipeline on the gold texts."
            )
        if span_key is None and gold_span_key is None and not gold.has_annotation("ENT_IOB"):
            skipped += 1
            continue
        n_docs += 1
        texts[i] = gold.text
        offsets = [(t.idx, t.idx + len(t)) for t in gold]
        deid_tokens[i] = [(t.idx, t.idx + len(t)) for t in gold if not t.is_space]
        for side, doc, spans, items, tags in (
            ("gold", gold, gold_spans, gold_items, gold_tags),
            ("pred", pred, pred_spans, pred_items, pred_tags),
        ):
            exact = side == "gold" and gold_span_key is not None
            key = gold_span_key if exact else span_key
            doc_spans = [
                span
                for span in _doc_spans(doc, key)
                if keep is None or span.label_ in keep
            ]
            local: list[LocalSpan] = [
                (*(_exact_offsets(s) if exact else (s.start_char, s.end_char)), s.label_)
                for s in doc_spans
            ]
            spans.extend((i, start, end, label) for start, end, label in local)
            items.extend(_fragment_items(i, doc_spans, group_fragments))
            doc_tags, doc_dropped = align_spans_to_iob2(offsets, local)
            tags.append(doc_tags)
            dropped[side] += len(doc_dropped)
    if skipped:
        logger.info(
            "Skipped %d documents whose gold doc has no entity annotation", skipped
        )
    iob2 = iob2_token_prf(gold_tags, pred_tags, labels=label_list)
    iob2["dropped_gold_spans"] = dropped["gold"]
    iob2["dropped_pred_spans"] = dropped["pred"]
    return {
        "n_docs": n_docs,
        "n_docs_skipped": skipped,
        "span_key": span_key,
        "strict": strict_span_prf(gold_spans, pred_spans, labels=label_list),
        "iob2": iob2,
        "deid_token": deid_token_scores(deid_tokens, gold_spans, pred_spans),
        "deid_char": deid_char_scores(gold_spans, pred_spans, texts=texts),
        "exact": fragment_match_prf(gold_items, pred_items, labels=label_list),
    }


def flat_scores(scores: Scores) -> dict[str, float]:
    """The headline numbers of :func:`score_docs` as flat float keys (for spaCy)."""
    return {
        "strict_p": scores["strict"]["p"],
        "strict_r": scores["strict"]["r"],
        "strict_f": scores["strict"]["f"],
        "iob2_p": scores["iob2"]["p"],
        "iob2_r": scores["iob2"]["r"],
        "iob2_f": scores["iob2"]["f"],
        "phi_token_p": scores["deid_token"]["p"],
        "phi_token_r": scores["deid_token"]["r"],
        "phi_token_f": scores["deid_token"]["f"],
        "leak_rate": scores["deid_token"]["leak_rate"],
    }


def ner_score(examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
    """spaCy's ``ents_p/ents_r/ents_f/ents_per_type`` plus :func:`flat_scores`.

    The ``ents_*`` keys are spaCy's (token-aligned, ``None`` without gold
    entities); the added keys are floats, 0.0 when nothing is scored.
    """
    examples = list(examples)
    scores: dict[str, Any] = dict(get_ner_prf(examples, **kwargs))
    scores.update(flat_scores(score_docs(examples)))
    return scores


@registry.scorers("spacy_clinical_es.ner_scorer.v1")
def make_ner_scorer() -> Callable[..., dict[str, Any]]:
    """Scorer for ``ner``/``entity_ruler`` components: spaCy's ents scores + ours."""
    return ner_score
