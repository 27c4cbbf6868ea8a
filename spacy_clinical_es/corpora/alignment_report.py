"""How many gold spans a tokenizer cuts: the misalignment report.

A gold span is *aligned* when it starts where a token starts and ends where a
token ends; only then can it become an entity of a spaCy ``Doc`` (otherwise
``Doc.char_span(..., alignment_mode="strict")`` returns ``None`` and the
annotation is lost or must be stretched). :func:`misalignment_stats` counts
misaligned spans per corpus and per label, with a few example locations
(document id and offsets, never the text: it may be PHI), and the token
density (word tokens per 1,000 characters) that shows whether a tokenizer
buys alignment by over-splitting.

Discontinuous annotations are counted per fragment: each fragment is a span
whose two boundaries the tokenizer must respect, so callers pass every
fragment as its own ``(start, end, label)``.

The module is spaCy-free: the tokenizer is anything that maps a text to
tokens, e.g. a ``Language`` (its ``make_doc`` is used, no pipeline component
runs), a spaCy ``Tokenizer``, or a function returning ``(start, end)`` pairs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

SpanTuple = tuple[int, int, str]
# (corpus, text, spans) or (corpus, text, spans, doc_id); a runtime alias, so
# Union (Python 3.9 has no `X | Y` between types).
AlignmentItem = Union[
    tuple[str, str, Sequence[SpanTuple]],
    tuple[str, str, Sequence[SpanTuple], str],
]

# Why a span is misaligned, in the order they are tested.
REASON_INVALID = "invalid"  # empty, reversed or outside the text
REASON_WHITESPACE = (
    "whitespace_edge"  # starts or ends with whitespace: no word tokenizer can align it
)
REASON_START = "start"  # only the start falls inside a token
REASON_END = "end"  # only the end falls inside a token
REASON_BOTH = "both"
REASONS = (REASON_INVALID, REASON_WHITESPACE, REASON_START, REASON_END, REASON_BOTH)

DEFAULT_MAX_EXAMPLES = 3


def _get_tokenize(nlp_or_tokenizer: Any) -> Callable[[str], Iterable[Any]]:
    """Return a function text -> tokens, preferring ``make_doc`` (no pipes)."""
    make_doc = getattr(nlp_or_tokenizer, "make_doc", None)
    if callable(make_doc):
        return make_doc
    if callable(nlp_or_tokenizer):
        return nlp_or_tokenizer
    raise TypeError(
        "misalignment_stats needs a spaCy Language, a Tokenizer or a function text -> tokens; "
        f"got {type(nlp_or_tokenizer).__name__}"
    )


def token_boundaries(
    tokens: Iterable[Any], text: str
) -> tuple[set[int], set[int], int]:
    """Return (token starts, token ends, number of non-whitespace tokens).

    A token is a spaCy ``Token`` (``idx`` and ``text``) or a ``(start, end)``
    pair. Whitespace tokens (spaCy's extra spaces and newlines) are boundaries
    but not counted as words.
    """
    starts: set[int] = set()
    ends: set[int] = set()
    n_words = 0
    for token in tokens:
        if isinstance(token, tuple):
            start, end = int(token[0]), int(token[1])
        else:
            start = token.idx
            end = start + len(token.text)
        starts.add(start)
        ends.add(end)
        if not text[start:end].isspace():
            n_words += 1
    return starts, ends, n_words


def span_misalignment(
    start: int, end: int, text: str, starts: set[int], ends: set[int]
) -> str | None:
    """Return ``None`` for an aligned span, else the reason (see ``REASONS``)."""
    if not (0 <= start < end <= len(text)):
        return REASON_INVALID
    start_ok = start in starts
    end_ok = end in ends
    if start_ok and end_ok:
        return None
    if text[start].isspace() or text[end - 1].isspace():
        return REASON_WHITESPACE
    if end_ok:
        return REASON_START
    if start_ok:
        return REASON_END
    return REASON_BOTH


def _new_bucket() -> dict[str, Any]:
    return {"spans": 0, "misaligned": 0, "reasons": Counter(), "examples": []}


def _finish_bucket(bucket: dict[str, Any]) -> dict[str, Any]:
    spans = bucket["spans"]
    bucket["rate"] = bucket["misaligned"] / spans if spans else 0.0
    bucket["reasons"] = {
        r: bucket["reasons"][r] for r in REASONS if bucket["reasons"][r]
    }
    return bucket


def misalignment_stats(
    nlp_or_tokenizer: Any,
    items: Iterable[AlignmentItem],
    *,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> dict[str, Any]:
    """Count gold spans that do not start and end on token boundaries.

    items: ``(corpus, text, [(start, end, label), ...])`` tuples, optionally
        with a fourth element, the document id used in examples (default
        ``#N``, the item's position within its corpus).
    RETURNS: ``{"corpora": {corpus: stats}, "total": stats}`` where ``stats``
        has ``docs``, ``chars``, ``tokens`` (non-whitespace tokens),
        ``tokens_per_1k_chars``, ``spans``, ``misaligned``, ``rate``,
        ``reasons`` (counts per reason), ``examples`` (``{"doc", "start",
        "end", "label", "reason"}``, at most ``max_examples``) and, per corpus,
        ``labels`` (label -> ``spans``, ``misaligned``, ``rate``, ``reasons``,
        ``examples``).
    """
    tokenize = _get_tokenize(nlp_or_tokenizer)
    corpora: dict[str, dict[str, Any]] = {}
    labels: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for item in items:
        corpus, text, spans = item[0], item[1], item[2]
        stats = corpora.get(corpus)
        if stats is None:
            stats = corpora[corpus] = {
                "docs": 0,
                "chars": 0,
                "tokens": 0,
                **_new_bucket(),
            }
        doc_id = str(item[3]) if len(item) > 3 else f"#{stats['docs']}"
        stats["docs"] += 1
        stats["chars"] += len(text)
        starts, ends, n_words = token_boundaries(tokenize(text), text)
        stats["tokens"] += n_words
        for start, end, label in spans:
            label_stats = labels[corpus].get(label)
            if label_stats is None:
                label_stats = labels[corpus][label] = _new_bucket()
            reason = span_misalignment(start, end, text, starts, ends)
            for bucket in (stats, label_stats):
                bucket["spans"] += 1
                if reason is not None:
                    bucket["misaligned"] += 1
                    bucket["reasons"][reason] += 1
                    if len(bucket["examples"]) < max_examples:
                        bucket["examples"].append(
                            {
                                "doc": doc_id,
                                "start": start,
                                "end": end,
                                "label": label,
                                "reason": reason,
                            }
                        )
    total: dict[str, Any] = {"docs": 0, "chars": 0, "tokens": 0, **_new_bucket()}
    for corpus, stats in corpora.items():
        for key in ("docs", "chars", "tokens", "spans", "misaligned"):
            total[key] += stats[key]
        total["reasons"].update(stats["reasons"])
        stats["labels"] = {
            label: _finish_bucket(labels[corpus][label])
            for label in sorted(labels[corpus])
        }
    for stats in list(corpora.values()) + [total]:
        stats["tokens_per_1k_chars"] = (
            1000.0 * stats["tokens"] / stats["chars"] if stats["chars"] else 0.0
        )
        _finish_bucket(stats)
    return {"corpora": corpora, "total": total}


def corpora_above(stats: dict[str, Any], max_rate: float) -> list[str]:
    """Return the corpora whose misalignment rate exceeds ``max_rate``."""
    return [name for name, s in stats["corpora"].items() if s["rate"] > max_rate]


def _pct(value: float) -> str:
    return f"{100.0 * value:.2f}%"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def format_misalignment_table(
    stats: dict[str, Any],
    baseline: dict[str, Any] | None = None,
    *,
    by_label: bool = True,
    name: str = "clinical",
    baseline_name: str = "blank es",
) -> str:
    """Render :func:`misalignment_stats` results as markdown tables.

    With ``baseline`` (the same items measured with another tokenizer) each
    row also shows the baseline's misaligned spans, rate and token density,
    and the change in tokens per 1,000 characters.
    """
    header = [
        "corpus",
        "docs",
        "spans",
        f"misaligned ({name})",
        f"rate ({name})",
        f"tok/1k chars ({name})",
    ]
    align = "lrrrrr"
    if baseline is not None:
        header += [
            f"misaligned ({baseline_name})",
            f"rate ({baseline_name})",
            f"tok/1k chars ({baseline_name})",
            "Δ tok/1k",
        ]
        align += "rrrr"
    rows = []
    names = list(stats["corpora"]) + ["total"]
    for corpus in names:
        s = stats["total"] if corpus == "total" else stats["corpora"][corpus]
        row = [
            f"**{corpus}**" if corpus == "total" else corpus,
            str(s["docs"]),
            str(s["spans"]),
            str(s["misaligned"]),
            _pct(s["rate"]),
            f"{s['tokens_per_1k_chars']:.1f}",
        ]
        if baseline is not None:
            b = (
                baseline["total"]
                if corpus == "total"
                else baseline["corpora"].get(corpus)
            )
            if b is None:
                row += ["-", "-", "-", "-"]
            else:
                change = (
                    s["tokens_per_1k_chars"] / b["tokens_per_1k_chars"] - 1.0
                    if b["tokens_per_1k_chars"]
                    else 0.0
                )
                row += [
                    str(b["misaligned"]),
                    _pct(b["rate"]),
                    f"{b['tokens_per_1k_chars']:.1f}",
                    f"{change:+.1%}",
                ]
        rows.append(row)
    out = [_md_table(header, rows, align)]
    if by_label:
        header = ["corpus", "label", "spans", f"misaligned ({name})", f"rate ({name})"]
        align = "llrrr"
        if baseline is not None:
            header += [f"misaligned ({baseline_name})", f"rate ({baseline_name})"]
            align += "rr"
        rows = []
        for corpus, s in stats["corpora"].items():
            b_labels = (
                baseline["corpora"].get(corpus, {}).get("labels", {})
                if baseline is not None
                else {}
            )
            for label, ls in s["labels"].items():
                row = [
                    corpus,
                    label,
                    str(ls["spans"]),
                    str(ls["misaligned"]),
                    _pct(ls["rate"]),
                ]
                if baseline is not None:
                    bl = b_labels.get(label)
                    row += (
                        [str(bl["misaligned"]), _pct(bl["rate"])] if bl else ["-", "-"]
                    )
                rows.append(row)
        out.append(_md_table(header, rows, align))
    return "\n\n".join(out)


def format_examples(stats: dict[str, Any]) -> str:
    """List example locations of misaligned spans (ids and offsets only)."""
    lines = []
    for corpus, s in stats["corpora"].items():
        for ex in s["examples"]:
            lines.append(
                f"{corpus}\t{ex['doc']}\t{ex['start']}-{ex['end']}\t{ex['label']}\t{ex['reason']}"
            )
    return "\n".join(lines)


def items_from_documents(
    documents: Iterable[Any],
    corpus: str,
    *,
    id_prefix: str = "",
    counts: Counter | None = None,
) -> Iterable[AlignmentItem]:
    """Turn :class:`~.annotations.Document` objects into alignment items.

    Every fragment of every annotation becomes one ``(start, end, label)``
    span (discontinuous annotations are counted per fragment); example ids are
    ``id_prefix + Document.id``. ``counts``, when
    given, receives ``annotations``, ``fragments``, ``discontinuous`` and
    ``no_offsets`` (annotations without any fragment, which cannot be checked).
    """
    for doc in documents:
        spans: list[SpanTuple] = []
        for ann in doc.annotations:
            if counts is not None:
                counts["annotations"] += 1
                counts["fragments"] += len(ann.fragments)
                counts["discontinuous"] += int(len(ann.fragments) > 1)
                counts["no_offsets"] += int(not ann.fragments)
            spans.extend((start, end, ann.label) for start, end in ann.fragments)
        yield (corpus, doc.text, spans, id_prefix + doc.id)
