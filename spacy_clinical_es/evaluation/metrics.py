"""SpaCy-free evaluation metrics for clinical NER, de-identification and linking.

Every function takes plain tuples, so any component or corpus format can be
scored once its output is reduced to offsets and labels:

* strict spans: ``(doc_id, start, end, label)`` with character offsets;
* IOB2 tags: one list of ``"O"``/``"B-X"``/``"I-X"`` strings per document;
* fragment sets: ``(doc_id, label, frozenset({(start, end), ...}))``;
* linking: a gold code (or set of acceptable codes) and a ranked candidate list.

Scores are returned as plain dicts with spaCy's key names (``p``, ``r``,
``f``, ``per_type``) plus the raw counts (``tp``, ``fp``, ``fn``), so they can
be written to JSON as they are. Whenever a denominator is zero (no gold, no
predictions) the ratio is 0.0: nothing crashes, and an empty evaluation never
looks like a perfect one.
"""

from __future__ import annotations

import logging
import operator
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import EvaluationError

logger = logging.getLogger(__name__)

Offsets = tuple[int, int]
SpanTuple = tuple[Hashable, int, int, str]
LocalSpan = tuple[int, int, str]
FragmentItem = tuple[Hashable, str, frozenset[Offsets]]
Scores = dict[str, Any]

OUTSIDE = "O"
_T = TypeVar("_T", bound=Hashable)


@dataclass
class PRFCounts:
    """True/false positive and false negative counts with derived P/R/F.

    Ratios with a zero denominator are 0.0 (same convention as spaCy's
    ``PRFScore``, without its 1e-100 smoothing).
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: PRFCounts) -> PRFCounts:
        return PRFCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        denominator = self.tp + self.fp
        return self.tp / denominator if denominator else 0.0

    @property
    def recall(self) -> float:
        denominator = self.tp + self.fn
        return self.tp / denominator if denominator else 0.0

    @property
    def fscore(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "p": self.precision,
            "r": self.recall,
            "f": self.fscore,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def _scores_from_counts(
    per_label: Mapping[str, PRFCounts], labels: Iterable[str] | None = None
) -> Scores:
    """Micro-average ``per_label`` into one result dict with a ``per_type`` entry.

    Every label in ``labels`` gets a ``per_type`` row, even with zero counts.
    """
    rows: dict[str, PRFCounts] = {label: PRFCounts() for label in labels or ()}
    for label, counts in per_label.items():
        rows.setdefault(label, PRFCounts())
        rows[label] += counts
    total = PRFCounts()
    for counts in rows.values():
        total += counts
    result: Scores = total.to_dict()
    result["per_type"] = {label: rows[label].to_dict() for label in sorted(rows)}
    return result


def _set_scores(
    gold: set[_T],
    pred: set[_T],
    label_of: Callable[[_T], str],
    labels: Iterable[str] | None = None,
) -> Scores:
    """Exact-match P/R/F of two sets of hashable items, per label and micro."""
    per_label: dict[str, PRFCounts] = defaultdict(PRFCounts)
    for item in gold & pred:
        per_label[label_of(item)].tp += 1
    for item in pred - gold:
        per_label[label_of(item)].fp += 1
    for item in gold - pred:
        per_label[label_of(item)].fn += 1
    return _scores_from_counts(per_label, labels)


def _check_offsets(start: Any, end: Any, where: str) -> Offsets:
    try:
        start, end = operator.index(start), operator.index(end)
    except TypeError:
        start = end = -1
    if not 0 <= start <= end:
        raise EvaluationError(
            f"{where}: invalid character offsets; expected integers with 0 <= start <= end."
        )
    return start, end


def _filter_labels(
    items: set[_T], label_of: Callable[[_T], str], labels: Iterable[str] | None
) -> tuple[set[_T], int]:
    if labels is None:
        return items, 0
    keep = set(labels)
    kept = {item for item in items if label_of(item) in keep}
    return kept, len(items) - len(kept)


# -- strict spans (MEDDOCAN subtrack 1) ---------------------------------------


def _span_set(spans: Iterable[Sequence[Any]], side: str) -> set[SpanTuple]:
    result: set[SpanTuple] = set()
    for i, span in enumerate(spans):
        if len(span) != 4:
            raise EvaluationError(
                f"{side} span {i}: expected (doc_id, start, end, label), got {len(span)} fields."
            )
        doc_id, start, end, label = span
        start, end = _check_offsets(
            start, end, f"{side} span {i} of document {doc_id!r}"
        )
        result.add((doc_id, start, end, str(label)))
    return result


def strict_span_prf(
    gold: Iterable[SpanTuple],
    pred: Iterable[SpanTuple],
    *,
    labels: Iterable[str] | None = None,
) -> Scores:
    """Strict span P/R/F: a prediction is correct when its document, start,
    end and label all equal a gold span's (MEDDOCAN subtrack 1 / CodiEsp-X
    "exact" style).

    gold, pred: ``(doc_id, start, end, label)`` tuples; duplicates count once.
    labels: when given, only these labels are scored and each one gets a
        ``per_type`` row (zero counts included); spans with other labels are
        counted in ``ignored_gold``/``ignored_pred``.
    RETURNS: ``p``, ``r``, ``f`` (micro), ``tp``, ``fp``, ``fn`` and
        ``per_type`` (label -> the same keys).
    """
    label_of: Callable[[SpanTuple], str] = lambda span: span[3]
    gold_set, ignored_gold = _filter_labels(_span_set(gold, "Gold"), label_of, labels)
    pred_set, ignored_pred = _filter_labels(
        _span_set(pred, "Predicted"), label_of, labels
    )
    result = _set_scores(gold_set, pred_set, label_of, labels)
    if labels is not None:
        result["ignored_gold"] = ignored_gold
        result["ignored_pred"] = ignored_pred
    return result


# -- IOB2 token level ---------------------------------------------------------


def _tag_class(tag: str, doc_index: int, token_index: int) -> str | None:
    if tag == OUTSIDE:
        return None
    if isinstance(tag, str) and len(tag) > 2 and tag[:2] in ("B-", "I-"):
        return tag[2:]
    raise EvaluationError(
        f"Document {doc_index}, token {token_index}: {tag!r} is not an IOB2 tag "
        "(expected 'O', 'B-LABEL' or 'I-LABEL')."
    )


def iob2_token_prf(
    gold_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    *,
    labels: Iterable[str] | None = None,
) -> Scores:
    """Token-level P/R/F per class over IOB2 tags (standardized SMiNER-style).

    Rules, applied to every token of every document:

    * a token belongs to class C on a side when that side's tag is ``B-C`` or
      ``I-C``; ``O`` belongs to no class and is never scored;
    * TP for C: the gold tag is of class C and the predicted tag is *identical*
      (``B-C`` == ``B-C``);
    * otherwise the token is a FN for the gold tag's class (if any) and a FP for
      the predicted tag's class (if any). So ``B-C`` predicted as ``I-C`` is
      both a FN and a FP of C: the boundary error counts.

    Micro P/R/F sum TP/FP/FN over classes. The two sequences must have the
    same number of documents and each document the same number of tags
    (raise :class:`EvaluationError` otherwise).

    labels: when given, only these classes are scored (tags of other classes
        are treated as ``O``) and each one gets a ``per_type`` row.
    """
    if len(gold_tags) != len(pred_tags):
        raise EvaluationError(
            f"IOB2 scoring needs one predicted tag list per gold document: got "
            f"{len(gold_tags)} gold and {len(pred_tags)} predicted documents."
        )
    keep = None if labels is None else set(labels)
    per_label: dict[str, PRFCounts] = defaultdict(PRFCounts)
    for doc_index, (gold_doc, pred_doc) in enumerate(zip(gold_tags, pred_tags)):
        if len(gold_doc) != len(pred_doc):
            raise EvaluationError(
                f"Document {doc_index}: {len(gold_doc)} gold tags but {len(pred_doc)} "
                "predicted tags; tag both sides on the same tokens."
            )
        for token_index, (gold_tag, pred_tag) in enumerate(zip(gold_doc, pred_doc)):
            gold_class = _tag_class(gold_tag, doc_index, token_index)
            pred_class = _tag_class(pred_tag, doc_index, token_index)
            if keep is not None:
                if gold_class not in keep:
                    gold_class, gold_tag = None, OUTSIDE
                if pred_class not in keep:
                    pred_class, pred_tag = None, OUTSIDE
            if gold_class is not None and gold_tag == pred_tag:
                per_label[gold_class].tp += 1
                continue
            if gold_class is not None:
                per_label[gold_class].fn += 1
            if pred_class is not None:
                per_label[pred_class].fp += 1
    return _scores_from_counts(per_label, labels)


def _token_bounds(token_offsets: Sequence[Offsets]) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    previous_end = 0
    for i, (start, end) in enumerate(token_offsets):
        start, end = _check_offsets(start, end, f"Token {i}")
        if start == end:
            raise EvaluationError(
                f"Token {i} at {start} is empty; tokens need at least one character."
            )
        if start < previous_end:
            raise EvaluationError(
                f"Token {i} ({start}, {end}) starts before the previous token ends "
                f"({previous_end}); token offsets must be sorted and non-overlapping."
            )
        starts.append(start)
        ends.append(end)
        previous_end = end
    return starts, ends


def _covered_tokens(starts: list[int], ends: list[int], start: int, end: int) -> range:
    """Indices of the tokens overlapping ``[start, end)`` by at least one character."""
    if start >= end:
        return range(0)
    # Tokens are sorted and non-overlapping, so ``ends`` is sorted too.
    first = bisect_right(ends, start)
    last = bisect_left(starts, end)
    return range(first, last)


def align_spans_to_iob2(
    token_offsets: Sequence[Offsets], spans: Iterable[LocalSpan]
) -> tuple[list[str], list[LocalSpan]]:
    """Convert character spans of one document to IOB2 tags on given tokens.

    token_offsets: ``(start, end)`` per token, sorted and non-overlapping.
    spans: ``(start, end, label)``; identical duplicates count once.

    Rules: a span tags every token it overlaps by at least one character (a
    span covering part of a token tags the whole token). Spans are placed
    longest first (character length; ties: earlier start, then earlier end,
    then label), and a span that would share a token with an already placed
    span is dropped whole, never truncated: IOB2 cannot nest, and a truncated
    span would be a mention nobody annotated. A span overlapping no token
    (empty, out of range, or between tokens) is dropped too.

    RETURNS: the tags and the dropped spans (callers count them; nothing is
        dropped silently).
    """
    starts, ends = _token_bounds(token_offsets)
    tags = [OUTSIDE] * len(starts)
    dropped: list[LocalSpan] = []
    unique = {
        (*_check_offsets(start, end, f"Span {i}"), str(label))
        for i, (start, end, label) in enumerate(spans)
    }
    for start, end, label in sorted(
        unique, key=lambda s: (s[0] - s[1], s[0], s[1], s[2])
    ):
        covered = _covered_tokens(starts, ends, start, end)
        if not covered or any(tags[i] != OUTSIDE for i in covered):
            dropped.append((start, end, label))
            continue
        tags[covered[0]] = f"B-{label}"
        for i in covered[1:]:
            tags[i] = f"I-{label}"
    return tags, dropped


def spans_to_iob2(
    token_offsets: Sequence[Offsets], spans: Iterable[LocalSpan]
) -> list[str]:
    """IOB2 tags for ``spans`` on ``token_offsets``; see :func:`align_spans_to_iob2`
    for the rules. Dropped (overlapping or token-less) spans are logged as a count.
    """
    tags, dropped = align_spans_to_iob2(token_offsets, spans)
    if dropped:
        logger.debug(
            "IOB2 conversion dropped %d overlapping or token-less spans", len(dropped)
        )
    return tags


# -- de-identification, labels ignored ----------------------------------------


def _phi_tokens(
    token_offsets: Mapping[Hashable, Sequence[Offsets]],
    spans: Iterable[Sequence[Any]],
    bounds: dict[Hashable, tuple[list[int], list[int]]],
    side: str,
) -> set[tuple[Hashable, int]]:
    result: set[tuple[Hashable, int]] = set()
    for i, span in enumerate(spans):
        doc_id, start, end = span[0], span[1], span[2]
        start, end = _check_offsets(
            start, end, f"{side} span {i} of document {doc_id!r}"
        )
        if doc_id not in bounds:
            if doc_id not in token_offsets:
                raise EvaluationError(
                    f"{side} span {i}: no token offsets for document {doc_id!r}; "
                    "pass the tokens of every scored document."
                )
            bounds[doc_id] = _token_bounds(token_offsets[doc_id])
        starts, ends = bounds[doc_id]
        result.update((doc_id, t) for t in _covered_tokens(starts, ends, start, end))
    return result


def _deid_result(gold: set[Any], pred: set[Any], unit: str) -> Scores:
    counts = PRFCounts(len(gold & pred), len(pred - gold), len(gold - pred))
    result: Scores = counts.to_dict()
    result["leak_rate"] = counts.fn / len(gold) if gold else 0.0
    result[f"gold_{unit}"] = len(gold)
    result[f"pred_{unit}"] = len(pred)
    return result


def deid_token_scores(
    token_offsets: Mapping[Hashable, Sequence[Offsets]],
    gold: Iterable[Sequence[Any]],
    pred: Iterable[Sequence[Any]],
) -> Scores:
    """De-identification "global" token scores: labels are ignored.

    token_offsets: document id -> ``(start, end)`` of its tokens (sorted). Leave
        out tokens that should never count (the spaCy layer leaves out
        whitespace tokens).
    gold, pred: ``(doc_id, start, end[, label])`` PHI spans.

    A token is a gold PHI token when it overlaps any gold span by at least one
    character, a predicted PHI token likewise. TP/FP/FN compare the two token
    sets; ``leak_rate`` is the share of gold PHI tokens overlapped by no
    prediction (= 1 - recall, 0.0 when there is no gold PHI).
    """
    bounds: dict[Hashable, tuple[list[int], list[int]]] = {}
    gold_tokens = _phi_tokens(token_offsets, gold, bounds, "Gold")
    pred_tokens = _phi_tokens(token_offsets, pred, bounds, "Predicted")
    return _deid_result(gold_tokens, pred_tokens, "tokens")


def leak_rate(
    token_offsets: Mapping[Hashable, Sequence[Offsets]],
    gold: Iterable[Sequence[Any]],
    pred: Iterable[Sequence[Any]],
) -> float:
    """Share of gold PHI tokens that no predicted span overlaps (0.0 without gold PHI)."""
    return deid_token_scores(token_offsets, gold, pred)["leak_rate"]


def _phi_chars(
    spans: Iterable[Sequence[Any]], texts: Mapping[Hashable, str] | None, side: str
) -> set[tuple[Hashable, int]]:
    result: set[tuple[Hashable, int]] = set()
    for i, span in enumerate(spans):
        doc_id, start, end = span[0], span[1], span[2]
        where = f"{side} span {i} of document {doc_id!r}"
        start, end = _check_offsets(start, end, where)
        if texts is None:
            result.update((doc_id, c) for c in range(start, end))
            continue
        if doc_id not in texts:
            raise EvaluationError(f"{where}: no text given for this document.")
        text = texts[doc_id]
        if end > len(text):
            raise EvaluationError(
                f"{where}: ends at {end}, after the text ({len(text)} chars)."
            )
        result.update((doc_id, c) for c in range(start, end) if not text[c].isspace())
    return result


def deid_char_scores(
    gold: Iterable[Sequence[Any]],
    pred: Iterable[Sequence[Any]],
    *,
    texts: Mapping[Hashable, str] | None = None,
) -> Scores:
    """Character-level variant of :func:`deid_token_scores` (labels ignored).

    Each character inside a gold span is a gold PHI character, likewise for
    predictions. With ``texts`` (document id -> text), whitespace characters
    are not counted: a space between two separately predicted names leaks
    nothing. ``leak_rate`` is the share of gold PHI characters no prediction
    covers.
    """
    return _deid_result(
        _phi_chars(gold, texts, "Gold"), _phi_chars(pred, texts, "Predicted"), "chars"
    )


# -- nested / discontinuous exact match ---------------------------------------


def _fragment_set(items: Iterable[Sequence[Any]], side: str) -> set[FragmentItem]:
    result: set[FragmentItem] = set()
    for i, item in enumerate(items):
        if len(item) != 3:
            raise EvaluationError(
                f"{side} item {i}: expected (doc_id, label, fragments), got {len(item)} fields."
            )
        doc_id, label, fragments = item
        where = f"{side} item {i} of document {doc_id!r}"
        checked = frozenset(_check_offsets(s, e, where) for s, e in fragments)
        if not checked:
            raise EvaluationError(
                f"{where}: an annotation needs at least one fragment."
            )
        result.add((doc_id, str(label), checked))
    return result


def fragment_match_prf(
    gold: Iterable[FragmentItem],
    pred: Iterable[FragmentItem],
    *,
    labels: Iterable[str] | None = None,
) -> Scores:
    """Exact match of (possibly nested or discontinuous) annotations.

    gold, pred: ``(doc_id, label, fragments)``, fragments an iterable of
        ``(start, end)`` compared as a set (their order does not matter;
        adjacent fragments are *not* merged). Duplicates count once, and nested
        annotations are simply separate items.
    RETURNS: micro/per-label ``p``, ``r``, ``f`` and counts over all items, plus
        ``discontinuous``: the same scores restricted to items with more than
        one fragment, on either side (a match needs equal fragment sets, so a
        discontinuous gold item can only be matched by a discontinuous
        prediction).
    """
    label_of: Callable[[FragmentItem], str] = lambda item: item[1]
    gold_set, ignored_gold = _filter_labels(
        _fragment_set(gold, "Gold"), label_of, labels
    )
    pred_set, ignored_pred = _filter_labels(
        _fragment_set(pred, "Predicted"), label_of, labels
    )
    result = _set_scores(gold_set, pred_set, label_of, labels)
    result["discontinuous"] = _set_scores(
        {item for item in gold_set if len(item[2]) > 1},
        {item for item in pred_set if len(item[2]) > 1},
        label_of,
        labels,
    )
    if labels is not None:
        result["ignored_gold"] = ignored_gold
        result["ignored_pred"] = ignored_pred
    return result


# -- linking --------------------------------------------------------------------


def accuracy_at_k(
    gold_codes: Sequence[str | Iterable[str]],
    ranked_predictions: Sequence[Sequence[str]],
    ks: Sequence[int] = (1, 5),
) -> Scores:
    """Linking accuracy@k: share of mentions whose top-k candidates contain a gold code.

    gold_codes: per mention, one code or a set of acceptable codes. A composite
        code (``"C1+C2"``) is one string, compared whole. Surrounding whitespace
        is stripped on both sides; nothing else is normalized.
    ranked_predictions: per mention, candidate codes best first, evaluated as
        given (duplicates are not removed).
    RETURNS: ``n`` (mentions), ``acc@k`` for each k (0.0 when ``n`` is 0) and
        ``n_without_gold`` (mentions with an empty gold set: always wrong).
    """
    if len(gold_codes) != len(ranked_predictions):
        raise EvaluationError(
            f"Linking needs one candidate list per gold mention: got {len(gold_codes)} "
            f"gold and {len(ranked_predictions)} predicted."
        )
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise EvaluationError(f"ks must be positive integers, got {list(ks)!r}.")
    hits = {k: 0 for k in ks}
    without_gold = 0
    for gold, ranked in zip(gold_codes, ranked_predictions):
        acceptable = (
            {gold.strip()} if isinstance(gold, str) else {code.strip() for code in gold}
        )
        acceptable.discard("")
        if not acceptable:
            without_gold += 1
            continue
        if isinstance(ranked, str):
            ranked = [ranked]
        for rank, code in enumerate(ranked):
            if code is not None and code.strip() in acceptable:
                for k in ks:
                    if rank < k:
                        hits[k] += 1
                break
    n = len(gold_codes)
    result: Scores = {"n": n, "n_without_gold": without_gold}
    for k in ks:
        result[f"acc@{k}"] = hits[k] / n if n else 0.0
    return result


# -- in-domain vs out-of-domain --------------------------------------------------


def domain_gap(id_scores: Mapping[str, Any], ood_scores: Mapping[str, Any]) -> Scores:
    """Per-class and micro Δ = in-domain − out-of-domain for ``p``, ``r`` and ``f``.

    id_scores, ood_scores: results of one of the P/R/F functions above (keys
        ``p``, ``r``, ``f`` and optionally ``per_type``). A positive Δ means the
        model does worse out of domain.
    RETURNS: ``p``, ``r``, ``f`` (micro Δ), ``per_type`` for the labels present
        on both sides, and ``labels_only_id`` / ``labels_only_ood`` for the
        others (their Δ would compare a score with an absent class).
    """
    result: Scores = {key: id_scores[key] - ood_scores[key] for key in ("p", "r", "f")}
    id_types = id_scores.get("per_type", {})
    ood_types = ood_scores.get("per_type", {})
    result["per_type"] = {
        label: {
            key: id_types[label][key] - ood_types[label][key] for key in ("p", "r", "f")
        }
        for label in sorted(set(id_types) & set(ood_types))
    }
    result["labels_only_id"] = sorted(set(id_types) - set(ood_types))
    result["labels_only_ood"] = sorted(set(ood_types) - set(id_types))
    return result
