"""PHI phrases over token sequences: a gazetteer learnt from annotated documents and in-document propagation; spaCy-free.

Two recall aids for a statistical PHI detector, both working on the token
strings of a document (so word boundaries come from the tokenizer):

* *gazetteer*: phrases annotated in training documents (institutions,
  hospitals, places…) found again in new text. :class:`GazetteerBuilder`
  keeps a phrase only when, in the training documents, it was annotated at
  least ``min_ratio`` of the times it occurred outside other annotations
  (``"Madrid"`` inside an annotated hospital name counts neither way), so
  phrases that are often ordinary words are left out;
* *propagation*: a phrase the detector tagged once in a document is tagged
  wherever else it occurs in that document (a name in the header and again
  in the signature).

Both only *fill gaps*: :func:`fill_gaps` adds a candidate when it overlaps no
existing span and no candidate already added (longest first, then earliest).
Phrases are tuples of token strings (case-sensitive); nothing here logs or
raises with their text.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from .errors import DeidError

__all__ = [
    "GazetteerBuilder",
    "Phrase",
    "TokenSpan",
    "fill_gaps",
    "find_phrases",
    "propagation_phrases",
]

#: A phrase: its token strings.
Phrase = tuple[str, ...]
#: ``(start_token, end_token, label)``, end exclusive.
TokenSpan = tuple[int, int, str]


def find_phrases(tokens: Sequence[str], phrases: Mapping[Phrase, str]) -> list[TokenSpan]:
    """Every occurrence of a phrase of ``phrases`` in ``tokens`` (overlapping ones included), in text order."""
    if not phrases:
        return []
    lengths = sorted({len(p) for p in phrases if p}, reverse=True)
    firsts = {p[0] for p in phrases if p}
    found: list[TokenSpan] = []
    n = len(tokens)
    for i, token in enumerate(tokens):
        if token not in firsts:
            continue
        for length in lengths:
            if i + length > n:
                continue
            label = phrases.get(tuple(tokens[i : i + length]))
            if label is not None:
                found.append((i, i + length, label))
    return found


def fill_gaps(existing: Iterable[tuple[int, int]], candidates: Iterable[TokenSpan]) -> list[TokenSpan]:
    """Candidates that overlap neither ``existing`` spans nor each other: longest first, then earliest, then label."""
    taken = sorted((s, e) for s, e in existing if e > s)
    added: list[TokenSpan] = []
    for start, end, label in sorted(candidates, key=lambda c: (c[0] - c[1], c[0], c[2])):
        if end <= start:
            continue
        if any(s < end and start < e for s, e in taken):
            continue
        taken.append((start, end))
        added.append((start, end, label))
    return sorted(added)


def propagation_phrases(
    tokens: Sequence[str],
    spans: Iterable[TokenSpan],
    *,
    labels: Iterable[str] | None = None,
    min_chars: int = 3,
) -> dict[Phrase, str]:
    """The phrases of a document's own ``spans`` to look for again (first label seen wins).

    ``labels``: only spans with these labels (``None``: all). ``min_chars``:
    phrases shorter than this (token characters, spaces not counted) are left
    out, so a lone initial is not spread over the document.
    """
    wanted = None if labels is None else set(labels)
    phrases: dict[Phrase, str] = {}
    for start, end, label in spans:
        if wanted is not None and label not in wanted:
            continue
        phrase = tuple(tokens[start:end])
        if phrase and sum(len(t) for t in phrase) >= min_chars:
            phrases.setdefault(phrase, label)
    return phrases


class GazetteerBuilder:
    """Count, over annotated documents, how often each annotated phrase is annotated where it occurs."""

    def __init__(self, *, labels: Iterable[str] | None = None, min_chars: int = 3, max_tokens: int = 12) -> None:
        if min_chars < 1 or max_tokens < 1:
            raise DeidError("gazetteer: min_chars and max_tokens must be at least 1")
        self.labels = None if labels is None else frozenset(labels)
        self.min_chars = min_chars
        self.max_tokens = max_tokens
        self._label_counts: dict[Phrase, Counter[str]] = defaultdict(Counter)
        self._documents: list[tuple[tuple[str, ...], tuple[tuple[int, int], ...]]] = []

    def add(self, tokens: Sequence[str], spans: Iterable[TokenSpan]) -> None:
        """Add one annotated document: its token strings and gold ``(start, end, label)`` token spans."""
        tokens = tuple(tokens)
        gold = []
        for start, end, label in spans:
            if not 0 <= start < end <= len(tokens):
                raise DeidError(f"gazetteer: span {start}-{end} outside the document ({len(tokens)} tokens)")
            gold.append((start, end))
            if self.labels is not None and label not in self.labels:
                continue
            phrase = tokens[start:end]
            if len(phrase) <= self.max_tokens and sum(len(t) for t in phrase) >= self.min_chars:
                self._label_counts[phrase][label] += 1
        self._documents.append((tokens, tuple(gold)))

    def build(self, *, min_ratio: float = 0.5, min_count: int = 1) -> dict[Phrase, str]:
        """Phrases annotated in at least ``min_ratio`` of their free occurrences and ``min_count`` times.

        A free occurrence is one that is not inside or across another gold
        span (an occurrence that *is* a gold span counts as annotated,
        whatever its label). A phrase's label is its most frequent one
        (ties: alphabetical).
        """
        if not 0.0 <= min_ratio <= 1.0:
            raise DeidError("gazetteer: min_ratio must be between 0 and 1")
        candidates = {p: "" for p in self._label_counts}
        annotated: Counter[Phrase] = Counter()
        free: Counter[Phrase] = Counter()
        for tokens, gold in self._documents:
            gold_set = set(gold)
            for start, end, _ in find_phrases(tokens, candidates):
                phrase = tokens[start:end]
                if (start, end) in gold_set:
                    annotated[phrase] += 1
                elif not any(s < end and start < e for s, e in gold):
                    free[phrase] += 1
        result: dict[Phrase, str] = {}
        for phrase, labels in self._label_counts.items():
            n = annotated[phrase]
            if n < min_count or n < min_ratio * (n + free[phrase]):
                continue
            result[phrase] = min(labels.items(), key=lambda item: (-item[1], item[0]))[0]
        return result
