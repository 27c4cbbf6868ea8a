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

A gazetteer learnt from notes is itself PHI, so what is *kept* (saved with a
pipeline) is a :class:`HashedPhrases` table: keyed hashes (HMAC-SHA256,
truncated to 128 bits, written with 16 consonants) of each phrase's normalized token sequence (Unicode
NFC, case kept, tokens joined by U+001F) and of its first token, with the
phrase's label and length. The key stays outside the table: without it the
table matches nothing and reveals no phrase; with it, a phrase can only be
confirmed by guessing it. Matching is the same as :func:`find_phrases` over
the plain phrases (tests check it).
"""
from __future__ import annotations

import hmac
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import DeidError

__all__ = [
    "DIGEST_ALPHABET",
    "DIGEST_BYTES",
    "GazetteerBuilder",
    "HashedPhrases",
    "Phrase",
    "TokenSpan",
    "fill_gaps",
    "find_phrases",
    "key_check",
    "phrase_digest",
    "propagation_phrases",
    "token_digest",
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


# -- keyed hashes: the form in which a gazetteer is kept --------------------------------

#: Bytes kept of each HMAC-SHA256 digest (128 bits: collisions are out of reach for any gazetteer).
DIGEST_BYTES = 16
_PHRASE_DOMAIN = b"spacy_clinical_es.phi_gazetteer.phrase\x00"
_FIRST_DOMAIN = b"spacy_clinical_es.phi_gazetteer.first\x00"
_CHECK_MESSAGE = b"spacy_clinical_es.phi_gazetteer.key-check"
_SEPARATOR = "\x1f"


def _key_bytes(key: bytes | str) -> bytes:
    value = key.encode("utf8") if isinstance(key, str) else bytes(key)
    if not value:
        raise DeidError("gazetteer: the hashing key is empty; give a non-empty secret")
    return value


def _normalized(tokens: Iterable[str]) -> bytes:
    return _SEPARATOR.join(unicodedata.normalize("NFC", t) for t in tokens).encode("utf8")


#: Digests are written with 16 consonants instead of hex digits, so that a saved table cannot match a numeric
#: ID (or any word with a vowel) by chance when a pipeline is scanned for training PHI (``audit-model``).
DIGEST_ALPHABET = "bcdfghjklmnpqrst"
_ENCODE = bytes.maketrans(b"0123456789abcdef", DIGEST_ALPHABET.encode("ascii"))


def _encode(digest: bytes) -> str:
    return digest.hex().encode("ascii").translate(_ENCODE).decode("ascii")


def phrase_digest(key: bytes | str, tokens: Sequence[str]) -> str:
    """Keyed hash of a phrase: HMAC-SHA256 of its NFC token sequence, truncated to :data:`DIGEST_BYTES`."""
    return _encode(hmac.digest(_key_bytes(key), _PHRASE_DOMAIN + _normalized(tokens), "sha256")[:DIGEST_BYTES])


def token_digest(key: bytes | str, token: str) -> str:
    """Keyed hash of a phrase's first token (another domain than :func:`phrase_digest`)."""
    return _encode(hmac.digest(_key_bytes(key), _FIRST_DOMAIN + _normalized((token,)), "sha256")[:DIGEST_BYTES])


def key_check(key: bytes | str) -> str:
    """A short keyed value saved with a table, so that a wrong key is detected (it reveals nothing of the key)."""
    return _encode(hmac.digest(_key_bytes(key), _CHECK_MESSAGE, "sha256")[:8])


class HashedPhrases:
    """A gazetteer kept as keyed hashes; :meth:`find` needs the key it was built with.

    Records (:meth:`records`, :meth:`add_records`) are ``{"label", "length",
    "first", "digest"}``: a label, a token count and two digests (first
    token, whole phrase), nothing of the phrase's text.
    """

    def __init__(self) -> None:
        # phrase digest -> (label, length, first-token digest)
        self._entries: dict[str, tuple[str, int, str]] = {}
        self._firsts: set[str] = set()
        self._lengths: list[int] = []

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of the phrases (sorted)."""
        return tuple(sorted({label for label, _, _ in self._entries.values()}))

    def _put(self, digest: str, label: str, length: int, first: str) -> None:
        self._entries[digest] = (label, length, first)
        self._firsts.add(first)
        if length not in self._lengths:
            self._lengths = sorted({*self._lengths, length}, reverse=True)

    def add(self, key: bytes | str, phrases: Mapping[Phrase, str]) -> None:
        """Hash ``phrases`` (token tuple -> label) with ``key`` and add them."""
        key = _key_bytes(key)
        for tokens, label in phrases.items():
            if tokens:
                self._put(phrase_digest(key, tokens), str(label), len(tokens), token_digest(key, tokens[0]))

    def label_of(self, key: bytes | str, tokens: Sequence[str]) -> str | None:
        """The label of the phrase ``tokens`` when the table holds it (hashed with ``key``), else ``None``."""
        if not tokens:
            return None
        entry = self._entries.get(phrase_digest(key, tokens))
        return entry[0] if entry is not None and entry[1] == len(tokens) else None

    def records(self) -> list[dict[str, Any]]:
        """The table as plain records, sorted by digest (no phrase text)."""
        return [
            {"label": label, "length": length, "first": first, "digest": digest}
            for digest, (label, length, first) in sorted(self._entries.items())
        ]

    def add_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Add what :meth:`records` wrote."""
        for i, record in enumerate(records):
            try:
                digest, first = _digest(record["digest"], i), _digest(record["first"], i)
                label, length = str(record["label"]), int(record["length"])
            except (KeyError, TypeError, ValueError) as err:
                raise DeidError(
                    f"gazetteer: record {i} is not a hashed phrase; expected 'label', 'length', 'first' and 'digest'"
                ) from err
            if length < 1 or not label:
                raise DeidError(f"gazetteer: record {i} has an empty label or a length below 1")
            self._put(digest, label, length, first)

    def find(self, key: bytes | str, tokens: Sequence[str]) -> list[TokenSpan]:
        """Every occurrence of a phrase of the table in ``tokens``, as :func:`find_phrases` finds them."""
        if not self._entries:
            return []
        key = _key_bytes(key)
        first_digests: dict[str, str] = {}
        found: list[TokenSpan] = []
        n = len(tokens)
        for i, token in enumerate(tokens):
            first = first_digests.get(token)
            if first is None:
                first = first_digests[token] = token_digest(key, token)
            if first not in self._firsts:
                continue
            for length in self._lengths:
                if i + length > n:
                    continue
                entry = self._entries.get(phrase_digest(key, tokens[i : i + length]))
                if entry is not None and entry[1] == length:
                    found.append((i, i + length, entry[0]))
        return found


def _digest(value: Any, index: int) -> str:
    text = str(value)
    if len(text) != 2 * DIGEST_BYTES or text.strip(DIGEST_ALPHABET):
        raise DeidError(f"gazetteer: record {index} holds a digest that this version did not write")
    return text
